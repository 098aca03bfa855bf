import Glibc
import SeawayNet

/// A socket address as the kernel takes and gives it (`sockaddr_in` or `sockaddr_in6` in a
/// `sockaddr_storage`): a datagram's sender, an accepted client, an endpoint to dial.
public struct PeerAddress: Sendable {
    public var storage: sockaddr_storage
    public var length: socklen_t

    public init(_ storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// `ip` and `port` as a socket address of the address's family.
    public init(ip: IPAddress, port: Int) {
        let v4 = ip.family == .ipv4
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { raw in
            // The family, then the port in network order, at the same offsets in both layouts.
            raw.storeBytes(of: sa_family_t(v4 ? AF_INET : AF_INET6), as: sa_family_t.self)
            raw.storeBytes(of: UInt16(truncatingIfNeeded: port).bigEndian, toByteOffset: Self.portOffset, as: UInt16.self)
            UnsafeMutableRawBufferPointer(rebasing: raw[(v4 ? Self.v4AddressOffset : Self.v6AddressOffset)...]).copyBytes(from: ip.networkBytes)
        }
        self.init(storage, length: socklen_t(v4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size))
    }

    private static let portOffset = MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!
    private static let v4AddressOffset = MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!
    /// After the port and the flow label.
    private static let v6AddressOffset = MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!

    public var isIPv6: Bool { storage.ss_family == sa_family_t(AF_INET6) }

    public var port: Int {
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw in
            // sin_port and sin6_port sit at the same offset, in network order.
            Int(UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: Self.portOffset, as: UInt16.self)))
        }
    }

    /// The address part.
    public var ip: IPAddress {
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw in
            if isIPv6 {
                let high = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: Self.v6AddressOffset, as: UInt64.self))
                let low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: Self.v6AddressOffset + 8, as: UInt64.self))
                return IPAddress(v6High: high, low: low)
            }
            return IPAddress(v4: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: Self.v4AddressOffset, as: UInt32.self)))
        }
    }

    /// Runs `body` with the address as the `sockaddr` the socket calls take.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var copy = storage
        return withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}
