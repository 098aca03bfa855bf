import Glibc
import SeawayCNI
import SeawayKernel
import SeawayNetlink
import SeawayNet

/// The container half of an attachment. Everything here runs inside
/// `NetworkNamespace.run`, so sysctls and the netlink socket are the container's.
enum ContainerNetwork {
    /// Sets up the container end: for a layer-3 attachment DAD and ARP sysctls, up, the result's addresses, and its
    /// routes (a route without a gateway goes via its family's gateway), as the reference's
    /// `ConfigureIface` does. Returns the interface as it ends up.
    static func configure(ifname: String, result: CNIResult, config: BridgeConfig) throws(SystemError) -> Link {
        let netlink = try RouteNetlink()
        guard let link = try netlink.link(named: ifname) else {
            throw SystemError("look up \(ifname) in the container", errno: ENODEV)
        }
        // A layer-2 attachment (no IPAM) is only brought up, as the reference does.
        guard config.ipamType != nil else {
            if !config.disableContainerInterface { try netlink.setUp(link) }
            return try netlink.link(index: link.index) ?? link
        }
        if config.enableDAD {
            try? Sysctl.write("net/ipv6/conf/\(ifname)/enhanced_dad", "1")
            try? Sysctl.write("net/ipv6/conf/\(ifname)/accept_dad", "1")
        } else {
            try? Sysctl.write("net/ipv6/conf/\(ifname)/accept_dad", "0")
        }
        try? Sysctl.write("net/ipv4/conf/\(ifname)/arp_notify", "1")
        try netlink.setUp(link)

        var gateways: [IPFamily: IPAddress] = [:]
        var ipv6Enabled = false
        for ip in result.ips {
            if ip.address.family == .ipv6 && !ipv6Enabled {
                // An IPv6 address needs IPv6 on (lo too), whatever the image's sysctls say.
                for name in ["lo", ifname] where try Sysctl.read("net/ipv6/conf/\(name)/disable_ipv6") != "0" {
                    try Sysctl.write("net/ipv6/conf/\(name)/disable_ipv6", "0")
                }
                ipv6Enabled = true
            }
            try netlink.addAddress(ip.address, prefixLength: ip.prefixLength, to: link)
            if let gw = ip.gateway, gateways[gw.family] == nil { gateways[gw.family] = gw }
        }
        if gateways[.ipv6] != nil { try settleAddresses(netlink, link, timeoutSeconds: 10) }
        for route in result.routes {
            let family = route.destination.network.family
            try netlink.addRoute(Route(destination: route.destination, gateway: route.gateway ?? gateways[family],
                                       interfaceIndex: link.index), ifname)
        }
        return try netlink.link(index: link.index) ?? link
    }

    /// Waits until no address of `link` is tentative (IPv6 duplicate address detection), as
    /// the reference's `SettleAddresses`; a failed detection is an error.
    static func settleAddresses(_ netlink: RouteNetlink, _ link: Link, timeoutSeconds: Int) throws(SystemError) {
        for _ in 0..<(timeoutSeconds * 20) {
            let addresses = try netlink.addresses(of: link)
            if let failed = addresses.first(where: \.failedDuplicateAddressDetection) {
                throw SystemError("duplicate address detection for \(failed)", errno: EADDRINUSE)
            }
            if !addresses.contains(where: \.isTentative) { return }
            usleep(50_000)
        }
        throw SystemError("wait for \(link.name)'s addresses to settle", errno: ETIMEDOUT)
    }

    /// Deletes the container end (which deletes the veth); nothing when it is already gone.
    static func remove(ifname: String) throws(SystemError) {
        let netlink = try RouteNetlink()
        guard let link = try netlink.link(named: ifname) else { return }
        try netlink.delete(link)
    }

    /// What CHECK compares against the previous result.
    struct Observed {
        var link: Link?
        var addresses: [InterfaceAddress]
        var routes: [Route]
    }

    static func observe(ifname: String) throws(SystemError) -> Observed {
        let netlink = try RouteNetlink()
        let link = try netlink.link(named: ifname)
        return Observed(link: link, addresses: try link.map { (l) throws(SystemError) in try netlink.addresses(of: l) } ?? [],
                        routes: try netlink.routes())
    }
}
