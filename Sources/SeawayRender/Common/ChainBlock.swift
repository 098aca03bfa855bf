/// The chains one service port owns (a dozen at ten endpoints), their names and rule lines
/// kept in two byte buffers. At 10,000 services a full render has 110,000 such chains; a
/// `String` and an array for each were most of the render's allocations and reference
/// counting. Chains are written one after the other: `startChain`, then its rules.
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

    private struct Ends: Sendable, Hashable {
        var name: Int32, rules: Int32, ruleCount: Int32
    }

    public init() {}

    /// Room for `chains` chains with names of about `nameBytes` and `ruleBytes` of rules in
    /// all, so the buffers are not regrown chain by chain.
    init(reservingChains chains: Int, nameBytes: Int, ruleBytes: Int) {
        names.reserveCapacity(nameBytes)
        rules.reserveCapacity(ruleBytes)
        ends.reserveCapacity(chains)
    }

    public var isEmpty: Bool { count == 0 }
    public var indices: Range<Int> { 0..<count }

    mutating func startChain(_ name: String) {
        names.appendUTF8(name)
        closeName()
    }

    mutating func startChain(_ name: some Collection<UInt8>) {
        names.append(contentsOf: name)
        closeName()
    }

    private mutating func closeName() {
        ends.append(Ends(name: Int32(names.count), rules: Int32(rules.count), ruleCount: 0))
        count += 1
        nameByteCount = names.count
    }

    /// Adds a rule line to the chain started last.
    mutating func append(_ line: RuleLine) { finishLine(line) }

    /// Adds a rule line made of `head` (what every rule of the chain starts with) and `line`.
    mutating func append(head: [UInt8], _ line: RuleLine) {
        rules.append(contentsOf: head)
        finishLine(line)
    }

    mutating func append(head: RuleLine, _ line: RuleLine) {
        head.withBytes { rules.append(contentsOf: $0) }
        finishLine(line)
    }

    /// Adds a rule line made of `head` and what `write` appends to the block's buffer: for
    /// lines too long to build on the stack first (a vmap of many endpoints).
    mutating func append(head: [UInt8], writing write: (inout [UInt8]) -> Void) {
        rules.append(contentsOf: head)
        write(&rules)
        rules.append(UInt8(ascii: "\n"))
        closeRules(adding: 1)
    }

    private mutating func finishLine(_ line: RuleLine) {
        line.withBytes { rules.append(contentsOf: $0) }
        rules.append(UInt8(ascii: "\n"))
        closeRules(adding: 1)
    }

    /// Adds lines already written (each ending in a newline) to the chain started last.
    mutating func append(_ lines: LineBlock) {
        rules.append(contentsOf: lines.bytes)
        closeRules(adding: lines.count)
    }

    private mutating func closeRules(adding lineCount: Int) {
        ends[count - 1].rules = Int32(rules.count)
        ends[count - 1].ruleCount += Int32(lineCount)
        ruleByteCount = rules.count
    }

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
