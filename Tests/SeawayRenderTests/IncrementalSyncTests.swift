import SeawayTestSupport
import Foundation
import SeawayModel
import SeawayProxyCore
import SeawayRender
import Testing

/// The kube-proxy-overall cluster and a few changes to it, for the incremental path.
struct Scenario {
    let fixture = RenderFixture(name: "kube-proxy-overall")
    let cluster: ClusterState
    let options: ProxyOptions

    init() throws {
        cluster = try fixture.cluster()
        options = try fixture.options(.iptables, cluster: cluster)
    }

    /// svc4 loses one of its two endpoints; svc1 is deleted; a new svc7 with an endpoint appears.
    var changes: [ClusterChange] {
        var svc4 = cluster.endpointSlices.first { $0.serviceName == "svc4" }!
        svc4.endpoints.removeLast()
        var svc7 = cluster.services.first { $0.metadata.name == "svc1" }!
        svc7.metadata = ObjectMeta(name: "svc7", namespace: "ns7")
        svc7.clusterIPs = [IPAddress("172.30.0.47")!]
        let slice7 = EndpointSlice(metadata: ObjectMeta(name: "svc7-1", namespace: "ns7", labels: [EndpointSlice.serviceNameLabel: "svc7"]),
                                   addressType: .ipv4, endpoints: [.init(addresses: ["10.180.0.7"])],
                                   ports: [.init(name: "p80", port: 80)])
        return [.upsertEndpointSlice(svc4), .deleteService(namespace: "ns1", name: "svc1"),
                .upsertService(svc7), .upsertEndpointSlice(slice7)]
    }

    /// The cluster after `changes`, built from scratch.
    var changedCluster: ClusterState {
        var c = cluster
        for change in changes {
            switch change {
            case let .upsertService(s):
                c.services.removeAll { $0.metadata.name == s.metadata.name && $0.metadata.namespace == s.metadata.namespace }
                c.services.append(s)
            case let .deleteService(ns, name):
                c.services.removeAll { $0.metadata.name == name && $0.metadata.namespace == ns }
            case let .upsertEndpointSlice(s):
                c.endpointSlices.removeAll { $0.metadata.name == s.metadata.name && $0.metadata.namespace == s.metadata.namespace }
                c.endpointSlices.append(s)
            case let .deleteEndpointSlice(ns, name):
                c.endpointSlices.removeAll { $0.metadata.name == name && $0.metadata.namespace == ns }
            }
        }
        return c
    }
}

@Suite struct IncrementalSyncTests {
    @Test func stateAfterChangesEqualsAFreshBuild() throws {
        let s = try Scenario()
        var state = ProxyState(cluster: s.cluster, options: s.options, family: .ipv4)
        var touched: Set<ServicePortName> = []
        for change in s.changes { touched.formUnion(state.apply(change)) }
        #expect(touched.map(\.description).sorted() == ["ns1/svc1:p80", "ns4/svc4:p80", "ns7/svc7:p80"])
        let fresh = ServiceMap(cluster: s.changedCluster, options: s.options, family: .ipv4)
        #expect(state.serviceMap == fresh)
        // A no-op change touches nothing.
        #expect(state.apply(.upsertService(s.changedCluster.services[0])).isEmpty)
    }

    @Test func partialPayloadHasOnlyChangedChains() throws {
        let s = try Scenario()
        var state = ProxyState(cluster: s.cluster, options: s.options, family: .ipv4)
        var sync = IPTablesSync(state.serviceMap)
        var touched: Set<ServicePortName> = []
        for change in s.changes { touched.formUnion(state.apply(change)) }
        let partial = sync.update(state, changed: touched)

        let full = IPTablesRenderer().render(ServiceMap(cluster: s.changedCluster, options: s.options, family: .ipv4))
        #expect(sync.ruleset == full)
        // Fixed chains in full; of the service chains only svc4's and svc7's.
        let natNames = partial.nat.chains.map(\.name)
        #expect(natNames.prefix(4) == ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"])
        #expect(partial.nat.chain(named: "KUBE-SERVICES") == full.nat.chain(named: "KUBE-SERVICES"))
        let serviceChains = natNames.dropFirst(4)
        // svc4 keeps its EXT, SVC and one SEP chain; the new svc7 has a SVC and a SEP chain.
        #expect(serviceChains.count == 5)
        #expect(serviceChains.filter { $0.hasPrefix("KUBE-EXT-") }.count == 1)
        #expect(Set(serviceChains).isSubset(of: Set(full.nat.chains.map(\.name))))
        // svc1's SVC and SEP chains, and svc4's removed endpoint chain, are deleted.
        #expect(partial.nat.deletedChains.sorted() == ["KUBE-SEP-C6EBXVWJJZMIWKLZ", "KUBE-SEP-SXIVWICOYRO3J4NJ", "KUBE-SVC-XPGD46QRK7WJZT7O"])
        #expect(partial.text.contains("-X KUBE-SVC-XPGD46QRK7WJZT7O\n"))
    }

