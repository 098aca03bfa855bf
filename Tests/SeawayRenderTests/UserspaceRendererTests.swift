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
}
