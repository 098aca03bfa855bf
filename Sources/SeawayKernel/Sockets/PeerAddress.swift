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
        var storage = sockaddr_storage()
        let bytes = ip.networkBytes
        if ip.family == .ipv4 {
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.withMemoryRebound(to: sockaddr_in.self) { a in
                    a[0].sin_family = sa_family_t(AF_INET)
                    a[0].sin_port = UInt16(truncatingIfNeeded: port).bigEndian
                    withUnsafeMutableBytes(of: &a[0].sin_addr) { $0.copyBytes(from: bytes) }
                }
            }
            self.init(storage, length: socklen_t(MemoryLayout<sockaddr_in>.size))
        } else {
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.withMemoryRebound(to: sockaddr_in6.self) { a in
                    a[0].sin6_family = sa_family_t(AF_INET6)
                    a[0].sin6_port = UInt16(truncatingIfNeeded: port).bigEndian
                    withUnsafeMutableBytes(of: &a[0].sin6_addr) { $0.copyBytes(from: bytes) }
                }
            }
            self.init(storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    }

    public var isIPv6: Bool { storage.ss_family == sa_family_t(AF_INET6) }

    public var port: Int {
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw in
            // sin_port and sin6_port sit at the same offset, in network order.
            Int(UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self)))
        }
    }

    /// The address part.
    public var ip: IPAddress {
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw in
            if isIPv6 {
                // sin6_addr follows the family, the port and the flow label.
                let high = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                let low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
                return IPAddress(v6High: high, low: low)
            }
            return IPAddress(v4: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        }
    }

    /// Runs `body` with the address as the `sockaddr` the socket calls take.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var copy = storage
        return withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}
