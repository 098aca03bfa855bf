import SeawayTestSupport
import Foundation
import SeawayProxyCore
import SeawayModel
import SeawayRender
import Testing

/// Every rendered payload must be accepted by the real tools, checked inside a throwaway
/// network namespace: `iptables-restore --test` / `ip6tables-restore --test` and `nft -c -f`.
@Suite(.enabled(if: ThrowawayNamespace.available, ThrowawayNamespace.unavailableReason), .serialized)
struct KernelValidationTests {
    /// `--test` / `-c` first, as the issue asks; then a real load into the throwaway
    /// namespace, because `iptables-restore --test` (1.8.9, nf_tables) does not notice a
    /// jump to a chain that does not exist, and a real load does.
    @Test(arguments: RenderFixture.all, [ProxyMode.iptables, .nftables, .ipvs, .userspace])
    func realToolsAcceptRenderedRules(_ fixture: RenderFixture, _ mode: ProxyMode) throws {
        let cluster = try fixture.cluster()
        let options = try fixture.options(mode, cluster: cluster)
        let rulesets = try RulesetRenderer.render(mode: mode, cluster: cluster, options: options)
        let ns = try ThrowawayNamespace()
        defer { ns.close() }
        // kube-proxy only references nfacct counters that exist; so must the namespace.
        for counter in options.nfacctCounters.sorted() { try ns.exec(["nfacct", "add", counter]) }
        for ruleset in rulesets {
            switch ruleset {
            case .iptables:
                let tool = ruleset.family == .ipv4 ? "iptables-restore" : "ip6tables-restore"
                try ns.exec([tool, "--test"], input: ruleset.text)
                try ns.exec([tool, "--noflush"], input: ruleset.text)
            case .nftables, .userspace:
                try ns.exec(["nft", "-c", "-f", "-"], input: ruleset.text)
                try ns.exec(["nft", "-f", "-"], input: ruleset.text)
            case let .ipvs(ipvs):
                try validateIPVSParts(ipvs, in: ns)
            }
        }
    }

    /// This kernel has no IPVS, no `dummy` links and no `ipvs` xt match. The ipsets load for
    /// real; the iptables part is checked with `--test` and loaded when it has no `-m ipvs`
    /// rule; the address lines are applied to a stand-in device of the same name.
    private func validateIPVSParts(_ ipvs: IPVSRuleset, in ns: ThrowawayNamespace) throws {
        try ns.exec(["ipset", "restore"], input: ipvs.ipsetText)
        let tool = ipvs.family == .ipv4 ? "iptables-restore" : "ip6tables-restore"
        let iptables = ipvs.iptables.text
        try ns.exec([tool, "--test"], input: iptables)
        if !iptables.contains(" -m ipvs ") {
            try ns.exec([tool, "--noflush"], input: iptables)
        }
        if try ns.exec(["ip", "link", "show", IPVSRuleset.dummyDevice], input: "", check: false).status != 0 {
            let canMakeDummy = try ns.exec(["ip", "link", "add", IPVSRuleset.dummyDevice, "type", "dummy"], input: "", check: false).status == 0
            if !canMakeDummy { try ns.exec(["ip", "link", "add", IPVSRuleset.dummyDevice, "type", "bridge"]) }
        }
        let addresses = ipvs.addressesText.split(separator: "\n").dropFirst().joined(separator: "\n") + "\n"
        try ns.exec(["ip", "-batch", "-"], input: addresses)
        // Every address ended up on the device.
        let shown = try ns.exec(["ip", "-o", "addr", "show", "dev", IPVSRuleset.dummyDevice]).output
        for ip in ipvs.dummyAddresses { #expect(shown.contains(" \(ip)/")) }
    }

    /// Loading for real (not just checking) and listing back gives the same table content.
    @Test func nftablesLoadsAndListsBack() throws {
        let fixture = RenderFixture(name: "kube-proxy-overall")
        let text = try fixture.render(.nftables)
        let ns = try ThrowawayNamespace()
        defer { ns.close() }
        try ns.exec(["nft", "-f", "-"], input: text)
        let listed = try ns.exec(["nft", "list", "table", "ip", "kube-proxy"]).output
        #expect(listed.contains("chain service-ULMVA6XW-ns1/svc1/tcp/p80"))
        #expect(listed.contains("172.30.0.46 . tcp . 80 comment \"ns6/svc6:p80\" : goto reject-chain"))
    }

    /// The check catches real mistakes: a payload with a bad rule is rejected.
    @Test func brokenPayloadIsRejected() throws {
        let ns = try ThrowawayNamespace()
        defer { ns.close() }
        let badOption = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m tcp -p tcp --dportx 80 -j ACCEPT\nCOMMIT\n"
        #expect(throws: ThrowawayNamespace.CommandFailed.self) { try ns.exec(["iptables-restore", "--test"], input: badOption) }
        let danglingJump = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j NO-SUCH-CHAIN\nCOMMIT\n"
        #expect(throws: ThrowawayNamespace.CommandFailed.self) { try ns.exec(["iptables-restore", "--noflush"], input: danglingJump) }
        #expect(throws: ThrowawayNamespace.CommandFailed.self) {
            try ns.exec(["nft", "-c", "-f", "-"], input: "add table ip t\nadd rule ip t nochain accept\n")
        }
    }
}
