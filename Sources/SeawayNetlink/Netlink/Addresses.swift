import SeawayKernel
import CNetlink
import Glibc
import SeawayNet

/// An address on an interface, with its prefix (`10.22.0.2/16`).
public struct InterfaceAddress: Sendable, Equatable, CustomStringConvertible {
    public var interfaceIndex: Int32
    public var address: IPAddress
    public var prefixLength: Int
    /// RT_SCOPE_*: 0 universe (global), 253 link, 254 host.
    public var scope: UInt8
    /// IFA_F_* flags.
    public var flags: UInt32

    /// IPv6 duplicate address detection has not finished yet.
    public var isTentative: Bool { flags & UInt32(IFA_F_TENTATIVE) != 0 }
    public var failedDuplicateAddressDetection: Bool { flags & UInt32(IFA_F_DADFAILED) != 0 }

    public var network: CIDR { CIDR(network: address, prefixLength: prefixLength) }
    public var isLinkLocal: Bool { scope == 253 }
    public var description: String { "\(address)/\(prefixLength)" }
}

extension IPAddress {
    init?(networkBytes b: UnsafeRawBufferPointer) {
        switch b.count {
        case 4: self.init(v4: b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            self.init(v6High: b.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) },
                      low: b.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        default: return nil
        }
    }

    /// From libnl's `nl_addr`.
    init?(libnl a: OpaquePointer) {
        guard let raw = nl_addr_get_binary_addr(a) else { return nil }
        self.init(networkBytes: UnsafeRawBufferPointer(start: raw, count: Int(nl_addr_get_len(a))))
    }

    var addressFamily: Int32 { family == .ipv4 ? AF_INET : AF_INET6 }
}

extension NetlinkMessage {
    func put(_ type: Int32, address: IPAddress) {
        address.networkBytes.withUnsafeBytes { put(type, bytes: $0) }
    }
}

extension RouteNetlink {
    /// The addresses in this namespace (of one interface, when given), in kernel order.
    public func addresses(of link: Link? = nil) throws(SystemError) -> [InterfaceAddress] {
        var cache: OpaquePointer? = nil
        let rc = rtnl_addr_alloc_cache(socket, &cache)
        guard rc == 0, let cache else { throw SystemError("list addresses", errno: RouteNetlink.errno(fromLibnl: rc)) }
        defer { nl_cache_free(cache) }
        var out: [InterfaceAddress] = []
        var object = nl_cache_get_first(cache)
        while let o = object {
            let a = o
            let index = rtnl_addr_get_ifindex(a)
            if link == nil || link?.index == index, let local = rtnl_addr_get_local(a), let ip = IPAddress(libnl: local) {
                out.append(InterfaceAddress(interfaceIndex: index, address: ip, prefixLength: Int(rtnl_addr_get_prefixlen(a)),
                                            scope: UInt8(truncatingIfNeeded: rtnl_addr_get_scope(a)),
                                            flags: rtnl_addr_get_flags(a)))
            }
            object = nl_cache_get_next(o)
        }
        return out
    }

    /// Adds `address/prefixLength` to `link`; IPv4 gets its broadcast address, as `ip addr
    /// add ... brd +` and the Go netlink library the reference plugins use both set it.
    public func addAddress(_ address: IPAddress, prefixLength: Int, to link: Link) throws(SystemError) {
        try addressRequest(RTM_NEWADDR, flags: NLM_F_CREATE | NLM_F_EXCL, address, prefixLength, link,
                           "add address \(address)/\(prefixLength) to \(link.name)")
    }

    public func deleteAddress(_ address: IPAddress, prefixLength: Int, from link: Link) throws(SystemError) {
        try addressRequest(RTM_DELADDR, flags: 0, address, prefixLength, link,
                           "remove address \(address)/\(prefixLength) from \(link.name)")
    }

    private func addressRequest(_ type: Int, flags: Int32, _ address: IPAddress, _ prefixLength: Int, _ link: Link,
                                _ operation: String) throws(SystemError) {
        let m = NetlinkMessage(type: type, flags: flags)
        var header = ifaddrmsg()
        header.ifa_family = UInt8(address.addressFamily)
        header.ifa_prefixlen = UInt8(prefixLength)
        header.ifa_index = UInt32(link.index)
        m.append(header)
        m.put(Int32(IFA_LOCAL), address: address)
        m.put(Int32(IFA_ADDRESS), address: address)
        if address.family == .ipv4, prefixLength < 31, type == RTM_NEWADDR {
            let hostBits = UInt32(32 - prefixLength)
            let broadcast = UInt32(truncatingIfNeeded: address.low) | ((1 << hostBits) - 1)
            m.put(Int32(IFA_BROADCAST), address: IPAddress(v4: broadcast))
        }
        try request(m, operation)
    }
}
