import SeawayKernel
import SeawayModel
import SeawayNetlink
import SeawayProxyCore
import SeawayRender

/// nftables mode on the kernel: the rendered text, each family's `kube-proxy` table replaced
/// in the same transaction (`add table` + `delete table` first, so it works whether or not
/// the table exists), sent as one netlink batch so the kernel takes all of it or none.
/// `render` output and what this applies are the same text; NFTScript carries it to netlink.
public struct NFTablesApplier {
    public enum Transport: String, Sendable, CaseIterable {
        /// One libnftnl batch on an nfnetlink socket.
        case netlink
        /// The same text through `nft -f` (what kube-proxy does; kept to compare against).
        case nft
    }

    let tools: NetfilterTools
    let transport: Transport

    public init(environment: [String: String], transport: Transport = .netlink) {
        tools = NetfilterTools(environment: environment)
        self.transport = transport
    }

    /// The one `nft -f` transaction that replaces the tables with `rulesets`.
    public static func transaction(_ rulesets: [NFTablesRuleset]) -> [UInt8] {
        var out: [UInt8] = []
        forEachPart(rulesets) { out.append(contentsOf: $0) }
        return out
    }

    /// That transaction in parts, in order (each ruleset's parts after the replacing lines).
    /// Shard tables the rulesets do not have are deleted with the rest, so a node that had
    /// more of them (or any, before `--nftables-shards 1`) keeps none that still dispatch.
    static func forEachPart(_ rulesets: [NFTablesRuleset], _ body: ([UInt8]) -> Void) {
        var replacing: [UInt8] = []
        for r in rulesets {
            let family = r.family == .ipv4 ? "ip" : "ip6"
            replacing.append(contentsOf: "add table \(family) \(r.table)\ndelete table \(family) \(r.table)\n".utf8)
        }
        for family in Set(rulesets.map(\.family)).sorted() {
            let given = Set(rulesets.filter { $0.family == family }.map(\.table))
            let nft = family == .ipv4 ? "ip" : "ip6"
            for table in shardTables where !given.contains(table) {
                replacing.append(contentsOf: "add table \(nft) \(table)\ndelete table \(nft) \(table)\n".utf8)
            }
        }
        body(replacing)
        for r in rulesets { r.forEachPart(body) }
    }

    /// Every shard table `--nftables-shards` can make.
    static let shardTables = (0..<ProxyOptions.maxNFTablesShards).map(NFTablesName.shardTable)

    public func apply(_ rulesets: [NFTablesRuleset]) throws(DataplaneError) {
        switch transport {
        case .nft:
            try send(Self.transaction(rulesets))
        case .netlink:
            let socket: NFTablesNetlink
            do { socket = try NFTablesNetlink() } catch { throw DataplaneError("nftables transaction refused, nothing changed", error) }
            _ = try Self.send(rulesets, over: socket)
        }
    }

    /// Deletes both families' kube-proxy tables (nothing else of nftables is kube-proxy's)
    /// and Seaway's shard tables, or another table of Seaway's.
    public func cleanup(table: String = NFTablesName.table) throws(DataplaneError) {
        let tables = table == NFTablesName.table ? [table] + Self.shardTables : [table]
        let script = ["ip", "ip6"].flatMap { family in tables.map { "add table \(family) \($0)\ndelete table \(family) \($0)\n" } }.joined()
        try send(Array(script.utf8))
    }

    /// Sends an `nft -f` script as one transaction.
    public func send(_ script: [UInt8]) throws(DataplaneError) {
        switch transport {
        case .nft:
            try tools.run("nft", ["-f", "-"], input: script)
        case .netlink:
            let socket: NFTablesNetlink
            do { socket = try NFTablesNetlink() } catch { throw DataplaneError("nftables transaction refused, nothing changed", error) }
            _ = try Self.send(script, over: socket)
        }
    }

    /// Compiles `script` straight into one netlink batch and sends it: the operations count.
    /// A line the compiler refuses fails before anything is sent; an operation the kernel
    /// refuses fails the whole batch, and the error quotes the script line it came from.
    static func send(_ script: [UInt8], over socket: NFTablesNetlink) throws(DataplaneError) -> Int {
        try send(parts: [script], over: socket)
    }

    /// The transaction replacing the tables with `rulesets`, compiled part by part into one
    /// batch (the parts are the ruleset's own arrays): neither the whole text nor its
    /// operations are ever held.
    static func send(_ rulesets: [NFTablesRuleset], over socket: NFTablesNetlink) throws(DataplaneError) -> Int {
        var parts: [[UInt8]] = []
        forEachPart(rulesets) { parts.append($0) }
        return try send(parts: parts, over: socket)
    }

    /// The script `parts` make in order, compiled into one batch and sent.
    private static func send(parts: [[UInt8]], over socket: NFTablesNetlink) throws(DataplaneError) -> Int {
        // About one operation per 100 bytes of text: room reserved, not yet memory used.
        var batch = socket.makeBatch(expectedOperations: parts.reduce(0) { $0 + $1.count } / 100)
        var script = NFTScript()
        do {
            for part in parts { try script.compile(part, into: &batch) }
        } catch {
            throw DataplaneError("\(error)")
        }
        let count = batch.count
        do {
            // The whole text is made again only to quote the refused operation's line.
            try socket.apply(batch) { "line \($0) of the transaction: \(NFTScript.line(Int($0), of: Array(parts.joined())))" }
        } catch {
            throw DataplaneError("nftables transaction refused, nothing changed", error)
        }
        return count
    }
}
