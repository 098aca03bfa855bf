/// The chains one service port owns (a dozen at ten endpoints), their names and rule lines
/// kept in two byte buffers. At 10,000 services a full render has 110,000 such chains; a
/// `String` and an array for each were most of the render's allocations and reference
/// counting. A `ChainBlockWriter` writes them.
public struct ChainBlock: Sendable, Hashable {
    private var names: [UInt8] = []
    /// Every chain's rule lines, back to back, each ending in a newline.
    public private(set) var rules: [UInt8] = []
    /// Where each chain's name and rules end, and how many rules it has.
    private var ends: [Ends] = []
    /// The totals, kept in the value itself: sizing the text of 10,000 blocks then reads
    /// none of their buffers.
    public private(set) var count = 0
    private(set) var nameByteCount = 0
    private(set) var ruleByteCount = 0

    struct Ends: Sendable, Hashable {
        var name: Int32, rules: Int32, ruleCount: Int32
    }

    public init() {}

    init(names: [UInt8], rules: [UInt8], ends: [Ends]) {
        self.names = names
        self.rules = rules
        self.ends = ends
        count = ends.count
        nameByteCount = names.count
        ruleByteCount = rules.count
    }

    public var isEmpty: Bool { count == 0 }
    public var indices: Range<Int> { 0..<count }

    func nameBytes(at i: Int) -> ArraySlice<UInt8> {
        names[(i == 0 ? 0 : Int(ends[i - 1].name))..<Int(ends[i].name)]
    }

    public func name(at i: Int) -> String { String(decoding: nameBytes(at: i), as: UTF8.self) }

    public var allNames: [String] { indices.map(name(at:)) }

    func ruleBytes(at i: Int) -> ArraySlice<UInt8> {
        rules[(i == 0 ? 0 : Int(ends[i - 1].rules))..<Int(ends[i].rules)]
    }

    public func rules(at i: Int) -> LineBlock {
        LineBlock(bytes: Array(ruleBytes(at: i)), count: Int(ends[i].ruleCount))
    }

    /// The size of `prefix NAME suffix` for every chain, so a writer can size its output
    /// before filling it from several cores.
    func declarationsByteCount(_ prefix: String, _ suffix: StaticString) -> Int {
        nameByteCount + count * (prefix.utf8.count + suffix.utf8CodeUnitCount)
    }

    /// Writes `prefix NAME suffix` for every chain at `out`; returns how many bytes.
    func writeDeclarations(_ prefix: String, _ suffix: StaticString, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var at = out
        var prefix = prefix
        prefix.withUTF8 { prefix in
            names.withUnsafeBufferPointer { names in
                var start = 0
                for end in ends {
                    if let p = prefix.baseAddress { at.update(from: p, count: prefix.count) }
                    at += prefix.count
                    let length = Int(end.name) - start
                    if length > 0 { at.update(from: names.baseAddress! + start, count: length) }
                    at += length
                    at.update(from: suffix.utf8Start, count: suffix.utf8CodeUnitCount)
                    at += suffix.utf8CodeUnitCount
                    start = Int(end.name)
                }
            }
        }
        return at - out
    }
}

/// A ruleset's chains: the ones given one by one (kube-proxy's fixed chains, or all of them
/// once the whole list is replaced), then the service ports' blocks. Both rulesets keep
/// their chains this way and build `Chain` values only when asked.
struct ChainList<Chain: Sendable & Hashable>: Sendable {
    var listed: [Chain]
    var blocks: [ChainBlock] = []

    var count: Int { blocks.reduce(listed.count) { $0 + $1.count } }

    var names: [String] { blocks.flatMap(\.allNames) }

    /// Every chain as a value, those of the blocks made by `make(name, rules)`.
    func all(_ make: (String, LineBlock) -> Chain) -> [Chain] {
        var out = listed
        out.reserveCapacity(count)
        for b in blocks { for i in b.indices { out.append(make(b.name(at: i), b.rules(at: i))) } }
        return out
    }
}
