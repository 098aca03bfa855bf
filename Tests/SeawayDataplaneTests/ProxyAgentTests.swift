import Foundation
import SeawayTestSupport
import Testing

/// `seaway proxy --watch` as the node's agent: it programs the node when it starts, follows
/// the manifest directory with partial syncs (real traffic follows them, and the tables match
/// what `render` prints for the directory), keeps the rules when manifests go bad, and
/// reports through /healthz, /livez and kube-proxy's metrics.
@Suite(.enabled(if: DataplaneNode.available, Comment(rawValue: DataplaneNode.unavailable)))
struct ProxyAgentTests {
    final class Agent {
        let process = Process()
        let log = Pipe()

        convenience init(_ node: DataplaneNode, watching directory: String, mode: String = "nftables") throws {
            try self.init(node, source: ["--watch", directory], mode: mode)
        }

        /// `source`: `--watch DIR` or `--kubeconfig FILE`; `extra`: more flags.
        init(_ node: DataplaneNode, source: [String], mode: String = "nftables", extra: [String] = []) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", node.node.name, DataplaneNode.seaway, "proxy", "--mode", mode]
                + source + ["--host", node.hostFile, "--hostname-override", "node-a",
                            "--cluster-cidr", "10.244.0.0/16", "--min-sync-period", "0.1"] + extra
            process.standardOutput = log
            process.standardError = log
            try process.run()
        }

