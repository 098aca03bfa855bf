import Foundation
import SeawayKernel
import SeawayTestSupport
import Testing

/// `seaway proxy --kubeconfig`: the agent fed by list+watch from an API server (the fake one,
/// serving inside the node's namespace). Changes in the API reach the rules; when the API
/// server goes away the rules stay, traffic keeps flowing, and /healthz and the metrics say
/// the state is stale.
@Suite(.enabled(if: DataplaneNode.available, Comment(rawValue: DataplaneNode.unavailable)))
struct ProxyAgentAPITests {
    static func service(_ name: String, _ ip: String) -> [String: Any] {
        ["apiVersion": "v1", "kind": "Service", "metadata": ["name": name, "namespace": "default"],
         "spec": ["clusterIP": ip, "ports": [["name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"]]]]
    }

    static func slice(_ name: String, _ ips: [String]) -> [String: Any] {
        slice(name, ips.map { ($0, Condition.ready) })
    }

    enum Condition { case ready, notReady, terminating }

    static func slice(_ name: String, _ endpoints: [(ip: String, condition: Condition)]) -> [String: Any] {
        ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": ["name": "\(name)-1", "namespace": "default", "labels": ["kubernetes.io/service-name": name]],
         "ports": [["name": "http", "port": 8080, "protocol": "TCP"]],
         "endpoints": endpoints.map { e -> [String: Any] in
             let conditions: [String: Bool] = switch e.condition {
             case .ready: ["ready": true, "serving": true, "terminating": false]
             case .notReady: ["ready": false, "serving": false, "terminating": false]
             case .terminating: ["ready": false, "serving": true, "terminating": true]
             }
             return ["addresses": [e.ip], "nodeName": "node-a", "conditions": conditions]
         }]
    }

    /// The API server's objects as one `kind: List` file, for `seaway render`.
    static func writeList(_ server: FakeAPIServer, to file: String) throws {
        let items = server.state.withLock { s in s.objects.keys.sorted().flatMap { path in s.objects[path]!.keys.sorted().map { s.objects[path]![$0]! } } }
        let list: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": items]
        try JSONSerialization.data(withJSONObject: list, options: [.sortedKeys]).write(to: URL(fileURLWithPath: file))
    }

    /// A fake API server listening inside the node (where the agent runs) with the node's
    /// Node and `web` (10.96.0.10) on `endpoints`, and a kubeconfig for it.
    static func serverInNode(_ n: DataplaneNode, web endpoints: [String]) throws -> (server: FakeAPIServer, kubeconfig: String) {
        var made: Result<FakeAPIServer, Error>? = nil
        try NetworkNamespace(path: n.node.path).run { () throws(SystemError) in
            made = Result { try FakeAPIServer() }
        }
        let server = try made!.get()
        server.apply(.added, path: "/api/v1/nodes", ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "node-a"],
                                                      "status": ["addresses": [["type": "InternalIP", "address": "192.168.77.1"]]]])
        server.apply(.added, path: "/api/v1/services", service("web", "10.96.0.10"))
        server.apply(.added, path: "/apis/discovery.k8s.io/v1/endpointslices", slice("web", endpoints.map(n.ip)))
        let kubeconfig = n.directory + "/kubeconfig"
        try server.writeKubeconfig(to: kubeconfig)
        return (server, kubeconfig)
    }

    @Test func theAgentFollowsTheAPIServerAndKeepsItsRulesWhenItGoesAway() throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        let (server, kubeconfig) = try Self.serverInNode(n, web: ["a", "b"])
        defer { server.stop() }

        let agent = try ProxyAgentTests.Agent(n, source: ["--kubeconfig", kubeconfig], extra: ["--sync-period", "1"])
        defer { if agent.process.isRunning { _ = agent.stop() } }
        try ProxyAgentTests.eventually("the first sync") {
            Set(try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 20).keys) == ["a", "b"]
        }
        // The watch carries an endpoint removal and a new service to the rules.
        server.apply(.modified, path: "/apis/discovery.k8s.io/v1/endpointslices", Self.slice("web", [n.ip("b")]))
        server.apply(.added, path: "/api/v1/services", Self.service("fresh", "10.96.0.12"))
        server.apply(.added, path: "/apis/discovery.k8s.io/v1/endpointslices", Self.slice("fresh", [n.ip("a")]))
        try ProxyAgentTests.eventually("the changes") {
            try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 10) == ["b": 10]
                && (try? n.answers(from: "client", to: "10.96.0.12", port: 80, count: 1)) == ["a": 1]
        }
        #expect(ProxyAgentTests.metric(n, "seaway_proxy_source_stale") == 0)
        #expect(ProxyAgentTests.metric(n, "seaway_proxy_api_lists_total") == 4)  // services, slices, the node, ServiceCIDRs
        #expect(ProxyAgentTests.get(n, port: 10256, "/healthz")?.status == 200)

        // The API server goes away: the rules stay and carry traffic; health says stale.
        server.stop()
        try ProxyAgentTests.eventually("staleness reported", timeout: 15) {
            ProxyAgentTests.metric(n, "seaway_proxy_source_stale") == 1 && ProxyAgentTests.get(n, port: 10256, "/healthz")?.status == 503
        }
        #expect(ProxyAgentTests.get(n, port: 10256, "/healthz")?.body.contains("sourceFailingSince") == true)
        // Liveness is not the API server's: restarting the agent would not bring it back.
        #expect(ProxyAgentTests.get(n, port: 10256, "/livez")?.status == 200)
        // Syncs go on (one a second) with the last good state: nothing changes.
        let rules = try n.node.exec(["nft", "list", "ruleset"]).output
        Thread.sleep(forTimeInterval: 2.5)
        #expect(try n.node.exec(["nft", "list", "ruleset"]).output == rules)
        #expect(try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 5) == ["b": 5])
        let log = agent.stop()
        #expect(log.contains("proxy nftables watching \(server.url)"), "\(log)")
        #expect(log.contains("synced nftables (partial)"), "\(log)")
    }

    /// The API server plays a sequence of changes, some through faults (a watch cut in the
    /// middle of an event, a malformed event, history compacted under a dropped watch: 410
    /// and a relist); after each, traffic follows within one sync period, and at the end the
    /// node's table is what `render` prints for the server's objects.
    @Test func trafficFollowsEveryChangeWithinOneSyncPeriod() throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b", "c"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        let (server, kubeconfig) = try Self.serverInNode(n, web: ["a", "b"])
        defer { server.stop() }
        let slices = "/apis/discovery.k8s.io/v1/endpointslices", services = "/api/v1/services"
        let syncPeriod = 3.0
        let agent = try ProxyAgentTests.Agent(n, source: ["--kubeconfig", kubeconfig], extra: ["--sync-period", "\(Int(syncPeriod))"])
        defer { if agent.process.isRunning { _ = agent.stop() } }
        func web() throws -> Set<String> { Set(try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 12).keys) }
        try ProxyAgentTests.eventually("the first sync", timeout: 30) { try web() == ["a", "b"] }

        /// Makes the change, then expects `condition` within one sync period.
        func step(_ what: String, _ change: () -> Void, _ condition: () throws -> Bool) throws {
            change()
            try ProxyAgentTests.eventually(what, timeout: syncPeriod, condition)
        }
        try step("scale up to a, b, c") {
            server.apply(.modified, path: slices, Self.slice("web", [n.ip("a"), n.ip("b"), n.ip("c")]))
        } _: { try web() == ["a", "b", "c"] }
        try step("b not ready") {
            server.apply(.modified, path: slices, Self.slice("web", [(n.ip("a"), .ready), (n.ip("b"), .notReady), (n.ip("c"), .ready)]))
        } _: { try web() == ["a", "c"] }
        try step("a terminating: only the ready c") {
            server.apply(.modified, path: slices, Self.slice("web", [(n.ip("a"), .terminating), (n.ip("b"), .notReady), (n.ip("c"), .ready)]))
        } _: { try web() == ["c"] }
        try step("c gone: the terminating a as the fallback") {
            server.apply(.modified, path: slices, Self.slice("web", [(n.ip("a"), .terminating), (n.ip("b"), .notReady)]))
        } _: { try web() == ["a"] }
        try step("a new service") {
            server.apply(.added, path: services, Self.service("api", "10.96.0.20"))
            server.apply(.added, path: slices, Self.slice("api", [n.ip("b")]))
        } _: { (try? n.answers(from: "client", to: "10.96.0.20", port: 80, count: 3)) == ["b": 3] }
        try step("a ServiceCIDR: traffic to its unallocated addresses dropped, as kube-proxy does") {
            server.apply(.added, path: "/apis/networking.k8s.io/v1/servicecidrs",
                         ["apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": ["name": "kubernetes"],
                          "spec": ["cidrs": ["10.96.0.0/16"]]])
        } _: {
            try n.node.exec(["nft", "list", "chain", "ip", "kube-proxy", "cluster-ips-check"]).output.contains("ip daddr 10.96.0.0/16 drop")
                && (try web()) == ["a"]
        }
        try step("an event cut in half by a dropped watch, delivered again") {
            server.state.withLock { $0.dropNextEventHalfway = true }
            server.apply(.modified, path: slices, Self.slice("web", [n.ip("c")]))
        } _: { try web() == ["c"] }
        try step("an event after a malformed one") {
            server.sendMalformed(path: slices)
            server.apply(.modified, path: slices, Self.slice("web", [n.ip("b"), n.ip("c")]))
        } _: { try web() == ["b", "c"] }
        let listsBefore = ProxyAgentTests.metric(n, "seaway_proxy_api_lists_total") ?? 0
        try step("changes made while the watch was down and history was compacted: 410, relist") {
            server.state.withLock { $0.holdWatches = true }
            server.closeWatches()
            server.apply(.deleted, path: services, ["metadata": ["name": "api", "namespace": "default"]])
            server.apply(.deleted, path: slices, ["metadata": ["name": "api-1", "namespace": "default"]])
            server.apply(.modified, path: slices, Self.slice("web", [n.ip("a")]))
            server.compact()
            server.releaseWatches()
        } _: { try web() == ["a"] && !(try n.node.exec(["nft", "list", "ruleset"]).output.contains("10.96.0.20")) }
        try ProxyAgentTests.eventually("the relist counted") {
            (ProxyAgentTests.metric(n, "seaway_proxy_api_relists_after_gone_total") ?? 0) >= 1
                && (ProxyAgentTests.metric(n, "seaway_proxy_api_lists_total") ?? 0) > listsBefore
        }
        #expect((ProxyAgentTests.metric(n, "seaway_proxy_api_malformed_events_total") ?? 0) >= 1)
        #expect(ProxyAgentTests.metric(n, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total") == 0)

        // The table the partial syncs left is what render prints for the server's objects
        // (once the periodic sync has deleted the chains the last change flushed, as
        // kube-proxy does a sync later).
        let list = n.directory + "/api-objects.json"
        try Self.writeList(server, to: list)
        let rendered = try n.seaway(["render", "--mode", "nftables", "--host", n.hostFile, "--hostname-override", "node-a",
                                     "--cluster-cidr", "10.244.0.0/16", list])
        let scratch = try ThrowawayNamespace(prefix: "dp-scratch")
        defer { scratch.close() }
        try scratch.exec(["nft", "-f", "-"], input: rendered.output)
        let fresh = ProxyAgentTests.chainSorted(try scratch.exec(["nft", "list", "ruleset"]).output)
        var live = ProxyAgentTests.chainSorted("")
        try ProxyAgentTests.eventually("the table render prints", timeout: 3 * syncPeriod) {
            live = ProxyAgentTests.chainSorted(try n.node.exec(["nft", "list", "ruleset"]).output)
            return live == fresh
        }
        #expect(live.rest == fresh.rest)
        #expect(live.chains == fresh.chains)
        #expect(fresh.chains.count > 5)
        let log = agent.stop()
        #expect(log.contains("synced nftables (partial)"), "\(log)")
        #expect(log.contains("410 Gone"), "\(log)")
    }
}
