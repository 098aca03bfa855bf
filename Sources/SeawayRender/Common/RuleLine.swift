import SeawayModel

/// One line of rule text built straight into bytes. Renderers write it with ordinary string
/// interpolation (`"-A \(chain) -d \(ip) --dport \(port)"`), but no intermediate `String` is
/// made: at 100,000 endpoints the per-line `String` costs dominated rendering.
public struct RuleLine: ExpressibleByStringInterpolation {
    public var bytes: [UInt8]

    public init(stringLiteral value: String) {
        bytes = Array(value.utf8)
    }

    public init(stringInterpolation: Interpolation) {
        bytes = stringInterpolation.bytes
    }

    public struct Interpolation: StringInterpolationProtocol {
        var bytes: [UInt8]

        public init(literalCapacity: Int, interpolationCount: Int) {
            bytes = []
            bytes.reserveCapacity(literalCapacity + interpolationCount * 24)
        }

        public mutating func appendLiteral(_ literal: String) { bytes.appendUTF8(literal) }
        public mutating func appendInterpolation(_ s: String) { bytes.appendUTF8(s) }
        public mutating func appendInterpolation(_ s: Substring) { bytes.append(contentsOf: s.utf8) }
        /// Text already in bytes (a chain name from a `ChainBlock`, say).
        public mutating func appendInterpolation(_ text: ArraySlice<UInt8>) { bytes.append(contentsOf: text) }
        public mutating func appendInterpolation(_ text: [UInt8]) { bytes.append(contentsOf: text) }
        public mutating func appendInterpolation(_ n: Int) { bytes.appendDecimal(n) }
        public mutating func appendInterpolation(_ ip: IPAddress) { bytes.appendAddress(ip) }
        public mutating func appendInterpolation(_ cidr: CIDR) {
            bytes.appendAddress(cidr.network)
            bytes.append(UInt8(ascii: "/"))
            bytes.appendDecimal(cidr.prefixLength)
        }
        public mutating func appendInterpolation(_ line: RuleLine) { bytes.append(contentsOf: line.bytes) }
    }
}

extension Array where Element == UInt8 {
    /// Appends a string's UTF-8 without bridging or per-character work when it is native.
    @inlinable
    mutating func appendUTF8(_ s: String) {
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }

    mutating func appendDecimal(_ n: Int) {
        if n < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(-n)
            return
        }
        var divisor = 1
        while divisor <= n / 10 { divisor *= 10 }
        var rest = n
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// Appends an address as Go prints it (see `IPAddress.description`).
    mutating func appendAddress(_ ip: IPAddress) {
        if ip.family == .ipv4 {
            let v = UInt32(truncatingIfNeeded: ip.low)
            appendDecimal(Int(v >> 24)); append(UInt8(ascii: "."))
            appendDecimal(Int((v >> 16) & 0xff)); append(UInt8(ascii: "."))
            appendDecimal(Int((v >> 8) & 0xff)); append(UInt8(ascii: "."))
            appendDecimal(Int(v & 0xff))
        } else {
            appendUTF8(ip.description)
        }
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

    mutating func append(_ line: RuleLine) {
        bytes.append(contentsOf: line.bytes)
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
