import Foundation
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayRender
import SeawayTestSupport
import Testing
import Yams

/// The informer against FakeAPIServer: it converges to exactly the state the manifest
/// loader reads from the same objects (asserted on the rules rendered from both), follows
/// events, and survives every fault the API server can throw at it.
@Suite(.serialized) struct InformerTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Fixtures/trace's objects, as JSON dictionaries, by API path.
    static func seed(_ server: FakeAPIServer) throws {
        let text = try String(contentsOf: root.appendingPathComponent("Fixtures/trace/cluster.yaml"), encoding: .utf8)
        for case let object as [String: Any] in try Yams.load_all(yaml: text) {
            let kind = object["kind"] as! String
            guard let resource = KubeResource.all.first(where: { $0.kind == kind }) else { continue }
            server.apply(.added, path: resource.path, object)
        }
    }

    static func loaded() throws -> ClusterState {
        try ManifestLoader().load([root.appendingPathComponent("Fixtures/trace").path])
    }

    /// What node-a's rules are, in `mode`, for `cluster`.
    static func rules(_ cluster: ClusterState, _ mode: ProxyMode = .iptables) throws -> String {
        var flags = ProxyFlags()
        flags.hostnameOverride = "node-a"
        flags.clusterCIDR = "10.244.0.0/16"
        let options = try ProxyOptions.resolve(mode: mode, flags: flags, config: nil, host: nil, cluster: cluster)
        return try RulesetRenderer.render(mode: mode, cluster: cluster, options: options).map(\.text).joined()
    }

    final class Running {
        let server: FakeAPIServer
        let client: KubeClient
        let informer: KubeInformer
        let task: Task<Void, Never>
        let logs = LogBox()

        init(token: String? = nil, tokenFile: String? = nil, resources: [KubeResource] = KubeResource.all,
             requestTimeout: Duration = .seconds(60), watchTimeoutSeconds: Int = 30, watchGrace: Duration = .seconds(30), prepare: (FakeAPIServer) throws -> Void = { _ in }) throws {
            server = try FakeAPIServer()
            try InformerTests.seed(server)
            try prepare(server)
            var connection = APIServerConnection(server: server.url, origin: "test")
            if let token { connection.credentials = .token(token) }
            if let tokenFile { connection.credentials = .tokenFile(tokenFile) }
            client = try KubeClient(connection)
            let logs = self.logs
            informer = KubeInformer(client: client, resources: resources, watchTimeoutSeconds: watchTimeoutSeconds, watchGrace: watchGrace,
                                    requestTimeout: requestTimeout,
                                    log: { logs.append($0) })
            let informer = self.informer
            task = informer.start()
        }

        func stop() async {
            task.cancel()
            _ = await task.value
            await client.shutdown()
            server.stop()
        }

        /// Waits for `condition` on the snapshot. Generous: when every core's test threads
        /// are busy with other suites, the informer's tasks wait their turn.
        func eventually(_ what: String, _ condition: (ClusterState) throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if let s = informer.snapshot(), (try? condition(s)) == true { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("timed out waiting for \(what); log: \(logs.lines.joined(separator: "\n"))")
        }

        /// Waits until the informer's watch of `path` is open on the server.
        func watching(_ path: String) async throws {
            try await eventually("the watch of \(path)") { _ in server.isWatching(path) }
        }
    }

    final class LogBox: @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [String] = []
        func append(_ s: String) { lock.lock(); storage.append(s); lock.unlock() }
        var lines: [String] { lock.lock(); defer { lock.unlock() }; return storage }
    }

    static func slice(_ name: String, _ ips: [String]) -> [String: Any] {
        ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": ["name": name, "namespace": "cache", "labels": ["kubernetes.io/service-name": "redis"]],
         "ports": [["name": "redis", "port": 6379, "protocol": "TCP"]],
         "endpoints": ips.map { ["addresses": [$0], "nodeName": "node-a", "conditions": ["ready": true]] }]
    }

    static let slices = KubeResource.endpointSlices.path
}

