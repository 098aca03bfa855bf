import Testing
@testable import SeawayModel
@testable import SeawayProxyCore

private func ep(_ ip: String, local: Bool = false, ready: Bool = true, serving: Bool = true,
                terminating: Bool = false, zones: [String]? = nil, nodes: [String]? = nil) -> EndpointInfo {
    EndpointInfo(ip: IPAddress(ip)!, port: 80, isLocal: local, ready: ready, serving: serving,
                 terminating: terminating, zoneHints: zones.map(Set.init), nodeHints: nodes.map(Set.init))
}

private func service(internalLocal: Bool = false, externalLocal: Bool = false, nodePort: Int = 0) -> ServicePortInfo {
    ServicePortInfo(name: ServicePortName(namespace: "ns", name: "svc", port: "p", proto: .tcp),
                    clusterIP: IPAddress("10.96.0.1")!, port: 80, nodePort: nodePort, loadBalancerVIPs: [],
                    sessionAffinityClientIP: false, stickyMaxAgeSeconds: 0, externalIPs: [],
                    loadBalancerSourceRanges: [], healthCheckNodePort: 0,
                    externalPolicyLocal: externalLocal, internalPolicyLocal: internalLocal)
}

private func categorize(_ eps: [EndpointInfo], _ svc: ServicePortInfo, zone: String = "z1") -> EndpointCategories {
    EndpointCategories(endpoints: eps, service: svc, nodeName: "me",
                       nodeLabels: [ClusterNode.zoneLabel: zone])
}

private func ips(_ list: [EndpointInfo]) -> [String] { list.map(\.ip.description) }

/// Table cases after kube-proxy's pkg/proxy/topology_test.go, expectations from its semantics.
@Suite struct CategorizeEndpointsTests {
    @Test func noHintsUsesEveryReadyEndpoint() {
        let c = categorize([ep("10.0.0.1"), ep("10.0.0.2"), ep("10.0.0.3", ready: false, serving: false)], service())
        #expect(ips(c.cluster) == ["10.0.0.1", "10.0.0.2"])
        #expect(c.local.isEmpty)
        #expect(ips(c.allReachable) == ["10.0.0.1", "10.0.0.2"])
        #expect(c.hasAnyEndpoints)
    }

    @Test func zoneHintsForThisZoneFilter() {
        let c = categorize([ep("10.0.0.1", zones: ["z1"]), ep("10.0.0.2", zones: ["z2"]), ep("10.0.0.3", zones: ["z1", "z2"])], service())
        #expect(ips(c.cluster) == ["10.0.0.1", "10.0.0.3"])
    }

    @Test func zoneHintsWithoutThisZoneAreIgnored() {
        let c = categorize([ep("10.0.0.1", zones: ["z2"]), ep("10.0.0.2", zones: ["z3"])], service())
        #expect(ips(c.cluster) == ["10.0.0.1", "10.0.0.2"])
    }

    @Test func oneEndpointWithoutHintsDisablesTopology() {
        let c = categorize([ep("10.0.0.1", zones: ["z1"]), ep("10.0.0.2")], service())
        #expect(ips(c.cluster) == ["10.0.0.1", "10.0.0.2"])
    }

    @Test func notReadyEndpointsWithoutHintsDoNotDisableTopology() {
        let c = categorize([ep("10.0.0.1", zones: ["z1"]), ep("10.0.0.2", zones: ["z2"]), ep("10.0.0.3", ready: false)], service())
        #expect(ips(c.cluster) == ["10.0.0.1"])
    }

    @Test func nodeHintsWinOverZoneHints() {
        let c = categorize([ep("10.0.0.1", zones: ["z1"], nodes: ["me"]), ep("10.0.0.2", zones: ["z1"], nodes: ["other"])], service())
        #expect(ips(c.cluster) == ["10.0.0.1"])
    }

    @Test func nodeHintsForOtherNodesFallBackToZone() {
        let c = categorize([ep("10.0.0.1", zones: ["z1"], nodes: ["a"]), ep("10.0.0.2", zones: ["z2"], nodes: ["b"])], service())
        #expect(ips(c.cluster) == ["10.0.0.1"])
    }

    @Test func servingTerminatingFallbackWhenNothingIsReady() {
        let c = categorize([ep("10.0.0.1", ready: false, serving: true, terminating: true),
                            ep("10.0.0.2", ready: false, serving: false, terminating: true)], service())
        #expect(ips(c.cluster) == ["10.0.0.1"])
        #expect(c.hasAnyEndpoints)
    }

    @Test func readyEndpointsHideTerminatingOnes() {
        let c = categorize([ep("10.0.0.1"), ep("10.0.0.2", ready: false, serving: true, terminating: true)], service())
        #expect(ips(c.cluster) == ["10.0.0.1"])
    }

    @Test func nothingUsable() {
        let c = categorize([ep("10.0.0.1", ready: false, serving: false)], service())
        #expect(c.cluster.isEmpty && c.allReachable.isEmpty)
        #expect(!c.hasAnyEndpoints)
    }

    @Test func internalLocalUsesOnlyLocalEndpoints() {
        let c = categorize([ep("10.0.0.1", local: true), ep("10.0.0.2")], service(internalLocal: true))
        #expect(c.cluster.isEmpty)
        #expect(ips(c.local) == ["10.0.0.1"])
        #expect(ips(c.allReachable) == ["10.0.0.1"])
        #expect(c.hasAnyEndpoints)
    }

    @Test func internalLocalWithOnlyRemoteEndpointsStillHasEndpoints() {
        let c = categorize([ep("10.0.0.2")], service(internalLocal: true))
        #expect(c.local.isEmpty && c.allReachable.isEmpty)
        #expect(c.hasAnyEndpoints)
    }

    @Test func localFallsBackToLocalTerminatingWhileClusterUsesRemoteReady() {
        let c = categorize([ep("10.0.0.1", local: true, ready: false, serving: true, terminating: true), ep("10.0.0.2")],
                           service(externalLocal: true, nodePort: 30000))
        #expect(ips(c.cluster) == ["10.0.0.2"])
        #expect(ips(c.local) == ["10.0.0.1"])
        #expect(ips(c.allReachable) == ["10.0.0.1", "10.0.0.2"])
    }

    @Test func externalLocalClusterIsSupersetWithoutTopology() {
        let c = categorize([ep("10.0.0.1", local: true), ep("10.0.0.2")], service(externalLocal: true, nodePort: 30000))
        #expect(ips(c.cluster) == ["10.0.0.1", "10.0.0.2"])
        #expect(ips(c.local) == ["10.0.0.1"])
        #expect(ips(c.allReachable) == ["10.0.0.1", "10.0.0.2"])
    }

    @Test func topologyExcludedLocalEndpointIsStillReachable() {
        let c = categorize([ep("10.0.0.1", local: true, zones: ["z2"]), ep("10.0.0.2", zones: ["z1"])],
                           service(externalLocal: true, nodePort: 30000))
        #expect(ips(c.cluster) == ["10.0.0.2"])
        #expect(ips(c.local) == ["10.0.0.1"])
        #expect(ips(c.allReachable) == ["10.0.0.1", "10.0.0.2"])
    }

    @Test func externalLocalOnlyMattersWhenExternallyAccessible() {
        // eTP Local on a service with no NodePort/LB/external IP: Local endpoints unused.
        let c = categorize([ep("10.0.0.1", local: true), ep("10.0.0.2")], service(externalLocal: true))
        #expect(c.local.isEmpty)
        #expect(ips(c.allReachable) == ["10.0.0.1", "10.0.0.2"])
    }
}
