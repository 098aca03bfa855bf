import SeawayKernel
import CNetlink
import Glibc
import SeawayNet

/// A route in the main table.
public struct Route: Sendable, Equatable, CustomStringConvertible {
    public var destination: CIDR
    public var gateway: IPAddress?
    public var interfaceIndex: Int32?
    /// RTPROT_*: 2 kernel, 3 boot, 4 static.
    public var proto: UInt8
    /// RT_SCOPE_*: 0 universe, 253 link.
    public var scope: UInt8

    public init(destination: CIDR, gateway: IPAddress?, interfaceIndex: Int32?, proto: UInt8 = 3, scope: UInt8 = 0) {
        self.destination = destination
        self.gateway = gateway
        self.interfaceIndex = interfaceIndex
        self.proto = proto
        self.scope = scope
    }

    public var description: String {
        "\(destination)" + (gateway.map { " via \($0)" } ?? "") + (interfaceIndex.map { " dev #\($0)" } ?? "")
    }
}

extension RouteNetlink {
    /// The main table's unicast routes of `family` (both when nil).
    public func routes(family: IPFamily? = nil) throws(SystemError) -> [Route] {
        var cache: OpaquePointer? = nil
        let af = family.map { $0 == .ipv4 ? AF_INET : AF_INET6 } ?? AF_UNSPEC
        let rc = rtnl_route_alloc_cache(socket, af, 0, &cache)
        guard rc == 0, let cache else { throw SystemError("list routes", errno: RouteNetlink.errno(fromLibnl: rc)) }
        defer { nl_cache_free(cache) }
        var out: [Route] = []
        var object = nl_cache_get_first(cache)
        while let o = object {
            let r = o
            object = nl_cache_get_next(o)
            guard rtnl_route_get_table(r) == UInt32(RT_TABLE_MAIN.rawValue), rtnl_route_get_type(r) == UInt8(RTN_UNICAST),
                  let dst = rtnl_route_get_dst(r) else { continue }
            let routeFamily: IPFamily = rtnl_route_get_family(r) == UInt8(AF_INET) ? .ipv4 : .ipv6
            let network = nl_addr_get_len(dst) == 0 ? IPAddress.unspecified(routeFamily) : IPAddress(libnl: dst)
            guard let network else { continue }
            var gateway: IPAddress? = nil
            var index: Int32? = nil
            if rtnl_route_get_nnexthops(r) > 0, let hop = rtnl_route_nexthop_n(r, 0) {
                gateway = rtnl_route_nh_get_gateway(hop).flatMap { IPAddress(libnl: $0) }
                index = rtnl_route_nh_get_ifindex(hop)
            }
            out.append(Route(destination: CIDR(network: network, prefixLength: Int(nl_addr_get_prefixlen(dst))),
                             gateway: gateway, interfaceIndex: index, proto: rtnl_route_get_protocol(r),
                             scope: rtnl_route_get_scope(r)))
        }
        return out
    }

    /// Adds a route in the main table, `proto boot` as the reference plugins' Go netlink
    /// library does (libnl would default to static, which `ip route` would show as a difference).
    /// Create without exclusive, as they do: an equal route is EEXIST, a different one is added.
    public func addRoute(_ route: Route, _ linkName: String) throws(SystemError) {
        let m = NetlinkMessage(type: RTM_NEWROUTE, flags: NLM_F_CREATE)
        var header = rtmsg()
        header.rtm_family = UInt8(route.destination.network.addressFamily)
        header.rtm_dst_len = UInt8(route.destination.prefixLength)
        header.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
        header.rtm_protocol = route.proto
        header.rtm_scope = route.scope
        header.rtm_type = UInt8(RTN_UNICAST)
        m.append(header)
        m.put(Int32(RTA_DST.rawValue), address: route.destination.network)
        if let gw = route.gateway { m.put(Int32(RTA_GATEWAY.rawValue), address: gw) }
        if let index = route.interfaceIndex { m.put(Int32(RTA_OIF.rawValue), u32: UInt32(index)) }
        try request(m, "add route \(route.destination)" + (route.gateway.map { " via \($0)" } ?? "") + " dev \(linkName)")
    }
}

extension IPAddress {
    /// The all-zeros address of `family` (`0.0.0.0` or `::`).
    static func unspecified(_ family: IPFamily) -> IPAddress {
        family == .ipv4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, low: 0)
    }
}
