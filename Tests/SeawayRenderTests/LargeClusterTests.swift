import SeawayModel
import SeawayProxyCore
@testable import SeawayRender
import Testing

/// kube-proxy drops per-endpoint comments once a node proxies more than 1,000 endpoints.
@Suite struct LargeClusterTests {
    private func ruleset(endpoints: Int) -> IPTablesRuleset {
        var cluster = ClusterState()
        cluster.services = [Service(metadata: ObjectMeta(name: "big", namespace: "ns"),
                                    clusterIPs: [IPAddress("10.96.0.1")!], ports: [.init(name: "p", port: 80)])]
        cluster.endpointSlices = [EndpointSlice(
            metadata: ObjectMeta(name: "big-1", namespace: "ns", labels: [EndpointSlice.serviceNameLabel: "big"]),
            addressType: .ipv4,
            endpoints: (0..<endpoints).map { .init(addresses: [IPAddress(v4: 0x0A00_0000 + UInt32($0)).description]) },
            ports: [.init(name: "p", port: 8080)])]
        return IPTablesRenderer().render(ServiceMap(cluster: cluster, options: ProxyOptions(), family: .ipv4))
    }

    @Test func commentsUpToTheThresholdNoneAbove() throws {
        let small = ruleset(endpoints: 1000)
        let sep = try #require(small.nat.chains.first { $0.name.hasPrefix("KUBE-SEP-") })
        #expect(sep.rules.lines[0].hasPrefix("-A \(sep.name) -m comment --comment ns/big:p -s "))
        let svc = try #require(small.nat.chains.first { $0.name.hasPrefix("KUBE-SVC-") })
        #expect(svc.rules.lines[0].contains("-m comment --comment \"ns/big:p -> 10.0.0.0:8080\""))
        #expect(svc.rules.lines[0].contains("--probability 0.0010000000"))

        let large = ruleset(endpoints: 1001)
        let largeSep = try #require(large.nat.chains.first { $0.name.hasPrefix("KUBE-SEP-") })
        #expect(largeSep.rules.lines[0] == "-A \(largeSep.name) -s \(largeSep.rules.lines[0].split(separator: " ")[3]) -j KUBE-MARK-MASQ")
        let largeSvc = try #require(large.nat.chains.first { $0.name.hasPrefix("KUBE-SVC-") })
        #expect(!largeSvc.rules.lines[1].contains("--comment"))
        // The service-level rules keep their comments.
        #expect(large.nat.chains[0].rules.lines[0].contains("--comment \"ns/big:p cluster IP\""))
        // 1/1001 with ten decimals, as Go prints it.
        #expect(largeSvc.rules.lines[0].contains("--probability 0.0009990010"))
    }

    /// The table of `1/n` texts reads back each one at its place, and past it they are
    /// formatted the same way.
    @Test func probabilityTextsAreTenDecimalsOfOneInN() {
        func text(_ n: Int) -> String { Probability.withText(n) { String(decoding: $0, as: UTF8.self) } }
        #expect(text(1) == "1.0000000000")
        #expect(text(3) == "0.3333333333")
        #expect(text(7) == "0.1428571429")
        #expect(text(1000) == "0.0010000000")
        #expect(text(1001) == "0.0009990010")
        for n in 1...1200 { #expect(text(n) == String(format: "%0.10f", 1.0 / Double(n)), "1/\(n)") }
    }
}