extension KubeInformer {
    /// The first error the informer records within `timeout`.
    func failure(within timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let e = status.lastError { return e }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

extension InformerTests {
    /// Runs `body` with a running informer, stopping it however `body` ends.
    func with(_ r: Running, _ body: (Running) async throws -> Void) async throws {
        do {
            try await body(r)
        } catch {
            await r.stop()
            throw error
        }
        await r.stop()
    }

    @Test func convergesToWhatTheManifestsSayAndFollowsEvents() async throws {
        try await with(try Running()) { r in
        #expect(await r.informer.waitUntilSynced(timeout: .seconds(60)), "\(r.logs.lines)")
        let snapshot = try #require(r.informer.snapshot())
        let loaded = try Self.loaded()
        // The same cluster: the rules rendered from either are byte for byte the same.
        #expect(try Self.rules(snapshot) == (try Self.rules(loaded)))
        #expect(try Self.rules(snapshot, .nftables) == (try Self.rules(loaded, .nftables)))
        #expect(snapshot.pods.map(\.key) == loaded.pods.map(\.key).sorted())
        #expect(snapshot.networkPolicies.count == 2 && snapshot.namespaces.count == 2)
        // Paged: pages of two, so every resource with more than two objects took several.
        #expect(r.server.state.withLock { $0.requests }.contains { $0.contains("continue=") })

        r.server.apply(.modified, path: Self.slices, Self.slice("redis-1", ["10.244.1.20", "10.244.1.21"]))
        try await r.eventually("the modified slice") { s in
            s.endpointSlices.first { $0.metadata.name == "redis-1" }?.endpoints.count == 2
        }
        r.server.apply(.deleted, path: KubeResource.services.path, ["metadata": ["name": "empty", "namespace": "default"]])
        try await r.eventually("the deleted service") { !$0.services.contains { $0.metadata.name == "empty" } }
        #expect(try !Self.rules(r.informer.snapshot()!).contains("default/empty"))
        #expect(r.informer.status.lists == KubeResource.all.count)
        }
    }

    @Test func survivesWhatTheAPIServerDoes() async throws {
        try await with(try Running(resources: [KubeResource.services, KubeResource.endpointSlices])) { r in
        #expect(await r.informer.waitUntilSynced(timeout: .seconds(60)))

        // A bookmark moves the resourceVersion the next watch starts from.
        try await r.watching(Self.slices)
        r.server.bookmark()
        try await Task.sleep(for: .milliseconds(100))
        let bookmarked = r.server.state.withLock { $0.resourceVersion }
        r.server.closeWatches()
        try await r.eventually("a watch from the bookmark") { _ in
            r.server.state.withLock { s in
                s.requests.contains { $0.contains("endpointslices") && $0.contains("watch=1") && $0.contains("resourceVersion=\(bookmarked)") }
                    && s.watchers.contains { $0.path == Self.slices }
            }
        }

        // A malformed line is skipped; the events after it still apply.
        r.server.sendMalformed(path: Self.slices)
        r.server.apply(.added, path: Self.slices, Self.slice("redis-2", ["10.244.1.30"]))
        try await r.eventually("the event after the malformed one") { $0.endpointSlices.contains { $0.metadata.name == "redis-2" } }
        #expect(r.informer.status.malformedEvents >= 1)

        // A watch dropped in the middle of an event: the half is discarded, the reconnect
        // from the last whole event's resourceVersion brings the event in full, once.
        r.server.state.withLock { $0.dropNextEventHalfway = true }
        r.server.apply(.added, path: Self.slices, Self.slice("redis-3", ["10.244.1.40"]))
        try await r.eventually("the event cut in half, delivered again") { $0.endpointSlices.contains { $0.metadata.name == "redis-3" } }
        #expect(r.informer.snapshot()!.endpointSlices.filter { $0.metadata.name == "redis-3" }.count == 1)

        // History compacted while the watch is down: 410 Gone, a fresh list, and changes made
        // in between are there.
        let listsBefore = r.informer.status.lists
        r.server.state.withLock { $0.holdWatches = true }
        r.server.closeWatches()
        r.server.apply(.added, path: Self.slices, Self.slice("redis-4", ["10.244.1.50"]))
        r.server.compact()
        r.server.releaseWatches()
        try await r.eventually("the relist after 410") { $0.endpointSlices.contains { $0.metadata.name == "redis-4" } }
        #expect(r.informer.status.relistsAfterGone >= 1 && r.informer.status.lists > listsBefore)

        // Server errors: backed off and retried, the cache kept meanwhile.
        r.server.state.withLock { $0.failNext = 3 }
        r.server.closeWatches()
        r.server.apply(.deleted, path: Self.slices, ["metadata": ["name": "redis-4", "namespace": "cache"]])
        try await r.eventually("recovery after 500s") { !$0.endpointSlices.contains { $0.metadata.name == "redis-4" } }
        #expect(r.informer.status.lastError?.contains("HTTP 500") == true)
        }
    }

    @Test func aWrongTokenIsRefusedAndTheRightOneWorks() async throws {
        let wrong = try Running(token: "nope", resources: [KubeResource.services]) { $0.state.withLock { $0.requiredToken = "sesame" } }
        #expect(await wrong.informer.failure(within: .seconds(60)) != nil)
        #expect(wrong.informer.snapshot() == nil)
        #expect(wrong.informer.status.lastError?.contains("HTTP 401: Unauthorized") == true, "\(String(describing: wrong.informer.status.lastError))")
        await wrong.stop()
        let right = try Running(token: "sesame", resources: [KubeResource.services]) { $0.state.withLock { $0.requiredToken = "sesame" } }
        #expect(await right.informer.waitUntilSynced(timeout: .seconds(60)))
        #expect(right.informer.snapshot()?.services.count == 5)
        await right.stop()
    }

    /// A token file rotated under the agent (the service account's bound token): once the
    /// server stops taking the old token, requests fail with 401 until the file holds the new
    /// one, which the next request reads.
    @Test func anExpiredTokenRecoversWhenTheFileIsRotated() async throws {
        let file = NSTemporaryDirectory() + "seaway-token-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try "first\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await with(try Running(tokenFile: file, resources: [KubeResource.services]) { $0.state.withLock { $0.requiredToken = "first" } }) { r in
            #expect(await r.informer.waitUntilSynced(timeout: .seconds(60)))
            // Open before the token changes: a watch still being made would be let in with the
            // old token and stay open, so nothing would fail.
            try await r.watching(KubeResource.services.path)
            r.server.state.withLock { $0.requiredToken = "second" }
            r.server.closeWatches()
            #expect(await r.informer.failure(within: .seconds(60))?.contains("HTTP 401") == true)
            try "second\n".write(toFile: file, atomically: true, encoding: .utf8)
            r.server.apply(.added, path: KubeResource.services.path, ["metadata": ["name": "after", "namespace": "default"],
                                                                      "spec": ["clusterIP": "10.96.9.9", "ports": [["port": 80]]]])
            try await r.eventually("the watch with the new token") { $0.services.contains { $0.metadata.name == "after" } }
        }
    }

    /// An API server that accepts the connection and never answers: the list times out, is
    /// retried, and succeeds once the server answers again.
    @Test func aStalledServerTimesOutAndIsRetried() async throws {
        try await with(try Running(resources: [KubeResource.services], requestTimeout: .milliseconds(300)) { $0.state.withLock { $0.stallLists = true } }) { r in
            #expect(await r.informer.failure(within: .seconds(60)) != nil)
            #expect(r.informer.snapshot() == nil)
            r.server.state.withLock { $0.stallLists = false }
            #expect(await r.informer.waitUntilSynced(timeout: .seconds(60)))
        }
    }

    /// A watch that goes silent after its headers (events sent to it are lost) is abandoned
    /// once it outlives the server's timeout, and the next watch brings what it missed. The
    /// fake server never ends a watch by itself, so here every watch outlives its 1 s timeout.
    @Test func aSilentWatchIsAbandonedAndTheNextBringsWhatItMissed() async throws {
        try await with(try Running(resources: [KubeResource.services], watchTimeoutSeconds: 1, watchGrace: .milliseconds(500))) { r in
            #expect(await r.informer.waitUntilSynced(timeout: .seconds(60)))
            // The watch must be open before it goes silent (one made later gets the backlog).
            try await r.watching(KubeResource.services.path)
            r.server.state.withLock { $0.muteWatches = true }
            r.server.apply(.added, path: KubeResource.services.path, ["metadata": ["name": "missed", "namespace": "default"],
                                                                      "spec": ["clusterIP": "10.96.9.8", "ports": [["port": 80]]]])
            r.server.state.withLock { $0.muteWatches = false }
            try await r.eventually("the missed event, from the next watch") { $0.services.contains { $0.metadata.name == "missed" } }
            #expect(r.informer.status.stalledWatches >= 1)
            #expect(r.logs.lines.contains { $0.contains("abandoned, watching again") })
        }
    }
}
