import Foundation
import SeawayTestSupport
import Testing

/// `seaway proxy --mode userspace`: a live TCP/UDP proxy in the node, with the node's
/// nftables redirecting service traffic to its listeners. Real connections from pods, from
/// the node itself and from outside the node.
@Suite(.enabled(if: DataplaneNode.available, Comment(rawValue: DataplaneNode.unavailable)))
struct UserspaceProxyTests {
    typealias Agent = ProxyAgentTests.Agent

    @Test func servicesCarryTrafficThroughTheProxy() throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b", "c"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        let directory = try n.manifestDirectory()
        try n.writeManifests([
            .init(name: "web", clusterIP: "10.96.0.10", endpoints: ["a", "b", "c"].map(n.ip)),
            .init(name: "sticky", clusterIP: "10.96.0.12", endpoints: ["a", "b", "c"].map(n.ip), affinity: true),
            .init(name: "empty", clusterIP: "10.96.0.11", endpoints: []),
            // The client pod serves nothing: connecting to it is refused, and the proxy must
            // go on to the next endpoint.
            .init(name: "flaky", clusterIP: "10.96.0.13", endpoints: [n.ip("client"), n.ip("a")]),
            .init(name: "cluster-np", clusterIP: "10.96.0.20", endpoints: ["a", "b", "c"].map(n.ip), nodePort: 30080),
            .init(name: "local-np", clusterIP: "10.96.0.21", endpoints: ["a", "b"].map(n.ip), nodePort: 30081,
                  externalTrafficPolicyLocal: true, remoteEndpoints: ["10.244.2.5"]),
        ], to: directory)
        let agent = try Agent(n, watching: directory, mode: "userspace")
        var log = ""
        defer { if agent.process.isRunning { log = agent.stop() } }
        try ProxyAgentTests.eventually("the first sync") { (try? n.answers(from: "client", to: "10.96.0.10", port: 80, count: 1))?.count == 1 }

