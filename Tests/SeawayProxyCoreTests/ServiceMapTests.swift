import Testing
@testable import SeawayModel
@testable import SeawayProxyCore

private func svc(_ name: String, type: Service.ServiceType = .clusterIP, ips: [String] = ["10.96.0.1"],
                 _ edit: (inout Service) -> Void = { _ in }) -> Service {
    var s = Service(metadata: ObjectMeta(name: name, namespace: "ns"), type: type,
                    clusterIPs: ips.compactMap { IPAddress($0) }, ports: [.init(name: "p", port: 80)])
    edit(&s)
    return s
}

@Suite struct ServicePortInfoTests {
    @Test func skipsWhatKubeProxySkips() {
        #expect(ServicePortInfo.infos(for: svc("a", type: .externalName, ips: []), family: .ipv4).isEmpty)
        #expect(ServicePortInfo.infos(for: svc("b") { $0.isHeadless = true; $0.clusterIPs = [] }, family: .ipv4).isEmpty)
        #expect(ServicePortInfo.infos(for: svc("c"), family: .ipv6).isEmpty)
        let other = svc("d") { $0.metadata.labels["service.kubernetes.io/service-proxy-name"] = "x" }
        #expect(ServicePortInfo.infos(for: other, family: .ipv4).isEmpty)
    }

    @Test func filtersAddressesByFamily() throws {
        let s = svc("e", type: .loadBalancer, ips: ["10.96.0.5", "fd00::5"]) {
            $0.externalIPs = [IPAddress("192.0.2.1")!, IPAddress("2001:db8::1")!]
            $0.loadBalancerSourceRanges = [CIDR("203.0.113.0/24")!, CIDR("2001:db8:1::/48")!]
            $0.loadBalancerIngress = [.init(ip: IPAddress("198.51.100.1")), .init(ip: IPAddress("2001:db8:2::1")),
                                      .init(ip: IPAddress("198.51.100.2"), ipMode: "Proxy")]
        }
        let v6 = try #require(ServicePortInfo.infos(for: s, family: .ipv6).first)
        #expect(v6.clusterIP.description == "fd00::5")
        #expect(v6.externalIPs.map(\.description) == ["2001:db8::1"])
        #expect(v6.loadBalancerSourceRanges.map(\.description) == ["2001:db8:1::/48"])
        #expect(v6.loadBalancerVIPs.map(\.description) == ["2001:db8:2::1"])
        let v4 = try #require(ServicePortInfo.infos(for: s, family: .ipv4).first)
        #expect(v4.loadBalancerVIPs.map(\.description) == ["198.51.100.1"])
    }

    @Test func healthCheckOnlyForLocalLoadBalancers() throws {
        let lb = svc("f", type: .loadBalancer) { $0.externalTrafficPolicy = .local; $0.healthCheckNodePort = 32000 }
        #expect(try #require(ServicePortInfo.infos(for: lb, family: .ipv4).first).healthCheckNodePort == 32000)
        let np = svc("g", type: .nodePort) { $0.externalTrafficPolicy = .local; $0.healthCheckNodePort = 32000 }
        let npInfo = try #require(ServicePortInfo.infos(for: np, family: .ipv4).first)
        #expect(npInfo.healthCheckNodePort == 0)
        #expect(npInfo.externalPolicyLocal)
        let cip = svc("h") { $0.externalTrafficPolicy = .local }
        #expect(try #require(ServicePortInfo.infos(for: cip, family: .ipv4).first).externalPolicyLocal == false)
    }
}

