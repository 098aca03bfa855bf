/// An IP network such as `10.0.0.0/8`, always stored masked to its network address,
/// as Go's `net.ParseCIDR` returns it (so `10.1.2.3/8` prints as `10.0.0.0/8`).
public struct CIDR: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    public var family: IPFamily { network.family }

    public init(network: IPAddress, prefixLength: Int) {
        self.prefixLength = prefixLength
        self.network = CIDR.mask(network, prefixLength)
    }

    /// Parses `a.b.c.d/n` or `x::/n` with Kubernetes' sloppy rules (leading zeros allowed).
    public init?(_ text: some StringProtocol) {
        guard let slash = text.firstIndex(of: "/") else { return nil }
        guard let address = IPAddress(text[..<slash]) else { return nil }
        let bits = text[text.index(after: slash)...]
        guard !bits.isEmpty, bits.allSatisfy({ $0.isASCII && $0.isNumber }), bits.count <= 3,
              let n = Int(bits), n <= address.family.bitLength
        else { return nil }
        self.init(network: address, prefixLength: n)
    }

    /// A host route: `/32` or `/128`.
    public init(host: IPAddress) {
        self.init(network: host, prefixLength: host.family.bitLength)
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && CIDR.mask(address, prefixLength) == network
    }

    /// Whether every address of `other` is in this network.
    public func contains(_ other: CIDR) -> Bool {
        other.prefixLength >= prefixLength && contains(other.network)
    }

    public var description: String { "\(network)/\(prefixLength)" }

    public static func < (lhs: CIDR, rhs: CIDR) -> Bool {
        (lhs.network, lhs.prefixLength) < (rhs.network, rhs.prefixLength)
    }

    static func mask(_ a: IPAddress, _ bits: Int) -> IPAddress {
        switch a.family {
        case .ipv4:
            let m: UInt64 = bits == 0 ? 0 : (0xffff_ffff << UInt64(32 - bits)) & 0xffff_ffff
            return IPAddress(v4: UInt32(truncatingIfNeeded: a.low & m))
        case .ipv6:
            let hm: UInt64 = bits >= 64 ? .max : (bits == 0 ? 0 : .max << UInt64(64 - bits))
            let lm: UInt64 = bits <= 64 ? 0 : (bits == 128 ? .max : .max << UInt64(128 - bits))
            return IPAddress(v6High: a.high & hm, low: a.low & lm)
        }
    }
}
