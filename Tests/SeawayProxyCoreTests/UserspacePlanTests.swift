import Testing
@testable import SeawayModel
@testable import SeawayProxyCore

@Suite struct ProxyPortAllocatorTests {
    @Test func portsComeFromTheNameAndStayWhileTheListenerLives() throws {
        var a = ProxyPortAllocator(range: 10000...29999)
        let first = try a.assign(["ns/web:http/tcp", "ns/dns:dns/udp"])
        #expect(first.values.allSatisfy { (10000...29999).contains($0) })
        // The same names give the same ports in a fresh allocator, whatever the order.
        var fresh = ProxyPortAllocator(range: 10000...29999)
        #expect(try fresh.assign(["ns/dns:dns/udp", "ns/web:http/tcp"]) == first)
        // Adding and removing others leaves a living listener's port alone.
        let second = try a.assign(["ns/web:http/tcp", "ns/other:x/tcp"])
        #expect(second["ns/web:http/tcp"] == first["ns/web:http/tcp"])
        #expect(second["ns/dns:dns/udp"] == nil)
    }

    @Test func collisionsProbeUpwardsAndWrap() throws {
        // A range of three: every key collides with some other, all still get one each.
        var a = ProxyPortAllocator(range: 40000...40002)
        let ports = try a.assign(["a", "b", "c"])
        #expect(Set(ports.values) == [40000, 40001, 40002])
        #expect(throws: ProxyPortAllocator.Exhausted.self) { try a.assign(["a", "b", "c", "d"]) }
    }

    @Test func aPortSomethingElseHoldsIsNeverGivenAgain() throws {
        var a = ProxyPortAllocator(range: 40000...40009)
        let port = try #require(try a.assign(["ns/web:http/tcp"])["ns/web:http/tcp"])
        a.avoid(port)
        let moved = try #require(try a.assign(["ns/web:http/tcp"])["ns/web:http/tcp"])
        #expect(moved != port)
        var others = Set(try a.assign((0..<9).map { "k\($0)" }).values)
        others.insert(port)
        #expect(others.count == 10)
        #expect(throws: ProxyPortAllocator.Exhausted.self) { try a.assign((0..<10).map { "k\($0)" }) }
    }

    @Test func portRangesParseAsKubeProxyWritesThem() {
        #expect(ProxyOptions.portRange("30000-32767") == 30000...32767)
        #expect(ProxyOptions.portRange("20000+100") == 20000...20100)
        #expect(ProxyOptions.portRange("0-100") == nil)
        #expect(ProxyOptions.portRange("200-100") == nil)
        #expect(ProxyOptions.portRange("1000-70000") == nil)
        #expect(ProxyOptions.portRange("abc") == nil)
    }
}

@Suite struct UserspacePlanTests {
    private func plan(_ edit: (inout Service) -> Void, endpoints: [(String, String)],
                      options: (inout ProxyOptions) -> Void = { _ in }) throws -> UserspacePlan {
        var s = Service(metadata: ObjectMeta(name: "web", namespace: "ns"), clusterIPs: [IPAddress("10.96.0.5")!],
                        ports: [.init(name: "http", port: 80)])
        edit(&s)
        var cluster = ClusterState()
        cluster.services = [s]
        if !endpoints.isEmpty {
            cluster.endpointSlices = [EndpointSlice(
                metadata: ObjectMeta(name: "web-1", namespace: "ns", labels: [EndpointSlice.serviceNameLabel: "web"]),
                addressType: .ipv4, endpoints: endpoints.map { .init(addresses: [$0.0], nodeName: $0.1) },
                ports: [.init(name: "http", port: 8080)])]
        }
        var o = ProxyOptions()
        o.nodeName = "me"
        o.nodeIPs = [IPAddress("192.168.0.2")!]
        options(&o)
        var ports = ProxyPortAllocator(range: o.userspacePortRange)
        return try UserspacePlan(ServiceMap(cluster: cluster, options: o, family: .ipv4), allocator: &ports)
    }

    @Test func oneListenerTakesClusterAndExternalTrafficWhenTheirEndpointsAgree() throws {
        let p = try plan({ $0.type = .nodePort; $0.ports[0].nodePort = 30080; $0.externalIPs = [IPAddress("203.0.113.7")!]
                           $0.sessionAffinityClientIP = true; $0.sessionAffinityTimeout = 60 },
                         endpoints: [("10.1.0.1", "me"), ("10.1.0.2", "other")])
        #expect(p.portals.count == 1)
        let portal = try #require(p.portals.first)
        #expect(portal.addresses.map(\.description) == ["10.96.0.5", "203.0.113.7"])
        #expect(portal.nodePort == 30080 && portal.servicePort == 80 && portal.affinitySeconds == 60)
        #expect(portal.endpoints.map(\.description) == ["10.1.0.1:8080", "10.1.0.2:8080"])
        #expect(p.refused.isEmpty)
    }

