import SeawayModel
import SeawayProxyCore
import SeawayRender
import Testing

/// IPVS mode decisions that differ from the iptables and nftables modes.
@Suite struct IPVSRendererTests {
    private func render(_ services: [Service], _ slices: [EndpointSlice], family: IPFamily = .ipv4,
                        edit: (inout ProxyOptions) -> Void = { _ in }) -> IPVSRuleset {
        var cluster = ClusterState()
        cluster.services = services
        cluster.endpointSlices = slices
        var o = ProxyOptions()
        o.nodeName = "me"
        o.nodeIPs = [IPAddress("192.168.0.2")!, IPAddress("2001:db8::2")!]
        o.interfaceAddresses = ["127.0.0.1", "192.168.0.2", "2001:db8::2", "fe80::1"].compactMap { IPAddress($0) }
        o.detectLocal = .clusterCIDR([CIDR("10.0.0.0/8")!])
        edit(&o)
        return IPVSRenderer().render(ServiceMap(cluster: cluster, options: o, family: family))
    }

    private func service(_ edit: (inout Service) -> Void) -> Service {
        var s = Service(metadata: ObjectMeta(name: "web", namespace: "ns"), clusterIPs: [IPAddress("10.96.0.5")!],
                        ports: [.init(name: "http", port: 80)])
        edit(&s)
        return s
    }

    private func slice(_ endpoints: [(String, String?)], family: EndpointSlice.AddressType = .ipv4) -> EndpointSlice {
        EndpointSlice(metadata: ObjectMeta(name: "web-1", namespace: "ns", labels: [EndpointSlice.serviceNameLabel: "web"]),
                      addressType: family,
                      endpoints: endpoints.map { .init(addresses: [$0.0], nodeName: $0.1) },
                      ports: [.init(name: "http", port: 8080)])
    }

    @Test func localPolicyWithoutLocalEndpointsFallsBackToClusterEndpoints() throws {
        let r = render([service { $0.type = .nodePort; $0.externalTrafficPolicy = .local; $0.ports[0].nodePort = 30080 }],
                       [slice([("10.1.0.1", "other")])])
        let nodePort = try #require(r.virtualServers.first { $0.port == 30080 })
        #expect(nodePort.address.description == "192.168.0.2")
        #expect(nodePort.realServers.map(\.address.description) == ["10.1.0.1"])
        #expect(r.ipsets.first { $0.name == "KUBE-NODE-PORT-LOCAL-TCP" }?.entries == ["30080"])
        // No loop-back entry: the endpoint is not on this node.
        #expect(r.ipsets.first { $0.name == "KUBE-LOOP-BACK" }?.entries == [])
    }

    @Test func affinityAndSchedulerFlags() throws {
        let r = render([service { $0.sessionAffinityClientIP = true; $0.sessionAffinityTimeout = 30 }],
                       [slice([("10.1.0.1", "me")])]) { $0.ipvsScheduler = "mh" }
        #expect(r.ipvsadmText == "-A -t 10.96.0.5:80 -s mh -b mh-port -p 30\n-a -t 10.96.0.5:80 -r 10.1.0.1:8080 -m -w 1\n")
        #expect(r.ipsets.first { $0.name == "KUBE-LOOP-BACK" }?.entries == ["10.1.0.1,tcp:8080,10.1.0.1"])
    }

    @Test func sourceRangesWithoutTheNodeBlockNodeAccess() throws {
        let r = render([service {
            $0.type = .loadBalancer
            $0.loadBalancerSourceRanges = [CIDR("203.0.113.0/24")!]
            $0.loadBalancerIngress = [.init(ip: IPAddress("198.51.100.7"))]
        }], [slice([("10.1.0.1", nil)])])
        #expect(r.ipsets.first { $0.name == "KUBE-LOAD-BALANCER-SOURCE-CIDR" }?.entries == ["198.51.100.7,tcp:80,203.0.113.0/24"])
        #expect(r.ipsets.first { $0.name == "KUBE-LOAD-BALANCER-SOURCE-IP" }?.entries == [])
        let out = try #require(r.iptables.filter.chain(named: "KUBE-IPVS-OUT-FILTER"))
        #expect(out.rules.lines == ["-A KUBE-IPVS-OUT-FILTER -s 198.51.100.7 -m ipvs --vaddr 198.51.100.7 --vproto tcp --vport 80 -j DROP"])
        #expect(r.dummyAddresses.map(\.description) == ["10.96.0.5", "198.51.100.7"])
    }

    @Test func ipv6UsesKube6SetsAndBracketedAddresses() throws {
        let r = render([service { $0.clusterIPs = [IPAddress("fd00::5")!]; $0.type = .nodePort; $0.ports[0].nodePort = 30080 }],
                       [slice([("fd00:1::1", "me")], family: .ipv6)], family: .ipv6)
        #expect(r.ipsets.map(\.name).contains("KUBE-6-LOAD-BALANCER-SOURCE-CID"))  // 32 characters, cut to 31
        #expect(r.ipsets.map(\.name).contains("KUBE-6-NODE-PORT-LOCAL-SCTP-HAS"))  // cut at 31 characters
        #expect(r.ipvsadmText.hasPrefix("-A -t [fd00::5]:80 -s rr\n-a -t [fd00::5]:80 -r [fd00:1::1]:8080 -m -w 1\n"))
        // NodePorts listen on the node's global address only (not loopback or link-local).
        #expect(r.virtualServers.filter { $0.port == 30080 }.map(\.address.description) == ["2001:db8::2"])
        #expect(r.ipsets.first { $0.name == "KUBE-6-CLUSTER-IP" }?.options == "family inet6 hashsize 1024 maxelem 65536")
    }

    @Test func withoutLocalDetectionClusterIPsMasqueradeVIPSourcedTraffic() throws {
        let r = render([service { _ in }], [slice([("10.1.0.1", nil)])]) { $0.detectLocal = .none }
        let rules = try #require(r.iptables.nat.chain(named: "KUBE-SERVICES")).rules.lines
        #expect(rules.contains("-A KUBE-SERVICES -m comment --comment \"Kubernetes service cluster ip + port for masquerade purpose\" -m set --match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ"))
    }
}
