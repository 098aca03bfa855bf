import SeawayModel
import SeawayProxyCore
import SeawayRender
import Testing

/// The userspace mode's table between syncs: only map elements change.
@Suite struct UserspaceRendererTests {
    /// Services `name` on 10.96.0.`octet`:80 with the given endpoints.
    private func ruleset(_ services: [(name: String, octet: Int, ips: [String])], allocator: inout ProxyPortAllocator) throws -> UserspaceRuleset {
        var cluster = ClusterState()
        for (name, octet, ips) in services {
            cluster.services.append(Service(metadata: ObjectMeta(name: name, namespace: "ns"), clusterIPs: [IPAddress("10.96.0.\(octet)")!],
                                            ports: [.init(name: "http", port: 80)]))
            cluster.endpointSlices.append(EndpointSlice(
                metadata: ObjectMeta(name: "\(name)-1", namespace: "ns", labels: [EndpointSlice.serviceNameLabel: name]),
                addressType: .ipv4, endpoints: ips.map { .init(addresses: [$0], nodeName: "me") },
                ports: [.init(name: "http", port: 8080)]))
        }
        var o = ProxyOptions()
        o.nodeName = "me"
        return try UserspaceRenderer().render(ServiceMap(cluster: cluster, options: o, family: .ipv4), allocator: &allocator)
    }

    @Test func syncsSendOnlyTheElementsThatChanged() throws {
        var ports = ProxyPortAllocator(range: 10000...29999)
        let before = try ruleset([("a", 10, ["10.1.0.1"]), ("b", 11, ["10.1.0.2"]), ("c", 12, [])], allocator: &ports)
        let full = String(decoding: before.transaction(from: nil), as: UTF8.self)
        #expect(full.hasPrefix("add table ip seaway-userspace\ndelete table ip seaway-userspace\n# seaway userspace proxy"))

        // An endpoint change moves no rule at all; a service gaining endpoints moves its
        // ClusterIP from the refused map to the listener map; a removed one leaves both.
        let endpointOnly = try ruleset([("a", 10, ["10.1.0.1", "10.1.0.9"]), ("b", 11, ["10.1.0.2"]), ("c", 12, [])], allocator: &ports)
        #expect(endpointOnly.transaction(from: before).isEmpty)
        let after = try ruleset([("a", 10, ["10.1.0.1"]), ("c", 12, ["10.1.0.3"])], allocator: &ports)
        let partial = String(decoding: after.transaction(from: endpointOnly), as: UTF8.self).split(separator: "\n").map(String.init)
        let cPort = try #require(after.plan.portals.first { $0.name.name == "c" }?.proxyPort)
        #expect(partial == [
            "delete element ip seaway-userspace no-endpoint-services { 10.96.0.12 . tcp . 80 }",
            "delete element ip seaway-userspace portal-ips { 10.96.0.11 . tcp . 80 }",
            #"add element ip seaway-userspace portal-ips { 10.96.0.12 . tcp . 80 comment "ns/c:http" : \#(cPort) }"#,
        ])
    }

    @Test func sourceRangesAreCheckedBeforeTheRedirectAndNodePortsFollowTheirAddresses() throws {
        var cluster = ClusterState()
        cluster.services = [Service(metadata: ObjectMeta(name: "lb", namespace: "ns"), type: .loadBalancer,
                                    clusterIPs: [IPAddress("10.96.0.10")!], ports: [.init(name: "http", port: 80, nodePort: 30080)],
                                    loadBalancerSourceRanges: [CIDR("203.0.113.0/24")!, CIDR("192.168.0.0/16")!],
                                    loadBalancerIngress: [.init(ip: IPAddress("198.51.100.7"))])]
        var o = ProxyOptions()
        o.nodeName = "me"
        o.nodeIPs = [IPAddress("192.168.0.2")!]
        o.nodePortAddresses = ["192.168.0.0/16"]
        o.interfaceAddresses = [IPAddress("192.168.0.2")!, IPAddress("10.244.1.1")!]
        var ports = ProxyPortAllocator(range: 10000...29999)
        let lines = try UserspaceRenderer().render(ServiceMap(cluster: cluster, options: o, family: .ipv4), allocator: &ports)
            .text.split(separator: "\n").map(String.init)
        let p = "ip seaway-userspace"
        let firewall = NFTablesName.firewall(ServicePortName(namespace: "ns", name: "lb", port: "http", proto: .tcp))
        for expected in [
            "add chain \(p) filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }",
            "add chain \(p) filter-output-pre-dnat { type filter hook output priority -110 ; }",
            "add rule \(p) filter-prerouting-pre-dnat ct state new jump firewall-check",
            "add rule \(p) filter-output-pre-dnat ct state new jump firewall-check",
            "add rule \(p) firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips",
            // The node's IP is in a range, so the VIP may be the source too (as kube-proxy).
            "add rule \(p) \(firewall) ip saddr != { 203.0.113.0/24 , 192.168.0.0/16 , 198.51.100.7 } drop",
            "add element \(p) firewall-ips { 198.51.100.7 . tcp . 80 comment \"ns/lb:http\" : goto \(firewall) }",
            "add set \(p) nodeport-ips { type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ; }",
            "add element \(p) nodeport-ips { 192.168.0.2 }",
            "add rule \(p) portals ip daddr @nodeport-ips meta l4proto tcp redirect to : meta l4proto . th dport map @portal-nodeports",
            "add rule \(p) refused ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
        ] {
            #expect(lines.contains(expected), "missing: \(expected)")
        }
        #expect(!lines.contains { $0.contains("fib daddr type local") })
    }
}