    @Test func localExternalPolicyGetsItsOwnListenerWithLocalEndpoints() throws {
        let p = try plan({ $0.type = .nodePort; $0.ports[0].nodePort = 30080; $0.externalTrafficPolicy = .local },
                         endpoints: [("10.1.0.1", "me"), ("10.1.0.2", "other")])
        #expect(p.portals.map(\.key) == ["ns/web:http/tcp", "ns/web:http/tcp external"])
        #expect(p.portals[0].endpoints.count == 2 && p.portals[0].nodePort == 0)
        #expect(p.portals[1].endpoints.map(\.description) == ["10.1.0.1:8080"] && p.portals[1].nodePort == 30080)
        #expect(p.portals[1].externalOnly && p.portals[0].proxyPort != p.portals[1].proxyPort)
    }

    @Test func noEndpointsRejectsAndNoLocalEndpointsDrops() throws {
        let none = try plan({ $0.type = .nodePort; $0.ports[0].nodePort = 30080 }, endpoints: [])
        #expect(none.portals.isEmpty)
        #expect(none.refused.map { "\($0.address?.description ?? "node"):\($0.port) \($0.verdict)" } == ["10.96.0.5:80 reject", "node:30080 reject"])
        let remote = try plan({ $0.type = .nodePort; $0.ports[0].nodePort = 30080; $0.externalTrafficPolicy = .local },
                              endpoints: [("10.1.0.2", "other")])
        #expect(remote.portals.map(\.key) == ["ns/web:http/tcp"])
        #expect(remote.refused.map { "\($0.address?.description ?? "node"):\($0.port) \($0.verdict)" } == ["node:30080 drop"])
    }

    @Test func sctpIsNotProxied() throws {
        let p = try plan({ $0.ports[0].proto = .sctp }, endpoints: [("10.1.0.1", "me")])
        #expect(p.portals.isEmpty && p.unsupported.map(\.description) == ["ns/web:http"])
    }

    @Test func sourceRangesFirewallEveryVIPWithOrWithoutEndpoints() throws {
        func loadBalancer(_ ranges: [String]) -> (inout Service) -> Void {
            { $0.type = .loadBalancer; $0.loadBalancerSourceRanges = ranges.map { CIDR($0)! }
              $0.loadBalancerIngress = [.init(ip: IPAddress("198.51.100.7")), .init(ip: IPAddress("198.51.100.8"))] }
        }
        let far = try plan(loadBalancer(["203.0.113.0/24"]), endpoints: [])
        #expect(far.firewalls.map { "\($0.name) \($0.proto.lowercased) \($0.port) \($0.vips) \($0.sourceRanges) \($0.admitsVIPs)" }
                == ["ns/web:http tcp 80 [198.51.100.7, 198.51.100.8] [203.0.113.0/24] false"])
        // A range holding the node's IP lets the VIPs themselves through as sources.
        let near = try plan(loadBalancer(["192.168.0.0/24"]), endpoints: [("10.1.0.1", "me")])
        #expect(near.firewalls.first?.admitsVIPs == true)
        #expect(try plan(loadBalancer([]), endpoints: [("10.1.0.1", "me")]).firewalls.isEmpty)
    }

    @Test func nodePortAddressesNameTheNodeIPsThatTakeNodePorts() throws {
        let all = try plan({ $0.type = .nodePort; $0.ports[0].nodePort = 30080 }, endpoints: [("10.1.0.1", "me")])
        #expect(all.nodePortIPs == nil)
        let some = try plan({ $0.type = .nodePort; $0.ports[0].nodePort = 30080 }, endpoints: [("10.1.0.1", "me")]) {
            $0.nodePortAddresses = ["192.168.0.0/16"]
            $0.interfaceAddresses = ["127.0.0.1", "10.244.1.1", "192.168.0.2", "192.168.5.5"].map { IPAddress($0)! }
        }
        #expect(some.nodePortIPs?.map(\.description) == ["192.168.0.2", "192.168.5.5"])
    }
}
