import Foundation
import SeawayProxyCore
import SeawayRender
import Testing

@Suite struct GoldenTests {
    @Test(arguments: RenderFixture.all, [ProxyMode.iptables, .nftables, .ipvs])
    func rendersGolden(_ fixture: RenderFixture, _ mode: ProxyMode) throws {
        let text = try fixture.render(mode)
        assertGolden(text, path: fixture.dir.appendingPathComponent("\(mode.rawValue).golden"))
        // Determinism: a second render of the same input is byte-identical.
        #expect(try fixture.render(mode) == text)
    }

    /// Sorted the way kube-proxy's own test helper sorts, our iptables payload for the
    /// TestOverallIPTablesRules cluster is byte-identical to kube-proxy v1.34's expected text.
    @Test func iptablesMatchesKubeProxyExpected() throws {
        let fixture = RenderFixture(name: "kube-proxy-overall")
        let cluster = try fixture.cluster()
        let rulesets = try RulesetRenderer.render(mode: .iptables, cluster: cluster,
                                                  options: fixture.options(.iptables, cluster: cluster))
        guard case let .iptables(ruleset) = try #require(rulesets.first) else {
            Issue.record("expected an iptables ruleset")
            return
        }
        let expected = try String(contentsOf: fixture.dir.appendingPathComponent("iptables.kube-proxy-expected"), encoding: .utf8)
        #expect(ruleset.sortedCanonically().text == expected)
    }

    /// Our nftables output for kube-proxy's TestOverallNFTablesRules cluster has exactly the
    /// lines kube-proxy v1.34 expects, with every chain's rules in the same order.
    @Test func nftablesMatchesKubeProxyExpected() throws {
        let fixture = RenderFixture(name: "kube-proxy-overall")
        let expected = try String(contentsOf: fixture.dir.appendingPathComponent("nftables.kube-proxy-expected"), encoding: .utf8)
        let ours = try fixture.render(.nftables)
        let expectedLines = expected.split(separator: "\n").map(String.init)
        let ourLines = ours.split(separator: "\n").map(String.init)
        #expect(Set(expectedLines) == Set(ourLines))
        #expect(expectedLines.count == ourLines.count)
        func rulesByChain(_ lines: [String]) -> [String: [String]] {
            var out: [String: [String]] = [:]
            for l in lines where l.hasPrefix("add rule ") {
                let chain = l.split(separator: " ")[4]
                out[String(chain), default: []].append(l)
            }
            return out
        }
        #expect(rulesByChain(expectedLines) == rulesByChain(ourLines))
    }
}
