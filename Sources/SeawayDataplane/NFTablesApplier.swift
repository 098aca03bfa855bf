import SeawayKernel
import SeawayModel
import SeawayRender

/// nftables mode on the kernel. For now through `nft -f`: the rendered text, each family's
/// `kube-proxy` table replaced in the same transaction (`add table` + `delete table` first,
/// so it works whether or not the table exists), so the kernel takes all of it or none.
/// Sending the same ruleset as one libnftnl batch, and incremental syncs, are the next step
/// (the dataplane issue); `render` output and what this applies are the same text.
public struct NFTablesApplier {
    let tools: NetfilterTools

    public init(environment: [String: String]) { tools = NetfilterTools(environment: environment) }

    /// The one `nft -f` transaction that replaces the tables with `rulesets`.
    public static func transaction(_ rulesets: [NFTablesRuleset]) -> [UInt8] {
        var out: [UInt8] = []
        for r in rulesets {
            let family = r.family == .ipv4 ? "ip" : "ip6"
            out.append(contentsOf: "add table \(family) \(NFTablesName.table)\ndelete table \(family) \(NFTablesName.table)\n".utf8)
        }
        for r in rulesets { out.append(contentsOf: r.bytes) }
        return out
    }

    public func apply(_ rulesets: [NFTablesRuleset]) throws(DataplaneError) {
        try tools.run("nft", ["-f", "-"], input: Self.transaction(rulesets))
    }

    /// Deletes both families' kube-proxy tables (nothing else of nftables is kube-proxy's).
    public func cleanup() throws(DataplaneError) {
        let script = ["ip", "ip6"].map { "add table \($0) \(NFTablesName.table)\ndelete table \($0) \(NFTablesName.table)\n" }.joined()
        try tools.run("nft", ["-f", "-"], input: Array(script.utf8))
    }
}