        // Round robin: 60 connections over 3 endpoints, 20 each.
        let web = try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 60)
        #expect(web == ["a": 20, "b": 20, "c": 20], "\(web)")

        // A pod reaching its own service (the proxy dials it back from the node).
        let fromA = try n.answers(from: "a", to: "10.96.0.10", port: 80, count: 30)
        #expect(fromA.values.reduce(0, +) == 30)
        #expect((fromA["a"] ?? 0) > 0, "\(fromA)")

        // The node's own processes: redirected in the output hook.
        let fromNode = try (0..<6).map { _ in try NamespaceSockets.ask(from: n.node.path, "10.96.0.10", port: 80).split(separator: " ")[0] }
        #expect(Set(fromNode) == ["a", "b", "c"])

        // ClientIP affinity pins the client.
        #expect(try n.answers(from: "client", to: "10.96.0.12", port: 80, count: 15).count == 1)

        // A refused dial goes on to the next endpoint: every connection is served.
        #expect(try n.answers(from: "client", to: "10.96.0.13", port: 80, count: 10) == ["a": 10])

        // No endpoints: rejected in the kernel, not accepted and closed by the proxy.
        let refused = #expect(throws: NamespaceSockets.Failure.self) {
            try NamespaceSockets.ask(from: n.pods["client"]!.ns.path, "10.96.0.11", port: 80, timeoutSeconds: 2)
        }
        #expect(refused?.description.contains("Connection refused") == true, "\(String(describing: refused))")

        // NodePorts from outside: Cluster policy uses every endpoint; Local only this node's
        // (the endpoint on node-b is never dialled). The pods see the proxy, not the client.
        let cluster = try n.exchanges(from: "outside", to: "192.168.77.1", port: 30080, count: 30)
        #expect(Set(cluster.map(\.name)) == ["a", "b", "c"])
        #expect(cluster.allSatisfy { $0.peer == "10.244.1.1" }, "\(Set(cluster.map(\.peer)))")
        let local = try n.exchanges(from: "outside", to: "192.168.77.1", port: 30081, count: 30)
        #expect(Set(local.map(\.name)) == ["a", "b"])

        // What the kernel holds is what `render` prints for the directory.
        let rendered = try n.seaway(["render", "--mode", "userspace", "--host", n.hostFile, "--hostname-override", "node-a",
                                     "--cluster-cidr", "10.244.0.0/16", directory])
        let scratch = try ThrowawayNamespace(prefix: "dp-scratch")
        defer { scratch.close() }
        try scratch.exec(["nft", "-f", "-"], input: rendered.output)
        #expect(try n.node.exec(["nft", "list", "ruleset"]).output == (try scratch.exec(["nft", "list", "ruleset"]).output))
        #expect(rendered.output.contains("default/local-np:http (external traffic)"))

        // `apply` cannot stand in for the running proxy; `cleanup` removes its table.
        let apply = try n.seaway(["apply", "--mode", "userspace", "--hostname-override", "node-a", directory], check: false)
        #expect(apply.status == 1 && apply.stderr.contains("seaway proxy --mode userspace"), "\(apply.stderr)")
        log = agent.stop()
        #expect(log.contains("synced userspace (full)"), "\(log)")
        try n.seaway(["cleanup", "--mode", "userspace"])
        #expect(try !n.node.exec(["nft", "list", "tables"]).output.contains("seaway-userspace"))
    }

    /// Endpoint and service changes reach the proxy without touching what it already
    /// carries: an open connection keeps talking to its endpoint after that endpoint leaves
    /// the service and even after the service goes; a UDP client on a fixed port moves to
    /// the remaining endpoint when its own goes away.
    @Test func changesKeepEstablishedConnectionsAndMoveUDPSessions() throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        let directory = try n.manifestDirectory()
        let client = n.pods["client"]!.ns.path
        func services(dns: [String], chat: [String]?) -> [TestCluster.Service] {
            var list: [TestCluster.Service] = [.init(name: "dns", clusterIP: "10.96.0.53", endpoints: dns.map(n.ip), udp: true)]
            if let chat { list.append(.init(name: "chat", clusterIP: "10.96.0.90", endpoints: chat.map(n.ip), lineEcho: true)) }
            return list
        }
        try n.writeManifests(services(dns: ["a", "b"], chat: ["a", "b"]), to: directory)
        // Something else already holds the port chat's listener would take: it moves aside.
        let rendered = try n.seaway(["render", "--mode", "userspace", "--hostname-override", "node-a", directory]).output
        let line = try #require(rendered.split(separator: "\n").first { $0.contains("/tcp default/chat:chat ") })
        let port = try #require(UInt16(line.dropFirst(3).prefix { $0 != "/" }))
        let squatter = try NamespaceSockets.EchoPeerServer(in: n.node.path, port: port, identity: "squatter")
        defer { squatter.stop() }
        let agent = try Agent(n, watching: directory, mode: "userspace")
        defer { if agent.process.isRunning { _ = agent.stop() } }

        var held: NamespaceSockets.HeldConnection? = nil
        var first: String? = nil
        try ProxyAgentTests.eventually("a chat connection") {
            let c = try NamespaceSockets.HeldConnection(from: client, "10.96.0.90", port: 90)
            first = c.exchange("hello")
            held = c
            return first != nil
        }
        let connection = try #require(held)
        let chatter = String(try #require(first).prefix { $0 != ":" })
        #expect(first == "\(chatter): hello")
        var answered: String? = nil
        try ProxyAgentTests.eventually("a DNS answer") {
            answered = try NamespaceSockets.askUDP(from: client, "10.96.0.53", port: 53, sourcePort: 40053)
            return answered != nil
        }
        let resolver = try #require(answered)
        for _ in 0..<5 { #expect(try NamespaceSockets.askUDP(from: client, "10.96.0.53", port: 53, sourcePort: 40053) == resolver) }

        // The chat pod leaves the service (it keeps running); the resolver pod goes away.
        let remaining = chatter == "a" ? "b" : "a", liveResolver = resolver == "a" ? "b" : "a"
        n.udpServers[resolver]!.stop()
        try n.writeManifests(services(dns: [liveResolver], chat: [remaining]), to: directory)
        try ProxyAgentTests.eventually("new chat connections reaching \(remaining) only") {
            try (0..<4).allSatisfy { _ in
                try NamespaceSockets.HeldConnection(from: client, "10.96.0.90", port: 90).exchange("hi") == "\(remaining): hi"
            }
        }
        #expect(connection.exchange("still there") == "\(chatter): still there")
        try ProxyAgentTests.eventually("the same UDP flow reaching a live endpoint") {
            try NamespaceSockets.askUDP(from: client, "10.96.0.53", port: 53, sourcePort: 40053, timeoutMilliseconds: 300) == liveResolver
        }

        // The chat service goes: no redirect any more, yet the open connection carries on.
        try n.writeManifests(services(dns: [liveResolver], chat: nil), to: directory)
        try ProxyAgentTests.eventually("the chat service gone") {
            (try? NamespaceSockets.HeldConnection(from: client, "10.96.0.90", port: 90, timeoutSeconds: 1).exchange("x")) == nil
        }
        #expect(try !n.node.exec(["nft", "list", "ruleset"]).output.contains("default/chat"))
        #expect(connection.exchange("after") == "\(chatter): after")
        let log = agent.stop()
        #expect(log.contains("synced userspace (partial)"), "\(log)")
        #expect(log.contains("tcp port \(port) (IPv4) is in use: default/chat:chat moves to another"), "\(log)")
    }
}
