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
        ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": ["name": "\(name)-1", "namespace": "default", "labels": ["kubernetes.io/service-name": name]],
         "ports": [["name": "http", "port": 8080, "protocol": "TCP"]],
         "endpoints": ips.map { ["addresses": [$0], "nodeName": "node-a", "conditions": ["ready": true]] }]
    }

    @Test func theAgentFollowsTheAPIServerAndKeepsItsRulesWhenItGoesAway() throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        // The API server listens inside the node, where the agent runs.
        var made: Result<FakeAPIServer, Error>? = nil
        try NetworkNamespace(path: n.node.path).run { () throws(SystemError) in
            made = Result { try FakeAPIServer() }
        }
        let server = try made!.get()
        defer { server.stop() }
        server.apply(.added, path: "/api/v1/nodes", ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "node-a"],
                                                      "status": ["addresses": [["type": "InternalIP", "address": "192.168.77.1"]]]])
        server.apply(.added, path: "/api/v1/services", Self.service("web", "10.96.0.10"))
        server.apply(.added, path: "/apis/discovery.k8s.io/v1/endpointslices", Self.slice("web", [n.ip("a"), n.ip("b")]))
        let kubeconfig = n.directory + "/kubeconfig"
        try server.writeKubeconfig(to: kubeconfig)

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
}