@Suite struct EndpointsMapTests {
    @Test func joinsByPortNameAndProtocolAndSortsAsText() throws {
        let slice = EndpointSlice(
            metadata: ObjectMeta(name: "s", namespace: "ns", labels: [EndpointSlice.serviceNameLabel: "svc"]),
            addressType: .ipv4,
            endpoints: [.init(addresses: ["10.0.0.10"]), .init(addresses: ["10.0.0.9"], nodeName: "me")],
            ports: [.init(name: "p", port: 8080, proto: .tcp), .init(name: "p", port: 53, proto: .udp), .init(name: nil, port: 1)])
        let map = EndpointsMap.build(slices: [slice], family: .ipv4, nodeName: "me")
        let tcp = try #require(map[ServicePortName(namespace: "ns", name: "svc", port: "p", proto: .tcp)])
        // "10.0.0.10:8080" < "10.0.0.9:8080" as text, which is kube-proxy's order.
        #expect(tcp.map(\.description) == ["10.0.0.10:8080", "10.0.0.9:8080"])
        #expect(tcp.map(\.isLocal) == [false, true])
        #expect(map[ServicePortName(namespace: "ns", name: "svc", port: "p", proto: .udp)]?.count == 2)
        #expect(map.count == 2)
        #expect(EndpointsMap.build(slices: [slice], family: .ipv6, nodeName: "me").isEmpty)
    }

    /// A service's slices are read in name order, whatever order they come in, and of two
    /// equal addresses the later one wins unless it is terminating; slices kube-proxy's
    /// informer filters out add nothing. The service map reads them the same way.
    @Test func slicesOfOneServiceMergeInNameOrder() throws {
        func slice(_ name: String, _ endpoints: [EndpointSlice.Endpoint], labels: [String: String] = [:]) -> EndpointSlice {
            EndpointSlice(metadata: ObjectMeta(name: name, namespace: "ns",
                                               labels: labels.merging([EndpointSlice.serviceNameLabel: "a"]) { x, _ in x }),
                          addressType: .ipv4, endpoints: endpoints, ports: [.init(name: "p", port: 8080)])
        }
        let terminating = EndpointSlice.Conditions(ready: false, serving: true, terminating: true)
        let slices = [
            slice("a-2", [.init(addresses: ["10.0.0.1"], conditions: terminating), .init(addresses: ["10.0.0.3"], nodeName: "n2")]),
            slice("a-1", [.init(addresses: ["10.0.0.1"], nodeName: "n1"), .init(addresses: ["10.0.0.2"], conditions: terminating),
                          .init(addresses: ["10.0.0.3"], nodeName: "me")]),
            slice("a-3", [.init(addresses: ["10.0.0.2"], nodeName: "n3")]),
            slice("a-4", [.init(addresses: ["10.0.0.9"])], labels: ["service.kubernetes.io/headless": ""]),
        ]
        let name = ServicePortName(namespace: "ns", name: "a", port: "p", proto: .tcp)
        let built = try #require(EndpointsMap.build(slices: slices, family: .ipv4, nodeName: "me")[name])
        // 10.0.0.1: a-1's ready one stays (a-2's is terminating); 10.0.0.2: a-3's ready one
        // replaces a-1's terminating one; 10.0.0.3: a-2's (on n2) replaces a-1's (on this
        // node), as a-2 comes later by name; a-4 is a headless slice.
        #expect(built.map(\.description) == ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"])
        #expect(built.map(\.ready) == [true, true, true])
        #expect(built.map(\.isLocal) == [false, false, false])

        var cluster = ClusterState()
        cluster.services = [Service(metadata: ObjectMeta(name: "a", namespace: "ns"), type: .clusterIP,
                                    clusterIPs: [IPAddress("10.96.0.1")!], ports: [.init(name: "p", port: 80)])]
        cluster.endpointSlices = slices
        var options = ProxyOptions()
        options.nodeName = "me"
        let map = ServiceMap(cluster: cluster, options: options, family: .ipv4)
        #expect(map.ports.map(\.allEndpoints) == [built])
    }
}

@Suite struct NodePortAddressesTests {
    @Test func emptyMatchesAll() {
        let n = NodePortAddresses(specs: [], family: .ipv4, primaryIP: nil)
        #expect(n.matchAll && n.containsIPv4Loopback)
    }

    @Test func primaryIsTheNodeIP() {
        let n = NodePortAddresses(specs: ["primary"], family: .ipv4, primaryIP: IPAddress("192.168.0.2"))
        #expect(!n.matchAll && !n.containsIPv4Loopback)
        #expect(n.cidrs.map(\.description) == ["192.168.0.2/32"])
    }

