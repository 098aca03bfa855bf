/// The IP family of an address, a CIDR or a proxier instance.
public enum IPFamily: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"

    public static func < (lhs: IPFamily, rhs: IPFamily) -> Bool { lhs == .ipv4 && rhs == .ipv6 }

    /// Bits in an address of this family.
    public var bitLength: Int { self == .ipv4 ? 32 : 128 }
}

/// An IPv4 or IPv6 address.
///
/// Parsing follows Kubernetes' `netutils.ParseIPSloppy`: IPv4 octets with leading zeros are
/// read as decimal (`010.0.0.1` is `10.0.0.1`), which is how kube-proxy normalises old
/// objects the API server once accepted. Formatting follows Go's `net.IP.String()`, so the
/// text we render is byte-identical to kube-proxy's.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// High and low 64 bits; an IPv4 address lives in the low 32 bits of `low`.
    public let high: UInt64
    public let low: UInt64
    public let family: IPFamily

    public init(v4 value: UInt32) {
        high = 0
        low = UInt64(value)
        family = .ipv4
    }

    public init(v6High: UInt64, low: UInt64) {
        high = v6High
        self.low = low
        family = .ipv6
    }

    /// Parses `text`; returns nil when it is not an address.
    public init?(_ text: String) {
        // IPv4 straight from the text's bytes (endpoints parse 100,000 of these).
        var text = text
        guard let v4 = text.withUTF8({ IPAddress.parseV4($0) }) else {
            self.init(notV4: Array(text.utf8))
            return
        }
        self.init(v4: v4)
    }

    /// Parses `text`; returns nil when it is not an address.
    public init?(_ text: some StringProtocol) {
        self.init(String(text))
    }

    private init?(notV4 utf8: [UInt8]) {
        if let (h, l) = IPAddress.parseV6(utf8) {
            // Go treats ::ffff:a.b.c.d as IPv4 (To4() succeeds), and so does kube-proxy.
            if h == 0 && (l >> 32) == 0xffff {
                self.init(v4: UInt32(truncatingIfNeeded: l))
            } else {
                self.init(v6High: h, low: l)
            }
        } else {
            return nil
        }
    }

    /// Parses an address as Go's `net.ParseIP` does: no leading zeros in IPv4 octets (unlike
    /// Kubernetes' sloppy parser, which the model uses for object fields).
    public init?(strict text: String) {
        guard let ip = IPAddress(text) else { return nil }
        if !text.contains(":"), ip.description != text { return nil }
        self = ip
    }

    /// The address's bytes in network order (4 or 16).
    public var networkBytes: [UInt8] {
        switch family {
        case .ipv4: return (0..<4).map { UInt8(truncatingIfNeeded: low >> UInt64(24 - 8 * $0)) }
        case .ipv6: return (0..<8).map { UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * $0)) }
                         + (0..<8).map { UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * $0)) }
        }
    }

    public var isLoopback: Bool {
        switch family {
        case .ipv4: return (low >> 24) == 127
        case .ipv6: return high == 0 && low == 1
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.family != rhs.family { return lhs.family < rhs.family }
        return (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public var description: String {
        switch family {
        case .ipv4:
            // Built byte by byte: this runs for every endpoint of a 100,000-endpoint cluster.
            return String(unsafeUninitializedCapacity: 21) { buffer in IPAddress.writeV4(UInt32(truncatingIfNeeded: low), port: nil, into: buffer) }
        case .ipv6:
            return IPAddress.formatV6(high: high, low: low)
        }
    }

    /// Writes `a.b.c.d` (and `:port`) into `buffer`, returning the byte count. Rendering
    /// writes a few of these for each of 100,000 endpoints, so each octet is read from a
    /// table and stored at once: choosing between one, two and three digits went either
    /// way at random for the addresses of a cluster.
    public static func writeV4(_ v: UInt32, port: Int?, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        precondition(buffer.count >= (port == nil ? 15 : 21) && (port ?? 0) >= 0 && (port ?? 0) <= 65535)
        let out = UnsafeMutableRawPointer(buffer.baseAddress!)
        // The first three octets: their text and a length byte stored as one word, the
        // length byte then overwritten by the dot (or by the next octet, for short ones).
        var at = 0
        @inline(__always) func octetAndDot(_ octet: UInt32) {
            let text = octetTexts[Int(octet & 0xFF)]
            out.storeBytes(of: text.littleEndian, toByteOffset: at, as: UInt32.self)
            at += Int(text >> 24)
            out.storeBytes(of: UInt8(ascii: "."), toByteOffset: at, as: UInt8.self)
            at += 1
        }
        octetAndDot(v >> 24)
        octetAndDot(v >> 16)
        octetAndDot(v >> 8)
        // The last: three bytes, so that a 15-byte buffer is never written past its end.
        let text = octetTexts[Int(v & 0xFF)]
        out.storeBytes(of: UInt16(truncatingIfNeeded: text).littleEndian, toByteOffset: at, as: UInt16.self)
        out.storeBytes(of: UInt8(truncatingIfNeeded: text >> 16), toByteOffset: at + 2, as: UInt8.self)
        at += Int(text >> 24)
        if let port {
            out.storeBytes(of: UInt8(ascii: ":"), toByteOffset: at, as: UInt8.self)
            at += 1 + writePort(UInt32(truncatingIfNeeded: port), to: buffer.baseAddress! + at + 1)
        }
        return at
    }

    /// The decimal text of each octet value: its characters from the low byte up, and
    /// its length in the top byte.
    private static let octetTexts = InlineArray<256, UInt32> { value in
        let digits = Array(String(value).utf8)
        var word = UInt32(digits.count) << 24
        for (i, digit) in digits.enumerated() { word |= UInt32(digit) << (8 * UInt32(i)) }
        return word
    }

    /// Writes 0-65535 in decimal; returns how many digits.
    @inline(__always)
    private static func writePort(_ port: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let digits = port >= 10_000 ? 5 : port >= 1000 ? 4 : port >= 100 ? 3 : port >= 10 ? 2 : 1
        var value = port
        for i in stride(from: digits - 1, through: 0, by: -1) {
            out[i] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: value % 10)
            value /= 10
        }
        return digits
    }

    /// The 16-bit groups of an IPv6 address, most significant first.
    var groups: [UInt16] {
        (0..<8).map { i in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> (UInt64(3 - i % 4) * 16))
        }
    }

    /// The address as `host:port` the way Go's `net.JoinHostPort` writes it.
    public func joined(port: Int) -> String {
        guard family == .ipv4, (0...65535).contains(port) else { return family == .ipv4 ? "\(self):\(port)" : "[\(self)]:\(port)" }
        return String(unsafeUninitializedCapacity: 21) { IPAddress.writeV4(UInt32(truncatingIfNeeded: low), port: port, into: $0) }
    }

    /// The most bytes `writeJoined` writes: brackets, the longest IPv6 text (39), a colon
    /// and any `Int`'s decimal digits.
    public static let maxJoinedLength = 64

    /// Writes `joined(port:)`'s text into `buffer` (`maxJoinedLength` bytes or more) and
    /// returns the byte count: endpoints are hashed and printed this way without a `String`.
    public func writeJoined(port: Int, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        if family == .ipv4 && (0...65535).contains(port) {
            return IPAddress.writeV4(UInt32(truncatingIfNeeded: low), port: port, into: buffer)
        }
        var text = joined(port: port)  // IPv6 or an odd port: rare enough for a String
        return text.withUTF8 { bytes in
            let count = min(bytes.count, buffer.count)
            for i in 0..<count { buffer[i] = bytes[i] }
            return count
        }
    }

    // MARK: parsing

    static func parseV4(_ bytes: some Sequence<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in bytes {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                if octet > 255 || digits > 3 { return nil }
            } else if byte == UInt8(ascii: ".") {
                if digits == 0 { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
                if dots > 3 { return nil }
            } else {
                return nil
            }
        }
        if dots != 3 || digits == 0 { return nil }
        return value << 8 | octet
    }

    static func parseV6(_ bytes: [UInt8]) -> (UInt64, UInt64)? {
        guard bytes.count >= 2, bytes.contains(UInt8(ascii: ":")) else { return nil }
        var groups: [UInt16] = []
        var ellipsis: Int? = nil
        var i = 0
        if bytes.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            ellipsis = 0
            i = 2
            if i == bytes.count { return (0, 0) }
        }
        while i < bytes.count {
            // An embedded IPv4 tail (::ffff:1.2.3.4) fills the last two groups.
            var j = i
            var hex: UInt32 = 0
            var n = 0
            while j < bytes.count, let d = hexValue(bytes[j]) {
                hex = hex << 4 | UInt32(d)
                n += 1
                j += 1
                if n > 4 { return nil }
            }
            if j < bytes.count && bytes[j] == UInt8(ascii: ".") {
                guard let v4 = parseV4(bytes[i...]), groups.count <= 6 else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xffff))
                i = bytes.count
                break
            }
            if n == 0 { return nil }
            groups.append(UInt16(hex))
            i = j
            if i == bytes.count { break }
            guard bytes[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            if i < bytes.count && bytes[i] == UInt8(ascii: ":") {
                if ellipsis != nil { return nil }
                ellipsis = groups.count
                i += 1
                if i == bytes.count { break }
            } else if i == bytes.count {
                return nil
            }
        }
        if let at = ellipsis {
            guard groups.count < 8 else { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: at)
        }
        guard groups.count == 8 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for k in 0..<4 { h = h << 16 | UInt64(groups[k]) }
        for k in 4..<8 { l = l << 16 | UInt64(groups[k]) }
        return (h, l)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// RFC 5952 text, as Go prints it: lowercase, longest run (>= 2) of zero groups as `::`.
    static func formatV6(high: UInt64, low: UInt64) -> String {
        let g = IPAddress(v6High: high, low: low).groups
        var bestStart = -1, bestLen = 0, runStart = -1
        for k in 0...8 {
            if k < 8 && g[k] == 0 {
                if runStart < 0 { runStart = k }
            } else if runStart >= 0 {
                if k - runStart > bestLen { bestStart = runStart; bestLen = k - runStart }
                runStart = -1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        var out = ""
        var k = 0
        while k < 8 {
            if k == bestStart {
                out += "::"
                k += bestLen
                continue
            }
            if k > 0 && !out.hasSuffix(":") { out += ":" }
            out += String(g[k], radix: 16)
            k += 1
        }
        return out
    }
}
