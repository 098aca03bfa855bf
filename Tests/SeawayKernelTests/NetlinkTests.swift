import Foundation
import SeawayKernel
import SeawayNetlink
import SeawayNet
import SeawayTestSupport
import Testing

/// The netlink layer against the real kernel, inside namespaces made for each test; what we
/// did is read back with iproute2, not only with our own reader.
@Suite(.enabled(if: ThrowawayNamespace.available(requiring: ["/usr/sbin/bridge", "/usr/sbin/sysctl"]),
                "SKIPPED LOUDLY: netlink tests need root, ip, bridge and sysctl (CI runs as root)"))
struct NetlinkTests {
    /// Runs `body` with a netlink socket opened inside `ns`.
    func inside<T>(_ ns: ThrowawayNamespace, _ body: (RouteNetlink) throws(SystemError) -> T) throws -> T {
        let namespace = try NetworkNamespace(path: ns.path)
        return try namespace.run { () throws(SystemError) -> T in try body(try RouteNetlink()) }
    }

    func json(_ ns: ThrowawayNamespace, _ args: [String]) throws -> [[String: Any]] {
        let out = try ns.exec(args, check: true).output
        return try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] ?? []
    }

    @Test func bridgeAndVethWithThePeerCreatedInTheOtherNamespace() throws {
        let node = try ThrowawayNamespace(), pod = try ThrowawayNamespace()
        defer { node.close(); pod.close() }
        let podNamespace = try NetworkNamespace(path: pod.path)
        let (bridge, host) = try inside(node) { (nl) throws(SystemError) -> (Link, Link) in
            try nl.createBridge(name: "br0", mtu: 1400, vlanFiltering: false)
            try nl.createVeth(name: "vethtest1", peerName: "eth0", peerNamespace: podNamespace.descriptor, mtu: 1400,
                              peerMAC: MACAddress("02:00:00:aa:bb:cc"))
            let br = try nl.link(named: "br0")!, veth = try nl.link(named: "vethtest1")!
            try nl.setMaster(veth, br)
            try nl.setHairpin(veth, true)
            try nl.setUp(br)
            try nl.setUp(veth)
            return (try nl.link(named: "br0")!, try nl.link(named: "vethtest1")!)
        }
        #expect(bridge.kind == "bridge")
        #expect(bridge.mtu == 1400)
        #expect(host.kind == "veth")
        #expect(host.masterIndex == bridge.index)
        #expect(try inside(node) { (nl) throws(SystemError) in try nl.link(named: "eth0") } == nil)

        let container = try #require(try inside(pod) { (nl) throws(SystemError) in try nl.link(named: "eth0") })
        #expect(container.mac?.description == "02:00:00:aa:bb:cc")
        #expect(container.peerIndex == host.index)
        #expect(host.peerIndex == container.index)

        let slave = try json(node, ["ip", "-d", "-j", "link", "show", "vethtest1"]).first
        let info = (slave?["linkinfo"] as? [String: Any])?["info_slave_data"] as? [String: Any]
        #expect(info?["hairpin"] as? Bool == true)
        #expect(slave?["master"] as? String == "br0")
        #expect(try json(pod, ["ip", "-j", "link", "show", "eth0"]).first?["mtu"] as? Int == 1400)
    }

    @Test func errorsCarryTheOperationTheErrnoAndTheKernelsReason() throws {
        let node = try ThrowawayNamespace()
        defer { node.close() }
        try inside(node) { (nl) throws(SystemError) in try nl.createBridge(name: "br0", mtu: nil, vlanFiltering: false) }
        let again = #expect(throws: SystemError.self) {
            try inside(node) { (nl) throws(SystemError) in try nl.createBridge(name: "br0", mtu: nil, vlanFiltering: false) }
        }
        #expect(again?.errno == EEXIST)
        #expect(again?.description.hasPrefix("create bridge br0: File exists") == true)

        // A name longer than IFNAMSIZ fails the kernel's attribute policy, which says so.
        let long = #expect(throws: SystemError.self) {
            try inside(node) { (nl) throws(SystemError) in try nl.createBridge(name: "averyveryverylongname", mtu: nil, vlanFiltering: false) }
        }
        #expect(long?.errno == ERANGE)
        #expect(long?.kernelMessage?.isEmpty == false, "\(String(describing: long))")
    }

    @Test func addressesAndRoutesAsIproute2SeesThem() throws {
        let node = try ThrowawayNamespace()
        defer { node.close() }
        let (addresses, routes) = try inside(node) { (nl) throws(SystemError) -> ([InterfaceAddress], [Route]) in
            try nl.createBridge(name: "br9", mtu: nil, vlanFiltering: false)
            let d = try nl.link(named: "br9")!
            try nl.setUp(d)
            try nl.addAddress(IPAddress("10.9.0.2")!, prefixLength: 16, to: d)
            try nl.addAddress(IPAddress("fd00:9::2")!, prefixLength: 64, to: d)
            try nl.addRoute(Route(destination: CIDR("0.0.0.0/0")!, gateway: IPAddress("10.9.0.1"), interfaceIndex: d.index), "br9")
            try nl.addRoute(Route(destination: CIDR("192.168.0.0/16")!, gateway: IPAddress("10.9.0.254"), interfaceIndex: d.index), "br9")
            return (try nl.addresses(of: d), try nl.routes(family: .ipv4))
        }
        #expect(addresses.filter { !$0.isLinkLocal }.map(\.description) == ["10.9.0.2/16", "fd00:9::2/64"])
        let v4 = try json(node, ["ip", "-4", "-j", "addr", "show", "br9"]).first?["addr_info"] as? [[String: Any]]
        #expect(v4?.first?["broadcast"] as? String == "10.9.255.255")
        #expect(routes.map(\.description).contains("0.0.0.0/0 via 10.9.0.1 dev #\(addresses[0].interfaceIndex)"))
        #expect(routes.first { $0.destination.description == "192.168.0.0/16" }?.proto == 3)
        let shown = try node.exec(["ip", "-4", "route", "show", "proto", "boot"]).output
        #expect(shown.contains("default via 10.9.0.1 dev br9"))
        #expect(shown.contains("192.168.0.0/16 via 10.9.0.254 dev br9"))
    }

    /// Real VLANs where the kernel has VLAN filtering; where it does not (this project's CI
    /// kernel), the error that says so.
    @Test func vlanFilteringBridgesTakePortVLANsOrSayTheKernelCannot() throws {
        let node = try ThrowawayNamespace(), pod = try ThrowawayNamespace()
        defer { node.close(); pod.close() }
        let podNamespace = try NetworkNamespace(path: pod.path)
        guard try inside(node, { (nl) throws(SystemError) in try nl.bridgeVLANFilteringSupported() }) else {
            print("NOTE: this kernel has no bridge VLAN filtering; checking the error instead of VLANs")
            let error = #expect(throws: SystemError.self) {
                try inside(node) { (nl) throws(SystemError) in try nl.createBridge(name: "br0", mtu: nil, vlanFiltering: true) }
            }
            #expect(error?.description == "create bridge br0 with VLAN filtering: Operation not supported (this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING))")
            #expect(try node.exec(["ip", "link", "show", "br0"], check: false).status != 0)
            return
        }
        try inside(node) { (nl) throws(SystemError) in
            try nl.createBridge(name: "br0", mtu: nil, vlanFiltering: true)
            try nl.createVeth(name: "vethtest2", peerName: "eth0", peerNamespace: podNamespace.descriptor, mtu: nil, peerMAC: nil)
            let veth = try nl.link(named: "vethtest2")!
            try nl.setMaster(veth, try nl.link(named: "br0")!)
            try nl.addBridgeVLAN(veth, vid: 100, pvid: true, untagged: true)
            try nl.deleteBridgeVLAN(veth, vid: 1)
        }
        let vlans = try json(node, ["bridge", "-j", "vlan", "show", "dev", "vethtest2"]).first?["vlans"] as? [[String: Any]]
        #expect(vlans?.count == 1)
        #expect(vlans?.first?["vlan"] as? Int == 100)
        #expect((vlans?.first?["flags"] as? [String])?.sorted() == ["Egress Untagged", "PVID"])
        #expect(try node.exec(["ip", "-d", "link", "show", "br0"]).output.contains("vlan_filtering 1"))
    }

    @Test func sysctlsAndLinkDeletionStayInTheirNamespace() throws {
        let node = try ThrowawayNamespace()
        defer { node.close() }
        let rootForwarding = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)
        try inside(node) { (nl) throws(SystemError) in
            try nl.createBridge(name: "br7", mtu: nil, vlanFiltering: false)
            try Sysctl.write("net/ipv6/conf/br7/accept_ra", "0")
            try Sysctl.ensure("net/ipv4/ip_forward", "1")
            try nl.delete(try nl.link(named: "br7")!)
        }
        #expect(try node.exec(["sysctl", "-n", "net.ipv4.ip_forward"]).output.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8) == rootForwarding)
        #expect(try node.exec(["ip", "link", "show", "br7"], check: false).status != 0)
    }

    @Test func namespacesAreCheckedWhenOpened() throws {
        #expect(throws: SystemError.self) { try NetworkNamespace(path: "/nonexistent/ns") }
        let notANamespace = #expect(throws: SystemError.self) { try NetworkNamespace(path: "/etc/hostname") }
        #expect(notANamespace?.errno == EINVAL)
        #expect(notANamespace?.description.contains("not a namespace") == true)
        // The thread that ran the work is gone; ours never changed namespace.
        let before = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")
        let node = try ThrowawayNamespace()
        defer { node.close() }
        let inner = try NetworkNamespace(path: node.path).run { () throws(SystemError) -> String in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")) ?? ""
        }
        #expect(inner != before)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net") == before)
    }
}
