/// Writes a `ChainBlock`: chains one after the other, each `startChain` and then its rules,
/// into scratch memory; `finish` copies them out at their final size (a quarter less memory
/// than arrays grown from a guess). A renderer writes 300,000 rule lines at 10,000
/// services, each from three or four pieces.
struct ChainBlockWriter: ~Copyable {
    private var names: ByteScratch
    private var rules: ByteScratch
    private var ends: [ChainBlock.Ends] = []
    private var started = false
    private var ruleCount: Int32 = 0
    /// What `rule` starts a line with: the keyword and table given to `init`, the name of
    /// the chain started last and a space, copied in one piece.
    private var head: ByteScratch
    private let rulePrefixLength: Int

    /// Room for about `chains` chains, `nameBytes` of names and `ruleBytes` of rules (more
    /// is made when needed). `rule` starts a line with `keyword`, then `table` and a space
    /// when there is one (`add rule ip kube-proxy `), then the chain's name.
    init(rulesStartWith keyword: StaticString = "", table: String = "", reservingChains chains: Int = 4,
         nameBytes: Int = 64, ruleBytes: Int = 256) {
        names = ByteScratch(capacity: nameBytes)
        rules = ByteScratch(capacity: ruleBytes)
        head = ByteScratch(capacity: 128)
        head.appendText(keyword)
        if !table.isEmpty {
            head.append(table.utf8)
            head.append(UInt8(ascii: " "))
        }
        rulePrefixLength = head.count
        ends.reserveCapacity(chains)
    }

    /// Starts a chain named by rule text (`"endpoint-\(base)"`).
    mutating func startChain(_ name: RuleLine) { name.withBytes { startChain(bytes: $0) } }

    /// Starts a chain named by bytes (a `String`'s `utf8`, a name kept in a buffer).
    mutating func startChain(bytes name: some Collection<UInt8>) {
        if let done: Void = name.withContiguousStorageIfAvailable({ startChain(bytes: $0) }) { return done }
        startChain(bytes: Array(name))
    }

    private mutating func startChain(bytes name: UnsafeBufferPointer<UInt8>) {
        closeChain()
        names.append(name)
        head.removeLast(head.count - rulePrefixLength)
        head.append(name)
        head.append(UInt8(ascii: " "))
    }

    /// Records where the chain started last ends (nothing before the first).
    private mutating func closeChain() {
        if started { ends.append(ChainBlock.Ends(name: Int32(names.count), rules: Int32(rules.count), ruleCount: ruleCount)) }
        started = true
        ruleCount = 0
    }

    /// Adds `line` to the chain started last.
    mutating func append(_ line: RuleLine) {
        line.withBytes { rules.append($0) }
        endLine()
    }

    /// Adds `head`, a space and `text`; without a head, what `rule(text)` writes.
    mutating func rule(head: RuleLine?, _ text: RuleLine) {
        guard let head else { return rule(text) }
        head.withBytes { rules.append($0) }
        rules.append(UInt8(ascii: " "))
        append(text)
    }

    /// Adds lines already written (each ending in a newline).
    mutating func append(_ lines: LineBlock) {
        lines.bytes.withUnsafeBufferPointer { rules.append($0) }
        ruleCount += Int32(lines.count)
    }

    /// Adds the start of a rule (see `init`), the chain's name, a space and `text`.
    mutating func rule(_ text: RuleLine) {
        startRule()
        append(text)
    }

    /// Adds the start of a rule, the chain's name, a space and what `write` appends in place: for
    /// lines too long to build on the stack first (a vmap of many endpoints).
    mutating func rule(writing write: (inout ByteScratch) -> Void) {
        startRule()
        write(&rules)
        endLine()
    }

    @inline(__always)
    private mutating func startRule() {
        precondition(started, "a rule before any chain")
        rules.append(head.bytes)
    }

    @inline(__always)
    private mutating func endLine() {
        rules.append(UInt8(ascii: "\n"))
        ruleCount += 1
    }

    /// The block written.
    consuming func finish() -> ChainBlock {
        closeChain()
        return ChainBlock(names: names.array(), rules: rules.array(), ends: ends)
    }
}
