import SeawayModel

/// The order of endpoints' `ip:port` texts, as Go compares strings (kube-proxy sorts
/// endpoints that way), decided for IPv4 from the numbers: every endpoint of a render is
/// ordered, and writing two texts to compare them cost about 400 instructions an endpoint.
enum EndpointTextOrder {
    /// Whether `x`'s `ip:port` text sorts before `y`'s.
    static func less(_ x: EndpointInfo, _ y: EndpointInfo) -> Bool {
        guard x.ip.family == .ipv4, y.ip.family == .ipv4 else { return TextKey(x) < TextKey(y) }
        let a = UInt32(truncatingIfNeeded: x.ip.low), b = UInt32(truncatingIfNeeded: y.ip.low)
        if a != b {
            // The first octet that differs decides: its text and the character after it
            // (`.`, or `:` after the last) differ within those characters.
            let differing = (a ^ b).leadingZeroBitCount / 8
            let shift = UInt32(24 - 8 * differing)
            let p = Int((a >> shift) & 0xFF), q = Int((b >> shift) & 0xFF)
            return differing < 3 ? beforeDot[p] < beforeDot[q] : beforeColon[p] < beforeColon[q]
        }
        return x.port != y.port && digits(x.port) < digits(y.port)
    }

    /// Each octet's rank among the texts `0.` ... `255.` in string order (`.` sorts before
    /// the digits, so `1.` < `10.` < `100.` < `101.` ...).
    private static let beforeDot = ranks(followedBy: ".")
    /// The same followed by `:`, which sorts after the digits (`10:` < `1:`).
    private static let beforeColon = ranks(followedBy: ":")

    private static func ranks(followedBy end: String) -> InlineArray<256, UInt8> {
        let sorted = (0...255).sorted { "\($0)\(end)" < "\($1)\(end)" }
        var rank = InlineArray<256, UInt8>(repeating: 0)
        for (r, octet) in sorted.enumerated() { rank[octet] = UInt8(r) }
        return rank
    }

    /// A port's digits from the top byte down, zero-padded: compared as numbers, these
    /// compare as the texts do (a shorter text that is a prefix of a longer one first).
    private static func digits(_ port: Int) -> UInt64 {
        var key: UInt64 = 0, shift: UInt64 = 56
        for d in String(port).utf8 {
            key |= UInt64(d) << shift
            shift &-= 8
        }
        return key
    }
}
