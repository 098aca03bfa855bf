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
        /// kube-proxy's fixed chains, then the service ports' blocks.
        fileprivate var storage: ChainList<Chain>
        /// Chains a partial sync removes (written `:CHAIN - [0:0]` and `-X CHAIN`).
        public internal(set) var deletedChains: [String] = []

        init(name: String, chains: [Chain], serviceChains: [ChainBlock] = []) {
            self.name = name
            storage = ChainList(listed: chains, blocks: serviceChains)
        }

        /// Chains in output order: kube-proxy's fixed chains, then each service port's
        /// chains in the order kube-proxy creates them, service ports sorted by name. Each
        /// read builds the values; writers of the payload use the blocks as they are.
        public internal(set) var chains: [Chain] {
            get { storage.all { Chain(name: $0, rules: $1) } }
            set { storage = ChainList(listed: newValue) }
        }

        public var chainCount: Int { storage.count }

        public var chainNames: [String] { storage.listed.map(\.name) + storage.names }

        public func chain(named name: String) -> Chain? {
            if let c = storage.listed.first(where: { $0.name == name }) { return c }
            let bytes = Array(name.utf8)
            for b in storage.blocks {
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
            out.storage.listed = storage.listed.filter(keep)
            return out
        }

        /// `:CHAIN - [0:0]` lines, rules, `-X` lines and COMMIT, as pieces to join.
        func appendPieces(to pieces: inout TextPieces) {
            pieces.append("*\(name)\n")
            for chain in storage.listed { pieces.appendWrapped(":", chain.name, " - [0:0]\n") }
            pieces.appendDeclarations(":", storage.blocks, " - [0:0]\n")
            for name in deletedChains { pieces.appendWrapped(":", name, " - [0:0]\n") }
            for chain in storage.listed { pieces.append(bytes: chain.rules.bytes) }
            pieces.appendRules(storage.blocks)
            for name in deletedChains { pieces.appendWrapped("-X ", name, "\n") }
            pieces.append("COMMIT\n")
        }

        var pieceCount: Int { 2 * storage.listed.count + 2 * storage.blocks.count + 2 * deletedChains.count + 2 }

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
    public var bytes: [UInt8] { pieces.joined }

    /// The payload in order, a chunk at a time, without ever holding all of it (see
    /// `TextPieces.forEachChunk`).
    public func forEachChunk<E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> Void) throws(E) {
        try pieces.forEachChunk(body)
    }

    private var pieces: TextPieces {
        var pieces = TextPieces(reservingCapacity: filter.pieceCount + nat.pieceCount)
        filter.appendPieces(to: &pieces)
        nat.appendPieces(to: &pieces)
        return pieces
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
        out.nat = nat.keepingListed { IPTablesRuleset.isServiceChain($0.name) }
        return out
    }

    /// The fixed chains (all but the per-service ones) with their rules, keyed `table/CHAIN`.
    public var fixedChains: [String: LineBlock] {
        var out: [String: LineBlock] = [:]
        for table in tables {
            for c in table.storage.listed where !IPTablesRuleset.isServiceChain(c.name) {
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
