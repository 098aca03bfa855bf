import SeawayKernel
import SeawayModel
import SeawayNetlink
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
    static func forEachPart<E: Error>(_ rulesets: [NFTablesRuleset], _ body: ([UInt8]) throws(E) -> Void) throws(E) {
        var replacing: [UInt8] = []
        for r in rulesets {
            let family = r.family == .ipv4 ? "ip" : "ip6"
            replacing.append(contentsOf: "add table \(family) \(r.table)\ndelete table \(family) \(r.table)\n".utf8)
        }
        try body(replacing)
        for r in rulesets { try r.forEachPart(body) }
    }

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

    /// Deletes both families' kube-proxy tables (nothing else of nftables is kube-proxy's),
    /// or another table of Seaway's.
    public func cleanup(table: String = NFTablesName.table) throws(DataplaneError) {
        let script = ["ip", "ip6"].map { "add table \($0) \(table)\ndelete table \($0) \(table)\n" }.joined()
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
        try send(over: socket, expectedBytes: script.count, text: { script }) { (compile: ([UInt8]) throws(NFTScriptError) -> Void) throws(NFTScriptError) in
            try compile(script)
        }
    }

    /// The transaction replacing the tables with `rulesets`, compiled part by part into one
    /// batch: neither the whole text nor its operations are ever held.
    static func send(_ rulesets: [NFTablesRuleset], over socket: NFTablesNetlink) throws(DataplaneError) -> Int {
        let bytes = rulesets.reduce(0) { $0 + $1.chains.reduce(0) { $0 + $1.ruleLines.bytes.count } }
        return try send(over: socket, expectedBytes: bytes, text: { transaction(rulesets) }) { (compile: ([UInt8]) throws(NFTScriptError) -> Void) throws(NFTScriptError) in
            try forEachPart(rulesets, compile)
        }
    }

    /// `parts` hands each piece of the script to the compiler in order; `text` makes the
    /// whole script again, only to quote the line of an operation the kernel refused.
    private static func send(over socket: NFTablesNetlink, expectedBytes: Int, text: () -> [UInt8],
                             parts: (([UInt8]) throws(NFTScriptError) -> Void) throws(NFTScriptError) -> Void) throws(DataplaneError) -> Int {
        // About one operation per 100 bytes of text: room reserved, not yet memory used.
        var batch = socket.makeBatch(expectedOperations: expectedBytes / 100)
        var script = NFTScript()
        do {
            try parts { (part: [UInt8]) throws(NFTScriptError) in try script.compile(part, into: &batch) }
        } catch {
            throw DataplaneError("\(error)")
        }
        let count = batch.count
        do {
            try socket.apply(batch) { "line \($0) of the transaction: \(NFTScript.line(Int($0), of: text()))" }
        } catch {
            throw DataplaneError("nftables transaction refused, nothing changed", error)
        }
        return count
    }
}