        func stop() -> String {
            process.terminate()
            process.waitUntilExit()
            return String(decoding: log.fileHandleForReading.availableData, as: UTF8.self)
        }
    }

    /// GETs `path` from the agent's own listeners inside the node; nil until it answers.
    static func get(_ node: DataplaneNode, port: Int, _ path: String) -> (status: Int, body: String)? {
        guard let r = try? node.node.exec(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]),
              let last = r.output.split(separator: "\n").last, let status = Int(last), status > 0 else { return nil }
        return (status, r.output.split(separator: "\n").dropLast().joined(separator: "\n"))
    }

    static func metric(_ node: DataplaneNode, _ name: String) -> Double? {
        guard let body = get(node, port: 10249, "/metrics")?.body else { return nil }
        for line in body.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    /// Waits until `condition` holds (the agent syncs within its 0.1 s min-sync-period).
    static func eventually(_ what: String, timeout: Double = 10, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return }
            usleep(50_000)
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// The node's table as `nft list` prints it, chains sorted: a partial sync appends new
    /// chains where a fresh load puts them in render order, and only the order differs.
    static func chainSorted(_ listing: String) -> (rest: [String], chains: [String]) {
        var rest: [String] = [], chains: [String] = [], chain: [Substring]? = nil
        for line in listing.split(separator: "\n") {
            if line.hasPrefix("\tchain ") { chain = [line]; continue }
            if var c = chain {
                c.append(line)
                if line == "\t}" { chains.append(c.joined(separator: "\n")); chain = nil } else { chain = c }
                continue
            }
            rest.append(String(line))
        }
        return (rest, chains.sorted())
    }

    /// A DNS client reusing its source port is one UDP conntrack flow: when its endpoint goes
    /// away, the agent must clear that flow, or every later query follows it into the void.
    /// In both modes, each change a partial sync.
    @Test(arguments: ["nftables", "iptables"])
    func udpSurvivesAnEndpointChange(_ mode: String) throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        let directory = try n.manifestDirectory()
        func write(_ endpoints: [String], web: [String] = []) throws {
            var services: [TestCluster.Service] = [.init(name: "dns", clusterIP: "10.96.0.53", endpoints: endpoints.map(n.ip), udp: true)]
            if !web.isEmpty { services.append(.init(name: "web", clusterIP: "10.96.0.10", endpoints: web.map(n.ip))) }
            try n.writeManifests(services, to: directory)
        }
        try write(["a", "b"])
        let agent = try Agent(n, watching: directory, mode: mode)
        defer { if agent.process.isRunning { _ = agent.stop() } }
        let client = n.pods["client"]!.ns.path
        var first: String? = nil
        try Self.eventually("the first answer") {
            first = try NamespaceSockets.askUDP(from: client, "10.96.0.53", port: 53, sourcePort: 40053)
            return first != nil
        }
        let chosen = try #require(first)
        // The same flow keeps its endpoint.
        for _ in 0..<5 { #expect(try NamespaceSockets.askUDP(from: client, "10.96.0.53", port: 53, sourcePort: 40053) == chosen) }

        // That endpoint's pod goes away (its responder stops) and leaves the slice.
        n.udpServers[chosen]!.stop()
        let other = chosen == "a" ? "b" : "a"
        try write([other])
        try Self.eventually("queries on the same flow reaching \(other)") {
            try NamespaceSockets.askUDP(from: client, "10.96.0.53", port: 53, sourcePort: 40053, timeoutMilliseconds: 300) == other
        }
        // A new service: the top-level chains change too (KUBE-SERVICES, @service-ips).
        try write([other], web: [other])
        try Self.eventually("the new TCP service") { (try? n.answers(from: "client", to: "10.96.0.10", port: 80, count: 3)) == [other: 3] }
        #expect(try NamespaceSockets.askUDP(from: client, "10.96.0.53", port: 53, sourcePort: 40053) == other)
        let log = agent.stop()
        #expect(!log.contains("could not clear"), "\(log)")
        #expect(log.contains("synced \(mode) (partial)"), "\(log)")
    }

    /// With kube-proxy's one table, and with the services spread over shard tables (each
    /// partial sync then touches the changed service's shard).
    @Test(arguments: [[], ["--nftables-shards", "3"]])
    func theAgentFollowsTheManifestDirectoryWithPartialSyncs(_ shards: [String]) throws {
        let n = try DataplaneNode()
        defer { n.close() }
        for pod in ["a", "b", "c"] { try n.addPod(pod) }
        try n.addPod("client", serving: false)
        let directory = try n.manifestDirectory()
        func write(_ services: [TestCluster.Service]) throws {
            try n.writeManifests(services, to: directory)
        }
        let replace = write
        try write([.init(name: "web", clusterIP: "10.96.0.10", endpoints: ["a", "b", "c"].map(n.ip)),
                   .init(name: "empty", clusterIP: "10.96.0.11", endpoints: [])])

        // No periodic sync in between: one would delete the flushed chain the test looks for
        // (a slow run can take longer than the default 30 s between the two partial syncs).
        let agent = try Agent(n, source: ["--watch", directory], extra: ["--sync-period", "3600"] + shards)
        var log = ""
        defer { if agent.process.isRunning { log = agent.stop() } }

        try Self.eventually("the first sync") { Self.get(n, port: 10256, "/healthz")?.status == 200 && Self.metric(n, "kubeproxy_sync_full_proxy_rules_duration_seconds_count") == 1 }
        #expect(Self.get(n, port: 10256, "/livez")?.status == 200)
        #expect(Self.get(n, port: 10256, "/healthz")?.body.contains("lastUpdated") == true)
        #expect(Set(try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 30).keys) == ["a", "b", "c"])

        // Endpoint c goes away, then `fresh` becomes a service: each a partial sync.
        try replace([.init(name: "web", clusterIP: "10.96.0.10", endpoints: ["a", "b"].map(n.ip)),
                     .init(name: "empty", clusterIP: "10.96.0.11", endpoints: [])])
        try Self.eventually("the endpoint removal") { Set(try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 30).keys) == ["a", "b"] }
        #expect((Self.metric(n, "kubeproxy_sync_partial_proxy_rules_duration_seconds_count") ?? 0) >= 1)
        // As kube-proxy does: c's endpoint chain is flushed now and deleted by the next sync.
        let staleChain = "/web/tcp/http__\(n.ip("c"))/8080"
        let flushed = try n.node.exec(["nft", "list", "ruleset"]).output
        let staleBlock = flushed.components(separatedBy: "\n\n").first { $0.contains(staleChain) }
        #expect(staleBlock?.split(separator: "\n").count == 2, "\(String(describing: staleBlock))")
        try replace([.init(name: "web", clusterIP: "10.96.0.10", endpoints: ["a", "b"].map(n.ip)),
                     .init(name: "empty", clusterIP: "10.96.0.11", endpoints: []),
                     .init(name: "fresh", clusterIP: "10.96.0.12", endpoints: ["c"].map(n.ip))])
        try Self.eventually("the new service") { (try? n.answers(from: "client", to: "10.96.0.12", port: 80, count: 1)) == ["c": 1] }
        #expect(Self.metric(n, "kubeproxy_sync_full_proxy_rules_duration_seconds_count") == 1)
        #expect(try !n.node.exec(["nft", "list", "ruleset"]).output.contains(staleChain))
        #expect((Self.metric(n, "kubeproxy_sync_proxy_rules_endpoint_changes_total") ?? 0) >= 2)
        #expect((Self.metric(n, "kubeproxy_network_programming_duration_seconds_count") ?? 0) >= 3)

        // What the partial syncs left is what render prints for the directory, loaded fresh.
        let rendered = try n.seaway(["render", "--mode", "nftables", "--host", n.hostFile, "--hostname-override", "node-a",
                                     "--cluster-cidr", "10.244.0.0/16"] + shards + [directory])
        let scratch = try ThrowawayNamespace(prefix: "dp-scratch")
        defer { scratch.close() }
        try scratch.exec(["nft", "-f", "-"], input: rendered.output)
        let live = try n.node.exec(["nft", "list", "ruleset"]).output
        let (liveRest, liveChains) = Self.chainSorted(live)
        let (freshRest, freshChains) = Self.chainSorted(try scratch.exec(["nft", "list", "ruleset"]).output)
        #expect(liveRest == freshRest)
        #expect(liveChains == freshChains)
        #expect(liveChains.count > 10)
        #expect(shards.isEmpty == !live.contains("table ip kube-proxy-02 {"), "\(live)")

        // Bad manifests change nothing, and are counted.
        try "kind: Service\nmetadata: {name: broken\n".write(toFile: directory + "/broken.yaml", atomically: true, encoding: .utf8)
        try Self.eventually("the failed load") { (Self.metric(n, "seaway_proxy_manifest_load_failures_total") ?? 0) >= 1 }
        #expect(try n.node.exec(["nft", "list", "ruleset"]).output == live)
        #expect(Set(try n.answers(from: "client", to: "10.96.0.10", port: 80, count: 10).keys).isSubset(of: ["a", "b"]))
        #expect(Self.metric(n, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total") == 0)

        log = agent.stop()
        #expect(log.contains("synced nftables (partial)"), "\(log)")
        #expect(log.contains("broken.yaml"), "\(log)")
        // The rules stay when the agent stops, as kube-proxy's do.
        #expect(try n.node.exec(["nft", "list", "ruleset"]).output == live)
    }
}
