import Foundation
import SeawayTestSupport
import Testing

/// `seaway apply` on a real kernel, checked with real TCP between pods in namespaces: the
/// rules carry traffic as kube-proxy's do, and what is applied is what `render` prints.
@Suite(.enabled(if: DataplaneNode.available, Comment(rawValue: DataplaneNode.unavailable)))
struct ApplyTrafficTests {
    /// A node with three serving pods (a, b, c) and a client; `web` on a, b, c, `sticky` the
    /// same with ClientIP affinity, `empty` without endpoints.
    func node() throws -> (DataplaneNode, String) {
        let n = try DataplaneNode()
        for pod in ["a", "b", "c"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        let manifests = TestCluster.yaml([
            .init(name: "web", clusterIP: "10.96.0.10", endpoints: ["a", "b", "c"].map(n.ip)),
            .init(name: "sticky", clusterIP: "10.96.0.12", endpoints: ["a", "b", "c"].map(n.ip), affinity: true),
            .init(name: "empty", clusterIP: "10.96.0.11", endpoints: []),
        ])
        return (n, manifests)
    }

    /// Both modes, and Seaway's compact nftables shape (per-endpoint numgen rules instead of
    /// a verdict map per service), which must spread connections just as evenly, and its
    /// shard tables (the services' nat chains spread over tables of their own).
    @Test(arguments: ["iptables", "nftables", "nftables --nftables-shape compact", "nftables --nftables-shards 3",
                      "nftables --nftables-shape compact --nftables-shards 3"])
    func clusterIPsCarryTrafficAsKubeProxysRulesDo(_ mode: String) throws {
        let (n, manifests) = try node()
        defer { n.close() }
        let applied = try n.seaway(["apply", "--mode"] + Self.words(mode), manifests: manifests)
        #expect(applied.status == 0, "\(applied.stderr)")

        // Every endpoint answers, roughly evenly (60 connections over 3: each expects 20).
        let web = try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 60)
        #expect(Set(web.keys) == ["a", "b", "c"], "\(web)")
        #expect(web.values.allSatisfy { $0 >= 8 }, "\(web)")

        // A pod reaching its own service: hairpin, masqueraded so the reply comes back.
        let fromA = try n.answers(from: "a", to: "10.96.0.10", port: 80, count: 30)
        #expect(fromA.values.reduce(0, +) == 30)
        #expect((fromA["a"] ?? 0) > 0, "\(fromA)")

        // ClientIP affinity pins the client to one endpoint.
        #expect(try n.answers(from: "client", to: "10.96.0.12", port: 80, count: 15).count == 1)

        // No endpoints: rejected at once, not timed out.
        let refused = #expect(throws: NamespaceSockets.Failure.self) {
            try NamespaceSockets.ask(from: n.pods["client"]!.ns.path, "10.96.0.11", port: 80, timeoutSeconds: 2)
        }
        #expect(refused?.description.contains("Connection refused") == true, "\(String(describing: refused))")
    }

    @Test(arguments: ["iptables", "nftables", "nftables --nftables-shards 3"])
    func removingAServiceRemovesItsRulesAndAnApplyIsIdempotent(_ mode: String) throws {
        let (n, manifests) = try node()
        defer { n.close() }
        try n.seaway(["apply", "--mode"] + Self.words(mode), manifests: manifests)
        try n.seaway(["apply", "--mode"] + Self.words(mode), manifests: manifests)
        let dump = { () throws -> String in
            try n.node.exec(mode == "iptables" ? ["iptables-save"] : ["nft", "list", "ruleset"]).output
        }
        let twice = try dump()
        #expect(twice.components(separatedBy: "kubernetes service portals").count - 1 == (mode == "iptables" ? 4 : 0),
                "jumps are not duplicated")
        let withoutWeb = TestCluster.yaml([
            .init(name: "sticky", clusterIP: "10.96.0.12", endpoints: ["a", "b", "c"].map(n.ip), affinity: true),
            .init(name: "empty", clusterIP: "10.96.0.11", endpoints: []),
        ])
        try n.seaway(["apply", "--mode"] + Self.words(mode), manifests: withoutWeb)
        let after = try dump()
        #expect(!after.contains("default/web"), "every rule of the removed service is gone")
        #expect(after.contains("default/sticky"))
        #expect(throws: NamespaceSockets.Failure.self) {
            try NamespaceSockets.ask(from: n.pods["client"]!.ns.path, "10.96.0.10", port: 80, timeoutSeconds: 1)
        }
    }

    /// What the kernel holds after apply is what `render` prints: the rendered text loaded
    /// into a fresh namespace lists the same.
    @Test(arguments: ["iptables", "nftables", "nftables --nftables-shards 3"])
    func theAppliedRulesetIsTheRenderedOne(_ mode: String) throws {
        let (n, manifests) = try node()
        defer { n.close() }
        try n.seaway(["apply", "--mode"] + Self.words(mode), manifests: manifests)
        let rendered = try n.seaway(["render", "--mode"] + Self.words(mode) + ["--host", n.hostFile], manifests: manifests).output
        let fresh = try ThrowawayNamespace(prefix: "dp-fresh")
        defer { fresh.close() }
        if mode == "iptables" {
            for counter in ["ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts"] {
                try fresh.exec(["nfacct", "add", counter], check: false)
            }
            try fresh.exec(["iptables-restore", "--noflush"], input: rendered)
            // Only the KUBE- chains: the applied node also has the jumps from built-in chains.
            let kubeLines = { (text: String) in
                text.split(separator: "\n").filter { $0.hasPrefix("-A KUBE") || $0.hasPrefix(":KUBE") }.map { String($0) }.sorted()
            }
            let applied = kubeLines(try n.node.exec(["iptables-save"]).output), loaded = kubeLines(try fresh.exec(["iptables-save"]).output)
            #expect(applied == loaded, "only applied: \(Set(applied).subtracting(loaded).sorted()); only loaded: \(Set(loaded).subtracting(applied).sorted())")
        } else {
            try fresh.exec(["nft", "-f", "-"], input: rendered)
            #expect(try n.node.exec(["nft", "list", "ruleset"]).output == (try fresh.exec(["nft", "list", "ruleset"]).output))
        }
    }

    /// NodePorts from outside the node: with the Cluster policy every endpoint serves and the
    /// source is masqueraded; with Local only this node's endpoints serve and the client's
    /// address arrives intact (an endpoint on another node is never picked).
    @Test(arguments: ["iptables", "nftables", "nftables --nftables-shards 3"])
    func nodePortsFromOutsideFollowTheExternalTrafficPolicy(_ mode: String) throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b", "c"] { try n.addPod(pod) }
        let manifests = TestCluster.yaml([
            .init(name: "cluster-np", clusterIP: "10.96.0.20", endpoints: ["a", "b", "c"].map(n.ip), nodePort: 30080),
            .init(name: "local-np", clusterIP: "10.96.0.21", endpoints: ["a", "b"].map(n.ip), nodePort: 30081,
                  externalTrafficPolicyLocal: true, remoteEndpoints: ["10.244.2.5"]),
        ])
        let applied = try n.seaway(["apply", "--mode"] + Self.words(mode), manifests: manifests)
        #expect(applied.status == 0, "\(applied.stderr)")

        let cluster = try n.exchanges(from: "outside", to: "192.168.77.1", port: 30080, count: 30)
        #expect(Set(cluster.map(\.name)) == ["a", "b", "c"])
        #expect(!cluster.contains { $0.peer.hasSuffix("192.168.77.2") }, "masqueraded: \(Set(cluster.map(\.peer)))")

        let local = try n.exchanges(from: "outside", to: "192.168.77.1", port: 30081, count: 30)
        #expect(Set(local.map(\.name)) == ["a", "b"])
        #expect(local.allSatisfy { $0.peer.hasSuffix("192.168.77.2") }, "client IP kept: \(Set(local.map(\.peer)))")
    }

    /// loadBalancerSourceRanges admit only their sources (others are dropped before any
    /// DNAT or redirect), and with --nodeport-addresses only the matching node IPs take
    /// NodePort traffic. The userspace proxy enforces both in its own table.
    @Test(arguments: ["iptables", "nftables", "nftables --nftables-shards 3", "userspace"])
    func sourceRangesAndNodePortAddressesAdmitOnlyWhatTheySay(_ mode: String) throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        let services: [TestCluster.Service] = [
            // The outside namespace (192.168.77.2) is in range; the pods are not.
            .init(name: "open-lb", clusterIP: "10.96.0.30", endpoints: ["a", "b"].map(n.ip), nodePort: 30090,
                  loadBalancerIP: "192.168.80.10", sourceRanges: ["192.168.77.0/24"]),
            .init(name: "closed-lb", clusterIP: "10.96.0.31", endpoints: ["a", "b"].map(n.ip), nodePort: 30091,
                  loadBalancerIP: "192.168.80.11", sourceRanges: ["203.0.113.0/24"]),
        ]
        let nodePortAddresses = ["--nodeport-addresses", "192.168.77.0/24"]
        let directory = try n.manifestDirectory()
        var agent: ProxyAgentTests.Agent? = nil
        defer { _ = agent?.stop() }
        if mode == "userspace" {
            try n.writeManifests(services, to: directory)
            agent = try ProxyAgentTests.Agent(n, source: ["--watch", directory], mode: mode, extra: nodePortAddresses)
        } else {
            let applied = try n.seaway(["apply", "--mode"] + Self.words(mode) + nodePortAddresses, manifests: TestCluster.yaml(services))
            #expect(applied.status == 0, "\(applied.stderr)")
        }
        try ProxyAgentTests.eventually("the rules in place") {
            (try? n.answers(from: "outside", to: "192.168.80.10", port: 80, count: 1))?.count == 1
        }
        /// Why a connection failed; nil when it was answered. A dropped SYN leaves connect
        /// to its send timeout (EINPROGRESS); a refused one reports the reset.
        func refused(from pod: String, _ address: String, port: UInt16) -> String? {
            let path = pod == "outside" ? n.outside.path : n.pods[pod]!.ns.path
            do {
                _ = try NamespaceSockets.ask(from: path, address, port: port, timeoutSeconds: 1)
                return nil
            } catch {
                return "\(error)"
            }
        }

        // In range: served, by both endpoints. Out of range: dropped (a timeout, no reset).
        #expect(Set(try n.exchanges(from: "outside", to: "192.168.80.10", port: 80, count: 20).map(\.name)) == ["a", "b"])
        let fromPod = refused(from: "client", "192.168.80.10", port: 80)
        #expect(fromPod?.contains("in progress") == true, "\(String(describing: fromPod))")
        let closed = refused(from: "outside", "192.168.80.11", port: 80)
        #expect(closed?.contains("in progress") == true, "\(String(describing: closed))")
        // The ClusterIP of a firewalled service is not subject to its ranges.
        #expect(try n.answers(from: "client", to: "10.96.0.31", port: 80, count: 4).values.reduce(0, +) == 4)

        // NodePorts: on the uplink's address, yes; on the bridge's (10.244.1.1), nothing
        // takes them, so the node's own stack refuses.
        #expect(try n.answers(from: "outside", to: "192.168.77.1", port: 30090, count: 4).values.reduce(0, +) == 4)
        let bridge = refused(from: "client", "10.244.1.1", port: 30090)
        #expect(bridge?.contains("Connection refused") == true, "\(String(describing: bridge))")
    }

    /// A test argument's words (`nftables --nftables-shards 3`).
    static func words(_ mode: String) -> [String] { mode.split(separator: " ").map(String.init) }

    @Test func cleanupRemovesWhatApplyMade() throws {
        let (n, manifests) = try node()
        defer { n.close() }
        try n.seaway(["apply", "--mode", "iptables"], manifests: manifests)
        // Shard tables come and go with the option: fewer shards leave none stale behind.
        let tables = {
            try n.node.exec(["nft", "list", "tables"]).output.split(separator: "\n").map(String.init).filter { $0.contains("kube-proxy") }.sorted()
        }
        try n.seaway(["apply", "--mode", "nftables", "--nftables-shards", "3"], manifests: manifests)
        #expect(try tables() == ["table ip kube-proxy", "table ip kube-proxy-00", "table ip kube-proxy-01", "table ip kube-proxy-02"])
        try n.seaway(["apply", "--mode", "nftables"], manifests: manifests)
        #expect(try tables() == ["table ip kube-proxy"])
        try n.seaway(["apply", "--mode", "nftables", "--nftables-shards", "2"], manifests: manifests)
        #expect(try tables() == ["table ip kube-proxy", "table ip kube-proxy-00", "table ip kube-proxy-01"])
        try n.seaway(["cleanup", "--mode", "iptables"])
        try n.seaway(["cleanup", "--mode", "nftables"])
        let saved = try n.node.exec(["iptables-save"]).output
        // kube-proxy's own chains and jumps are gone; the kubelet-shared ones stay.
        #expect(!saved.contains("KUBE-SERVICES") && !saved.contains("KUBE-SVC-") && !saved.contains("KUBE-SEP-"))
        // (iptables-nft keeps its own `ip filter` / `ip nat` tables; kube-proxy's are gone.)
        #expect(!(try n.node.exec(["nft", "list", "tables"]).output.contains("kube-proxy")))
        #expect(try n.seaway(["cleanup", "--mode", "nftables"]).status == 0, "cleanup twice")
    }

    @Test func badInputAndIPVSChangeNothing() throws {
        let (n, manifests) = try node()
        defer { n.close() }
        try n.seaway(["apply", "--mode", "iptables"], manifests: manifests)
        let before = try n.node.exec(["iptables-save"]).output.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let bad = try n.seaway(["apply", "--mode", "iptables"], manifests: manifests.replacingOccurrences(of: "clusterIP: 10.96.0.11", with: "clusterIP: 10.96.0.999"), check: false)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("spec.clusterIP"), "\(bad.stderr)")
        let ipvs = try n.seaway(["apply", "--mode", "ipvs"], manifests: manifests, check: false)
        #expect(ipvs.status == 1)
        #expect(ipvs.stderr.contains("IPVS unavailable: this kernel has no IPVS"), "\(ipvs.stderr)")
        // The agent too.
        let agent = try n.seaway(["proxy", "--mode", "ipvs", "--watch", n.directory, "--hostname-override", "node-a",
                                  "--healthz-bind-address", "", "--metrics-bind-address", ""], check: false)
        #expect(agent.status == 1)
        #expect(agent.stderr.contains("IPVS unavailable: this kernel has no IPVS"), "\(agent.stderr)")
        // Refused before anything: no ipset, no kube-ipvs0.
        #expect(try n.node.exec(["ipset", "list", "-n"]).output.isEmpty)
        #expect(try n.node.exec(["ip", "link", "show", "kube-ipvs0"], check: false).status != 0)
        let after = try n.node.exec(["iptables-save"]).output.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(before == after)
        // The rules still carry traffic.
        #expect(try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 6).values.reduce(0, +) == 6)
    }
}
