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
        /// The chains given one by one: kube-proxy's fixed chains (or, once `chains` is set,
        /// all of them).
        private var listed: [Chain]
        /// The service ports' chains, one block per port, after the listed ones.
        private var blocks: [ChainBlock]
        /// Chains a partial sync removes (written `:CHAIN - [0:0]` and `-X CHAIN`).
        public internal(set) var deletedChains: [String] = []

        init(name: String, chains: [Chain], serviceChains: [ChainBlock] = []) {
            self.name = name
            listed = chains
            blocks = serviceChains
        }

        /// Chains in output order: kube-proxy's fixed chains, then each service port's
        /// chains in the order kube-proxy creates them, service ports sorted by name. Each
        /// read builds the values; writers of the payload use the blocks as they are.
        public internal(set) var chains: [Chain] {
            get {
                var out = listed
                out.reserveCapacity(chainCount)
                for b in blocks { for i in b.indices { out.append(Chain(name: b.name(at: i), rules: b.rules(at: i))) } }
                return out
            }
            set {
                listed = newValue
                blocks = []
            }
        }

        public var chainCount: Int { blocks.reduce(listed.count) { $0 + $1.count } }

        public var chainNames: [String] { listed.map(\.name) + blocks.flatMap(\.allNames) }

        public func chain(named name: String) -> Chain? {
            if let c = listed.first(where: { $0.name == name }) { return c }
            let bytes = Array(name.utf8)
            for b in blocks {
                if let i = b.indices.first(where: { b.nameBytes(at: $0).elementsEqual(bytes) }) {
                    return Chain(name: name, rules: b.rules(at: i))
                }
            }
            return nil
        }

        /// The same table keeping only the listed chains `keep` accepts; the service blocks
        /// stay whole.
        func keepingListed(where keep: (Chain) -> Bool) -> Table {
            var out = self
            out.listed = listed.filter(keep)
            return out
        }

        func withoutListed() -> Table {
            var out = self
            out.listed = []
            return out
        }

        func withoutBlocks() -> Table {
            var out = self
            out.blocks = []
            return out
        }

        /// `:CHAIN - [0:0]` lines, rules, `-X` lines and COMMIT, as pieces to join.
        func appendPieces(to pieces: inout [TextPiece]) {
            pieces.append(.text("*\(name)\n"))
            for chain in listed { pieces.append(.wrapped(":", chain.name, " - [0:0]\n")) }
            for b in blocks { pieces.append(.declarations(":", b, " - [0:0]\n")) }
            for name in deletedChains { pieces.append(.wrapped(":", name, " - [0:0]\n")) }
            for chain in listed where !chain.rules.isEmpty { pieces.append(.block(chain.rules.bytes)) }
            for b in blocks where !b.rules.isEmpty { pieces.append(.rules(b)) }
            for name in deletedChains { pieces.append(.wrapped("-X ", name, "\n")) }
            pieces.append(.text("COMMIT\n"))
        }

        var pieceCount: Int { 2 * listed.count + 2 * blocks.count + 2 * deletedChains.count + 2 }

        public static func == (l: Table, r: Table) -> Bool {
            l.name == r.name && l.deletedChains == r.deletedChains && l.chains == r.chains
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(name)
            hasher.combine(chains)
            hasher.combine(deletedChains)
        }
    }

    public var family: IPFamily
    public var filter: Table
    public var nat: Table

    public var tables: [Table] { [filter, nat] }

    /// The payload bytes: `*filter`, chain lines, rules, `COMMIT`, then the same for `*nat`.
    public var bytes: [UInt8] {
        var pieces: [TextPiece] = []
        pieces.reserveCapacity(filter.pieceCount + nat.pieceCount)
        filter.appendPieces(to: &pieces)
        nat.appendPieces(to: &pieces)
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
        out.filter = filter.withoutListed().withoutBlocks()
        out.nat = nat.keepingListed { IPTablesRuleset.isServiceChain($0.name) }
        return out
    }

    /// The fixed chains (all but the per-service ones) with their rules, keyed `table/CHAIN`.
    public var fixedChains: [String: LineBlock] {
        var out: [String: LineBlock] = [:]
        for table in tables {
            for c in table.withoutBlocks().chains where !IPTablesRuleset.isServiceChain(c.name) {
                out[table.name + "/" + c.name] = c.rules
            }
        }
        return out
    }

    /// This payload without the chains that `written` (keyed `table/CHAIN`, as `fixedChains`)
    /// says the kernel already holds exactly: a `--noflush` restore leaves chains it does not
    /// name alone, and iptables-nft's cost is per chain and rule it is given.
    public func omitting(written: [String: LineBlock]) -> IPTablesRuleset {
        // `written` holds no service chains, so the service blocks are always kept.
        var out = self
        out.filter = filter.keepingListed { written["filter/" + $0.name] != $0.rules }
        out.nat = nat.keepingListed { written["nat/" + $0.name] != $0.rules }
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
