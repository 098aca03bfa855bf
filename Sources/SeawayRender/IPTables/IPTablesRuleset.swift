import SeawayModel

/// An iptables-restore payload for one IP family: the `filter` and `nat` tables, each a list
/// of chains with their rules. `text` is exactly what `iptables-restore --noflush` reads.
public struct IPTablesRuleset: Sendable, Hashable {
    public struct Chain: Sendable, Hashable {
        public let name: String
        /// Rule lines (`-A CHAIN ...`) in match order.
        public internal(set) var rules: LineBlock

        public init(name: String, rules: LineBlock = LineBlock()) {
            self.name = name
            self.rules = rules
        }
    }

    public struct Table: Sendable, Hashable {
        public let name: String
        /// Chains in output order: kube-proxy's fixed chains, then each service port's
        /// chains in the order kube-proxy creates them, service ports sorted by name.
        public internal(set) var chains: [Chain]
        /// Chains a partial sync removes (written `:CHAIN - [0:0]` and `-X CHAIN`).
        public internal(set) var deletedChains: [String] = []

        public func chain(named name: String) -> Chain? { chains.first { $0.name == name } }
    }

    public var family: IPFamily
    public var filter: Table
    public var nat: Table

    public var tables: [Table] { [filter, nat] }

    /// The payload bytes: `*filter`, chain lines, rules, `COMMIT`, then the same for `*nat`.
    public var bytes: [UInt8] {
        var pieces: [TextPiece] = []
        pieces.reserveCapacity(tables.reduce(0) { $0 + 2 * $1.chains.count + 2 * $1.deletedChains.count + 2 })
        for table in tables {
            pieces.append(.text("*\(table.name)\n"))
            for chain in table.chains { pieces.append(.wrapped(":", chain.name, " - [0:0]\n")) }
            for name in table.deletedChains { pieces.append(.wrapped(":", name, " - [0:0]\n")) }
            for chain in table.chains where !chain.rules.isEmpty { pieces.append(.block(chain.rules.bytes)) }
            for name in table.deletedChains { pieces.append(.wrapped("-X ", name, "\n")) }
            pieces.append(.text("COMMIT\n"))
        }
        return TextPiece.join(pieces)
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    static func isServiceChain(_ name: String) -> Bool {
        ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"].contains { name.hasPrefix($0) }
    }

    /// Only the per-service chains (KUBE-SVC-, KUBE-SVL-, KUBE-EXT-, KUBE-FW-, KUBE-SEP-) and
    /// the deletions: what a change itself rewrites, without the top-level chains a partial
    /// sync also writes (the benchmarks' anchor for the partial restore).
    public var serviceChainsOnly: IPTablesRuleset {
        var out = self
        out.filter.chains = []
        out.nat.chains = nat.chains.filter { IPTablesRuleset.isServiceChain($0.name) }
        return out
    }

    /// The fixed chains (all but the per-service ones) with their rules, keyed `table/CHAIN`.
    public var fixedChains: [String: LineBlock] {
        var out: [String: LineBlock] = [:]
        for table in tables {
            for c in table.chains where !IPTablesRuleset.isServiceChain(c.name) { out[table.name + "/" + c.name] = c.rules }
        }
        return out
    }

    /// This payload without the chains that `written` (keyed `table/CHAIN`, as `fixedChains`)
    /// says the kernel already holds exactly: a `--noflush` restore leaves chains it does not
    /// name alone, and iptables-nft's cost is per chain and rule it is given.
    public func omitting(written: [String: LineBlock]) -> IPTablesRuleset {
        var out = self
        out.filter.chains = filter.chains.filter { written["filter/" + $0.name] != $0.rules }
        out.nat.chains = nat.chains.filter { written["nat/" + $0.name] != $0.rules }
        return out
    }

    /// The same ruleset in the order kube-proxy's own tests compare in (KUBE-NODEPORTS,
    /// KUBE-SERVICES, then every other chain by name): close to `iptables-save`, for diffing
    /// against a live node.
    public func sortedCanonically() -> IPTablesRuleset {
        func sort(_ t: Table) -> Table {
            let first = [IPTablesChain.nodePorts, IPTablesChain.services]
            var out = t
            out.chains = first.compactMap { t.chain(named: $0) }
                + t.chains.filter { !first.contains($0.name) }.sorted { $0.name < $1.name }
            return out
        }
        return IPTablesRuleset(family: family, filter: sort(filter), nat: sort(nat))
    }
}
