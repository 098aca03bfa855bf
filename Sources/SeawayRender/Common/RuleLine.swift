import SeawayModel

/// One line of rule text built straight into bytes. Renderers write it with ordinary string
/// interpolation (`"-A \(chain) -d \(ip) --dport \(port)"`), but no intermediate `String` is
/// made: at 100,000 endpoints the per-line `String` costs dominated rendering. A line that
/// fits in 224 bytes (most do) lives inside the value, so writing one costs no allocation
/// either: a heap buffer per line was a fifth of a large render.
public struct RuleLine: ExpressibleByStringInterpolation {
    private var inline = InlineArray<224, UInt8>(repeating: 0)
    private var inlineCount = 0
    /// The text once it no longer fits inline.
    private var heap: [UInt8]?

    init() {}

    /// Literal text comes as `StaticString`: a pointer and a length, copied without the
    /// reference counting a `String` costs on every literal segment of every line.
    public init(stringLiteral value: StaticString) {
        append(value)
    }

    public init(stringInterpolation: Interpolation) {
        self = stringInterpolation.line
    }

    /// The text as an array (a copy when it is inline).
    public var bytes: [UInt8] {
        get { heap ?? withBytes { Array($0) } }
        set {
            heap = newValue
            inlineCount = 0
        }
    }

    public var count: Int { heap?.count ?? inlineCount }

    /// Calls `body` with the text, wherever it lives.
    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let heap { return heap.withUnsafeBufferPointer(body) }
        return inline.span.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[..<inlineCount])) }
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        if heap == nil, inlineCount + bytes.count <= inline.count {
            let at = inlineCount
            var span = inline.mutableSpan
            span.withUnsafeMutableBufferPointer { out in
                guard let base = bytes.baseAddress else { return }
                copyBytes(from: base, count: bytes.count, to: out.baseAddress! + at)
            }
            inlineCount += bytes.count
        } else {
            appendOutOfLine(bytes)
        }
    }

    /// The rare case: the line is, or is about to be, on the heap.
    private mutating func appendOutOfLine(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard heap == nil else {
            heap!.append(contentsOf: bytes)
            return
        }
        var spilled = withBytes { Array($0) }
        // Long lines are vmaps of many endpoints: room for a dozen more at once.
        spilled.reserveCapacity(max(1024, 2 * (inlineCount + bytes.count)))
        spilled.append(contentsOf: bytes)
        heap = spilled
    }

    mutating func append(_ s: String) {
        // Read in place: `withUTF8` is mutating, and the copy it needs cost a retain and a
        // release of every string interpolated into every line.
        if let done: Void = s.utf8.withContiguousStorageIfAvailable({ append($0) }) { return done }
        append(Array(s.utf8))
    }

    /// Inlined where a literal is appended, so the copy is specialised to its known length.
    @inline(__always)
    mutating func append(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func append(_ bytes: some Collection<UInt8>) {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ append($0) }) { return done }
        append(Array(bytes))
    }

    mutating func append(_ line: RuleLine) { line.withBytes { append($0) } }

    public struct Interpolation: StringInterpolationProtocol {
        var line = RuleLine()

        public init(literalCapacity: Int, interpolationCount: Int) {}

        @inline(__always)
        public mutating func appendLiteral(_ literal: StaticString) { line.append(literal) }
        public mutating func appendInterpolation(_ s: String) { line.append(s) }
        /// A constant (a keyword, a fixed chain name): copied at its known length, with none
        /// of the reference counting a `String` costs.
        @inline(__always)
        public mutating func appendInterpolation(_ s: StaticString) { line.append(s) }
        public mutating func appendInterpolation(_ s: Substring) { line.append(s.utf8) }
        /// Text already in bytes (a chain name from a `ChainBlock`, say).
        public mutating func appendInterpolation(_ text: ArraySlice<UInt8>) { line.append(text) }
        public mutating func appendInterpolation(_ text: [UInt8]) { line.append(text) }
        public mutating func appendInterpolation(_ n: Int) { line.appendDecimal(n) }
        public mutating func appendInterpolation(_ ip: IPAddress) { line.appendAddress(ip) }
        /// `ip:port` (`[ip]:port` for IPv6), as `IPAddress.joined(port:)` writes it.
        public mutating func appendInterpolation(_ ip: IPAddress, port: Int) {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: IPAddress.maxJoinedLength) { text in
                line.append(UnsafeBufferPointer(rebasing: text[..<ip.writeJoined(port: port, into: text)]))
            }
        }
        public mutating func appendInterpolation(_ cidr: CIDR) {
            line.appendAddress(cidr.network)
            line.append("/")
            line.appendDecimal(cidr.prefixLength)
        }
        public mutating func appendInterpolation(_ line: RuleLine) { self.line.append(line) }
    }

    mutating func appendDecimal(_ n: Int) {
        // Straight into the line when it has room (20 bytes hold any `Int`).
        if heap == nil, inlineCount + 20 <= inline.count {
            let at = inlineCount
            var span = inline.mutableSpan
            inlineCount += span.withUnsafeMutableBufferPointer { UnsafeMutableBufferPointer(rebasing: $0[at...]).writeDecimal(n) }
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            append(UnsafeBufferPointer(rebasing: digits[..<digits.writeDecimal(n)]))
        }
    }

    /// Appends an address as Go prints it (see `IPAddress.description`).
    mutating func appendAddress(_ ip: IPAddress) {
        guard ip.family == .ipv4 else { return append(ip.description) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 15) { text in
            append(UnsafeBufferPointer(rebasing: text[..<IPAddress.writeV4(UInt32(truncatingIfNeeded: ip.low), port: nil, into: text)]))
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends a string's UTF-8 without bridging or per-character work when it is native.
    @inlinable
    mutating func appendUTF8(_ s: String) {
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }

    /// Appends literal text.
    mutating func appendText(_ s: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
}

/// Rule lines of one chain (or one list of elements), each ending in a newline.
public struct LineBlock: Sendable, Hashable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var count = 0

    public init() {}

    init(bytes: [UInt8], count: Int) {
        self.bytes = bytes
        self.count = count
    }

    /// Makes room for `byteCount` more bytes of lines, for a block about to be filled from
    /// many others (growing by doubling would copy it several times over).
    mutating func reserve(_ byteCount: Int) { bytes.reserveCapacity(bytes.count + byteCount) }

    mutating func append(_ line: RuleLine) {
        // Room for the line and its newline at once (appending them one after the other
        // would grow a block of one line twice), still doubling as the block grows.
        let needed = bytes.count + line.count + 1
        if bytes.capacity < needed { bytes.reserveCapacity(max(needed, 2 * bytes.capacity)) }
        line.withBytes { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\n"))
        count += 1
    }

    mutating func append(_ other: LineBlock) {
        bytes.append(contentsOf: other.bytes)
        count += other.count
    }

    public var isEmpty: Bool { count == 0 }

    /// The lines as strings (for JSON output and diffs; rendering never needs this).
    public var lines: [String] {
        bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
            .map { String(decoding: $0, as: UTF8.self) }
    }
}
