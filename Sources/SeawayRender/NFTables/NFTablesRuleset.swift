import SeawayModel

/// kube-proxy's nftables table for one family, as a value. `text` is `nft -f` input that
/// creates it in an empty namespace: the table, chains, sets and maps, rules, then elements.
public struct NFTablesRuleset: Sendable, Hashable {
    public struct Chain: Sendable, Hashable {
        public let name: String
        /// `type filter hook prerouting priority -110`, for base chains.
        public let base: String?
        public let comment: String?
        /// Complete `add rule <family> kube-proxy <chain> ...` lines.
        public internal(set) var ruleLines: LineBlock

        /// The rules as written after the chain name.
        public var rules: [String] {
            // "add rule <family> kube-proxy <chain> <rule>": none of the first five words
            // contains a space.
            ruleLines.lines.map { line in
                String(line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false).last ?? "")
            }
        }
    }

    public struct Container: Sendable, Hashable {
        public let isMap: Bool
        public let name: String
        /// `type ...` plus optional flags, timeout and comment, as written between braces.
        public let spec: String
        /// Complete `add element <family> kube-proxy <name> { ... }` lines.
        public internal(set) var elementLines: LineBlock

        /// Each element as written between the braces.
        public var elements: [String] {
            elementLines.lines.map { line in
                guard let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else { return line }
                return String(line[line.index(open, offsetBy: 2)..<line.index(before: close)])
            }
        }
    }

    public var family: IPFamily
    /// `ip` or `ip6`.
    public var nftFamily: String { family == .ipv4 ? "ip" : "ip6" }
    /// `kube-proxy`; Seaway's userspace mode writes its own table.
    public var table = NFTablesName.table
    public var tableComment = "rules for kube-proxy"
    /// Base chains (in hook order) and kube-proxy's fixed chains, then the service ports'
    /// blocks.
    private var storage: ChainList<Chain>

    init(family: IPFamily, chains: [Chain], serviceChains: [ChainBlock] = [], containers: [Container]) {
        self.family = family
        storage = ChainList(listed: chains, blocks: serviceChains)
        self.containers = containers
    }

    /// Base chains (in hook order), kube-proxy's fixed chains, then each service port's
    /// chains in the order kube-proxy creates them, service ports sorted by name. Each read
    /// builds the values; the writers of the text use the blocks as they are.
    public internal(set) var chains: [Chain] {
        get { storage.all { Chain(name: $0, base: nil, comment: nil, ruleLines: $1) } }
        set { storage = ChainList(listed: newValue) }
    }

    public var chainCount: Int { storage.count }
    /// Fixed sets and maps by name, then the per-endpoint affinity sets in service order.
    public internal(set) var containers: [Container]

    public var bytes: [UInt8] { pieces.joined }

    /// The text in order, a chunk at a time, without ever holding all of it (see
    /// `TextPieces.forEachChunk`).
    public func forEachChunk<E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> Void) throws(E) {
        try pieces.forEachChunk(body)
    }

    /// The text in order, in parts: the table, chain and set declarations, then each
    /// chain's rules and each set's elements as kept (not copied). `bytes` is their
    /// concatenation; a consumer that reads them one by one never needs the whole text
    /// (50 MB at 10,000 services).
    public func forEachPart<E: Error>(_ body: ([UInt8]) throws(E) -> Void) throws(E) {
        try pieces.forEachPart(body)
    }

    /// The text as pieces to join: each service port block's chain declarations are one
    /// piece, written on whichever core joins it.
    private var pieces: TextPieces {
        let prefix = "\(nftFamily) \(table)"
        var head: [UInt8] = []
        head.appendUTF8("add table \(prefix) { comment \"\(tableComment)\" ; }\n")
        for c in storage.listed {
            head.appendUTF8("add chain ")
            head.appendUTF8(prefix)
            head.append(UInt8(ascii: " "))
            head.appendUTF8(c.name)
            if let base = c.base {
                head.appendUTF8(" { \(base) ; }")
            } else if let comment = c.comment {
                head.appendUTF8(" { comment \"\(comment)\" ; }")
            }
            head.append(UInt8(ascii: "\n"))
        }
        var sets: [UInt8] = []
        for s in containers {
            sets.appendUTF8("add \(s.isMap ? "map" : "set") \(prefix) \(s.name) { \(s.spec) }\n")
        }
        var pieces = TextPieces(reservingCapacity: 3 + storage.listed.count + 2 * storage.blocks.count + containers.count)
        pieces.append(bytes: head)
        pieces.appendDeclarations("add chain \(prefix) ", storage.blocks, "\n")
        pieces.append(bytes: sets)
        for c in storage.listed { pieces.append(bytes: c.ruleLines.bytes) }
        pieces.appendRules(storage.blocks)
        for s in containers { pieces.append(bytes: s.elementLines.bytes) }
        return pieces
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    public static func == (l: NFTablesRuleset, r: NFTablesRuleset) -> Bool {
        l.family == r.family && l.table == r.table && l.tableComment == r.tableComment
            && l.containers == r.containers && l.chains == r.chains
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(family)
        hasher.combine(table)
        hasher.combine(chains)
        hasher.combine(containers)
    }
}