    /// Old full payload, then the partial one, leaves the kernel exactly where the new full
    /// payload does (compared with iptables-save in two throwaway namespaces).
    @Test(.enabled(if: ThrowawayNamespace.available, ThrowawayNamespace.unavailableReason))
    func partialSyncInTheKernelMatchesAFullSync() throws {
        let s = try Scenario()
        var state = ProxyState(cluster: s.cluster, options: s.options, family: .ipv4)
        var sync = IPTablesSync(state.serviceMap)
        let before = sync.ruleset
        var touched: Set<ServicePortName> = []
        for change in s.changes { touched.formUnion(state.apply(change)) }
        let partial = sync.update(state, changed: touched)
        let after = sync.ruleset

        let incremental = try ThrowawayNamespace(), fresh = try ThrowawayNamespace()
        defer { incremental.close(); fresh.close() }
        for ns in [incremental, fresh] {
            for counter in s.options.nfacctCounters.sorted() { try ns.exec(["nfacct", "add", counter]) }
        }
        try incremental.exec(["iptables-restore", "--noflush"], input: before.text)
        try incremental.exec(["iptables-restore", "--noflush"], input: partial.text)
        try fresh.exec(["iptables-restore", "--noflush"], input: after.text)
        func saved(_ ns: ThrowawayNamespace) throws -> [String] {
            try ns.exec(["iptables-save"]).output.split(separator: "\n").map(String.init)
                .filter { !$0.hasPrefix("#") }.sorted()
        }
        let a = try saved(incremental), b = try saved(fresh)
        #expect(a == b)
        #expect(a.contains { $0.contains("KUBE-SVC-") } && !a.contains { $0.contains("KUBE-SVC-XPGD46QRK7WJZT7O") })
    }
}

@Suite struct NFTablesIncrementalTests {
    @Test func transactionTouchesOnlyTheChangedServices() throws {
        let s = try Scenario()
        let options = try s.fixture.options(.nftables, cluster: s.cluster)
        var state = ProxyState(cluster: s.cluster, options: options, family: .ipv4)
        var sync = NFTablesSync(state.serviceMap)
        var touched: Set<ServicePortName> = []
        for change in s.changes { touched.formUnion(state.apply(change)) }
        let tx = sync.update(state, changed: touched)
        #expect(sync.rulesets == NFTablesRenderer().render(ServiceMap(cluster: s.changedCluster, options: options, family: .ipv4)))
        let text = tx.text
        #expect(!text.contains("svc2") && !text.contains("svc3") && !text.contains("svc5"))
        #expect(text.contains("delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }\n"))
        // Keys are read back from the element lines: a bare key, and one before a verdict.
        #expect(text.contains("delete element ip kube-proxy cluster-ips { 172.30.0.41 }\n"))
        #expect(text.contains("add element ip kube-proxy cluster-ips { 172.30.0.47 }\n"))
        #expect(text.contains("delete chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n"))
        #expect(tx.chainsAdded == 2 && tx.chainsChanged == 1 && tx.chainsDeleted == 3)
        // Nothing changed, nothing written.
        #expect(sync.update(state, changed: []).isEmpty)
    }

    /// The old table plus the transaction lists exactly like the new table loaded from scratch,
    /// with kube-proxy's one table and with the services spread over shard tables.
    @Test(.enabled(if: ThrowawayNamespace.available, ThrowawayNamespace.unavailableReason), arguments: [1, 3])
    func transactionInTheKernelMatchesAFullLoad(shards: Int) throws {
        let s = try Scenario()
        var options = try s.fixture.options(.nftables, cluster: s.cluster)
        options.nftablesShards = shards
        var state = ProxyState(cluster: s.cluster, options: options, family: .ipv4)
        var sync = NFTablesSync(state.serviceMap)
        let before = sync.rulesets
        #expect(before.count == (shards == 1 ? 1 : 1 + shards))
        var touched: Set<ServicePortName> = []
        for change in s.changes { touched.formUnion(state.apply(change)) }
        let tx = sync.update(state, changed: touched)
        let after = sync.rulesets

        let incremental = try ThrowawayNamespace(), fresh = try ThrowawayNamespace()
        defer { incremental.close(); fresh.close() }
        try incremental.exec(["nft", "-f", "-"], input: before.map(\.text).joined())
        try incremental.exec(["nft", "-f", "-"], input: tx.text)
        try fresh.exec(["nft", "-f", "-"], input: after.map(\.text).joined())
        // `nft list` prints chains, sets and elements in a canonical order, and `-n -a`
        // is avoided because handles differ by construction.
        let a = try incremental.exec(["nft", "list", "ruleset"]).output
        let b = try fresh.exec(["nft", "list", "ruleset"]).output
        #expect(a == b)
        #expect(a.contains("service-") && !a.contains("service-ULMVA6XW-ns1/svc1/tcp/p80"))
        if shards > 1 {
            // The services' chains left kube-proxy's table for the shards.
            let main = try incremental.exec(["nft", "list", "table", "ip", "kube-proxy"]).output
            #expect(main.range(of: "chain (endpoint|service|external|local)-[A-Z2-7]{8}-", options: .regularExpression) == nil)
            #expect(!main.contains("chain services"))
            #expect(a.contains("table ip kube-proxy-02"))
        }
    }
}