    @Test func otherFamilyOnlyMeansAll() {
        let n = NodePortAddresses(specs: ["2001:db8::/64"], family: .ipv4, primaryIP: nil)
        #expect(n.matchAll)
    }

    @Test func selectsInterfaceAddressesInOrder() {
        let n = NodePortAddresses(specs: ["192.168.0.0/24", "127.0.0.0/8"], family: .ipv4, primaryIP: nil)
        #expect(n.containsIPv4Loopback)
        let ips = n.nodeIPs(interfaceAddresses: ["127.0.0.1", "10.0.0.1", "192.168.0.9", "192.168.0.9"].compactMap { IPAddress($0) })
        #expect(ips.map(\.description) == ["192.168.0.9", "127.0.0.1"])
    }
}

@Suite struct ProxyOptionsResolveTests {
    private var cluster: ClusterState {
        var c = ClusterState()
        c.nodes = [ClusterNode(metadata: ObjectMeta(name: "n1", labels: ["topology.kubernetes.io/zone": "z"]),
                               podCIDRs: [CIDR("10.1.0.0/24")!], internalIPs: [IPAddress("192.168.0.1")!])]
        return c
    }

    @Test func flagsBeatConfigBeatDefaults() throws {
        var config = KubeProxyConfiguration()
        config.clusterCIDR = "10.0.0.0/8"
        config.iptables.masqueradeBit = 12
        var flags = ProxyFlags()
        flags.clusterCIDR = "10.99.0.0/16"
        let o = try ProxyOptions.resolve(mode: .iptables, flags: flags, config: config, host: nil, cluster: cluster)
        #expect(o.detectLocal == .clusterCIDR([CIDR("10.99.0.0/16")!]))
        #expect(o.masqueradeBit == 12 && o.masqueradeMark == "0x00001000")
        #expect(o.nodeName == "n1" && o.nodeIPs.map(\.description) == ["192.168.0.1"])
        #expect(o.nodeLabels["topology.kubernetes.io/zone"] == "z")
        #expect(o.nodePortAddresses == [])
        let nft = try ProxyOptions.resolve(mode: .nftables, flags: flags, config: config, host: nil, cluster: cluster)
        #expect(nft.nodePortAddresses == ["primary"])
    }

    @Test func nodeCIDRModeUsesThePodCIDR() throws {
        var flags = ProxyFlags()
        flags.detectLocalMode = "NodeCIDR"
        let o = try ProxyOptions.resolve(mode: .iptables, flags: flags, config: nil, host: nil, cluster: cluster)
        #expect(o.detectLocal == .nodeCIDR([CIDR("10.1.0.0/24")!]))
        flags.hostnameOverride = "unknown-node"
        #expect(throws: ProxyConfigurationError.self) {
            try ProxyOptions.resolve(mode: .iptables, flags: flags, config: nil, host: nil, cluster: cluster)
        }
    }

    @Test func badSettingsNameTheSetting() throws {
        var flags = ProxyFlags()
        flags.nodePortAddresses = ["nonsense"]
        #expect(throws: ProxyConfigurationError(setting: "--nodeport-addresses", message: "'nonsense' is not a CIDR or 'primary'")) {
            try ProxyOptions.resolve(mode: .iptables, flags: flags, config: nil, host: nil, cluster: ClusterState())
        }
        flags = ProxyFlags()
        flags.ipvsScheduler = "fifo"
        #expect(throws: ProxyConfigurationError.self) {
            try ProxyOptions.resolve(mode: .ipvs, flags: flags, config: nil, host: nil, cluster: ClusterState())
        }
        flags = ProxyFlags()
        flags.detectLocalMode = "Magic"
        #expect(throws: ProxyConfigurationError.self) {
            try ProxyOptions.resolve(mode: .iptables, flags: flags, config: nil, host: nil, cluster: ClusterState())
        }
        for shards in [0, 65] {
            flags = ProxyFlags()
            flags.nftablesShards = shards
            #expect(throws: ProxyConfigurationError(setting: "--nftables-shards", message: "\(shards) is not a number of tables from 1 to 64")) {
                try ProxyOptions.resolve(mode: .nftables, flags: flags, config: nil, host: nil, cluster: ClusterState())
            }
        }
        flags.nftablesShards = 64
        #expect(try ProxyOptions.resolve(mode: .nftables, flags: flags, config: nil, host: nil, cluster: ClusterState()).nftablesShards == 64)
    }
}

