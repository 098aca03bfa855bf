/// A 48-bit Ethernet address, printed as Go's `net.HardwareAddr.String()` does
/// (`02:42:ac:11:00:02`, lowercase), which is how CNI results carry it.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, either case.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let groups = parts.count == 6 ? parts : text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.count == 6, groups.allSatisfy({ $0.count == 2 }) else { return nil }
        var out: [UInt8] = []
        for g in groups {
            guard let b = UInt8(g, radix: 16) else { return nil }
            out.append(b)
        }
        bytes = out
    }

    /// A random unicast, locally administered address, as the kernel gives a new veth.
    public static func randomLocal() -> MACAddress {
        var rng = SystemRandomNumberGenerator()
        var bytes = (0..<6).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[0] = (bytes[0] & 0xfe) | 0x02
        return MACAddress(bytes: bytes)!
    }

    /// Multicast addresses (low bit of the first byte) cannot be an interface's own.
    public var isMulticast: Bool { bytes[0] & 1 == 1 }

    public var description: String {
        bytes.map { b in
            let h = String(b, radix: 16)
            return b < 16 ? "0" + h : h
        }.joined(separator: ":")
    }
}