@Suite struct EndpointOrderTests {
    /// The packed key orders `ip:port` texts exactly as comparing the strings does.
    @Test func textKeyOrderEqualsStringOrder() {
        var rng = SystemRandomNumberGenerator()
        var endpoints: [EndpointInfo] = []
        for _ in 0..<400 {
            let ip: IPAddress = Bool.random(using: &rng)
                ? IPAddress(v4: UInt32.random(in: 0...0xFFFF_FFFF, using: &rng) & 0x0A0A_FFFF)
                : IPAddress(v6High: 0xfd00_0000_0000_0000 | UInt64.random(in: 0...3, using: &rng), low: UInt64.random(in: 0...0xFFFF, using: &rng) << 48 | 0x1234)
            endpoints.append(EndpointInfo(ip: ip, port: [80, 8080, 9, 65535].randomElement(using: &rng)!, isLocal: false,
                                          ready: true, serving: true, terminating: false))
        }
        for x in endpoints.prefix(100) {
            for y in endpoints {
                #expect((TextKey(x.description) < TextKey(y.description)) == (x.description < y.description), "\(x.description) vs \(y.description)")
                #expect((TextKey(x.description) == TextKey(y.description)) == (x.description == y.description))
            }
        }
        let deduped = EndpointsMap.deduplicated(endpoints + endpoints)
        #expect(deduped.map(\.description) == Array(Set(endpoints.map(\.description))).sorted())
    }

    /// The order decided from the numbers (IPv4) is the order of the texts: octets with one,
    /// two and three digits in every position, and ports of different lengths.
    @Test func endpointOrderFromNumbersEqualsStringOrder() {
        var rng = SystemRandomNumberGenerator()
        let octets: [UInt32] = [0, 1, 2, 9, 10, 11, 19, 20, 99, 100, 101, 109, 110, 199, 200, 255]
        var endpoints: [EndpointInfo] = []
        for _ in 0..<600 {
            let v = (0..<4).reduce(UInt32(0)) { acc, _ in acc << 8 | octets.randomElement(using: &rng)! }
            endpoints.append(EndpointInfo(ip: IPAddress(v4: v), port: [1, 8, 80, 800, 8080, 9, 65535].randomElement(using: &rng)!,
                                          isLocal: false, ready: true, serving: true, terminating: false))
        }
        for x in endpoints.prefix(150) {
            for y in endpoints {
                #expect(EndpointTextOrder.less(x, y) == (x.description < y.description), "\(x.description) vs \(y.description)")
            }
        }
    }

    /// IPv4 endpoints come out in text order, and of equal
    /// ones the last not terminating wins, else the first: as kube-proxy overwrites.
    @Test func ipv4EndpointsSortAndKeepKubeProxysDuplicate() {
        func ep(_ ip: String, _ port: Int, terminating: Bool = false, ready: Bool = true) -> EndpointInfo {
            EndpointInfo(ip: IPAddress(ip)!, port: port, isLocal: false, ready: ready, serving: true, terminating: terminating)
        }
        let list = [ep("10.0.0.2", 80), ep("10.0.0.10", 80), ep("10.0.0.2", 80, terminating: true),
                    ep("10.0.0.1", 8080, ready: false), ep("10.0.0.1", 8080), ep("9.9.9.9", 1),
                    ep("10.0.0.3", 80, terminating: true), ep("10.0.0.3", 80, terminating: true, ready: false)]
        let out = EndpointsMap.deduplicated(list)
        #expect(out.map(\.description) == ["10.0.0.10:80", "10.0.0.1:8080", "10.0.0.2:80", "10.0.0.3:80", "9.9.9.9:1"])
        #expect(out[1].ready, "the later of two live duplicates wins")
        #expect(!out[2].terminating, "a terminating duplicate does not replace a live one")
        #expect(out[3].ready, "of terminating duplicates only, the first stays")
    }
}
