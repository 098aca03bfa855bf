import Foundation
import NIOCore
import SeawayModel
import Synchronization

/// client-go's reflector and store for a set of resources: each resource is listed (paged),
/// then watched from the list's resourceVersion with bookmarks; a watch that ends (server
/// timeout, dropped connection) resumes from the last resourceVersion seen, a 410 Gone lists
/// again, and failures back off exponentially with jitter. The cache only ever moves from
/// one consistent state to the next: a relist replaces a resource's objects in one step once
/// every page has arrived, and a malformed event is logged and skipped. `snapshot()` is the
/// cluster exactly as the manifest loader would read the same objects.
public final class KubeInformer: Sendable {
    /// What the informer has done, for metrics and health.
    public struct Status: Sendable {
        /// Every resource listed at least once.
        public var synced = false
        public var lastError: String?
        public var lists = 0
        public var watches = 0
        public var relistsAfterGone = 0
        public var malformedEvents = 0
        /// Watches abandoned because they outlived the server's timeout (a stalled stream).
        public var stalledWatches = 0
        /// Moves on every change of the cache.
        public var generation = 0
        /// Since when some resource has been failing (nil: every list and watch is fine).
        public var failingSince: Double?

        public init() {}
    }

    struct State {
        /// Per resource path, per object key: the object as decoded.
        var stores: [String: [String: ClusterState]] = [:]
        var status = Status()
        /// Resources whose last list or watch failed, with since when.
        var failing: [String: Double] = [:]
        /// Per resource path, the keys changed since the last `takeUpdate()`; nil until that
        /// is first called (nobody follows the changes then, so none are kept).
        var journal: [String: Set<String>]? = nil
        /// A resource was listed again since the last `takeUpdate()`: its objects were
        /// replaced wholesale, so the next update is a snapshot.
        var relisted = true

        mutating func failed(_ path: String) {
            failing[path] = failing[path] ?? Date().timeIntervalSince1970
            status.failingSince = failing.values.min()
        }

        mutating func recovered(_ path: String) {
            failing[path] = nil
            status.failingSince = failing.values.min()
        }
    }

    let client: KubeClient
    public let resources: [KubeResource]
    let watchTimeoutSeconds: Int
    /// How long past its timeout a watch may stay open: the server ends every watch at its
    /// timeout, so one still open after this has stalled (a dead peer that never reset the
    /// connection, a proxy holding it) and is abandoned for a new one.
    let watchGrace: Duration
    /// How long a list page may take (a stalled API server is an error, retried).
    let requestTimeout: Duration
    let onChange: @Sendable () -> Void
    let log: @Sendable (String) -> Void
    private let state = Mutex(State())

    public init(client: KubeClient, resources: [KubeResource], watchTimeoutSeconds: Int = 300, watchGrace: Duration = .seconds(30),
                requestTimeout: Duration = .seconds(60),
                onChange: @escaping @Sendable () -> Void = {}, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client
        self.resources = resources
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.watchGrace = watchGrace
        self.requestTimeout = requestTimeout
        self.onChange = onChange
        self.log = log
    }

    public var status: Status { state.withLock { $0.status } }

    /// The cluster as cached, nil until every resource has been listed once.
    public func snapshot() -> ClusterState? {
        state.withLock { s in s.status.synced ? Self.cluster(s, resources) : nil }
    }

    /// What changed since the last call, nil until every resource has been listed once: the
    /// first call, and the first after a relist, is the whole cluster (`snapshot()`); later
    /// ones name the objects changed since, each as it is now (nil: deleted). Taken
    /// atomically, so applying each update to the previous result gives `snapshot()`.
    public func takeUpdate() -> InformerUpdate? {
        state.withLock { s -> InformerUpdate? in
            guard s.status.synced else { return nil }
            defer { s.journal = [:]; s.relisted = false }
            guard !s.relisted, let journal = s.journal else { return .snapshot(Self.cluster(s, resources)) }
            var deltas: [InformerDelta] = []
            for r in resources {
                for key in (journal[r.path] ?? []).sorted() {
                    deltas.append(InformerDelta(resource: r, key: key, object: s.stores[r.path]?[key]))
                }
            }
            return .deltas(deltas)
        }
    }

    /// The stores as one cluster: resource by resource, objects in key order.
    private static func cluster(_ s: State, _ resources: [KubeResource]) -> ClusterState {
        var cluster = ClusterState()
        for r in resources {
            for (_, fragment) in (s.stores[r.path] ?? [:]).sorted(by: { $0.key < $1.key }) { cluster.append(fragment) }
        }
        return cluster
    }

    /// Runs the informer on a thread of its own (see InformerExecutor) until the task is
    /// cancelled.
    public func start() -> Task<Void, Never> {
        if #available(macOS 15.0, *) {
            return Task(executorPreference: InformerExecutor(name: "seaway-informer")) { await self.run() }
        }
        return Task { await self.run() }
    }

    /// Lists and watches every resource until the task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for r in resources { group.addTask { await self.reflect(r) } }
        }
    }

    /// Waits until every resource has been listed once (or `timeout` passes).
    public func waitUntilSynced(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if status.synced { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return status.synced
    }

    // MARK: One resource

    private func reflect(_ r: KubeResource) async {
        var backoff = Backoff()
        while !Task.isCancelled {
            do {
                var resourceVersion = try await relist(r)
                backoff.reset()
                watching: while !Task.isCancelled {
                    state.withLock { $0.status.watches += 1 }
                    let started = ContinuousClock.now
                    let stream = try await client.watch(r, from: resourceVersion, timeoutSeconds: watchTimeoutSeconds)
                    state.withLock { $0.recovered(r.path) }
                    // The HTTP client's deadline ends with the response head; the body gets
                    // one of its own here.
                    let limit = Duration.seconds(watchTimeoutSeconds) + watchGrace, from = resourceVersion
                    let outcome = try await withThrowingTaskGroup(of: WatchOutcome?.self) { group in
                        group.addTask { try await self.follow(stream, r, from: from) }
                        group.addTask { try await Task.sleep(for: limit); return nil }
                        defer { group.cancelAll() }
                        return try await group.next()!
                    }
                    guard let outcome else {
                        // Resuming from where this watch began replays what it applied
                        // (the same objects again) or, if that is too old, relists.
                        log("watch \(r): still open \(limit) after it began, past the server's timeout: abandoned, watching again")
                        state.withLock { $0.status.stalledWatches += 1 }
                        continue watching
                    }
                    resourceVersion = outcome.resourceVersion
                    if outcome.gone { break watching }
                    // The stream ended (the server's timeout, or the connection dropped):
                    // watch again from the last resourceVersion; at once, unless it ended
                    // straight away with nothing, which would spin.
                    if outcome.events == 0 && ContinuousClock.now - started < .seconds(1) {
                        try await Task.sleep(for: backoff.next())
                    } else {
                        backoff.reset()
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                if let e = error as? KubeError, e.status == 410 {
                    log("\(e.description): listing again")
                    state.withLock { $0.status.relistsAfterGone += 1 }
                    continue
                }
                let delay = backoff.next()
                state.withLock { s in
                    s.status.lastError = "\(error)"
                    s.failed(r.path)
                }
                log("\(r): \(error); retrying in \(delay)")
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// What one watch did: events read, the resourceVersion to resume from, and whether it
    /// ended in 410 Gone (list again).
    private struct WatchOutcome: Sendable {
        var events = 0
        var resourceVersion: String
        var gone = false
    }

    /// Applies a watch's events to the cache until the stream ends.
    private func follow(_ stream: KubeWatchStream, _ r: KubeResource, from resourceVersion: String) async throws -> WatchOutcome {
        var outcome = WatchOutcome(resourceVersion: resourceVersion)
        for try await event in stream {
            outcome.events += 1
            switch event {
            case let .added(o), let .modified(o):
                if let fragment = decode(o, r) { store(r, o.key, fragment) }
                outcome.resourceVersion = o.resourceVersion
            case let .deleted(o):
                store(r, o.key, nil)
                outcome.resourceVersion = o.resourceVersion
            case let .bookmark(rv):
                outcome.resourceVersion = rv
            case let .error(code, message) where code == 410:
                log("watch \(r): \(message) (410 Gone): listing again")
                state.withLock { $0.status.relistsAfterGone += 1 }
                outcome.gone = true
                return outcome
            case let .error(code, message):
                throw KubeError("watch \(r): \(message)", status: code)
            case let .malformed(line):
                state.withLock { $0.status.malformedEvents += 1 }
                log("watch \(r): skipped a malformed event: \(line.prefix(200))")
            }
        }
        return outcome
    }

    /// Lists every page, then replaces the resource's objects in one step.
    private func relist(_ r: KubeResource) async throws -> String {
        var entries: [String: ClusterState] = [:]
        var token: String? = nil
        var resourceVersion = ""
        repeat {
            let page = try await client.list(r, continue: token, timeout: TimeAmount(requestTimeout))
            for o in page.items {
                guard let fragment = decode(o, r) else { continue }
                entries[o.key] = fragment
            }
            token = page.continueToken
            resourceVersion = page.resourceVersion
        } while token != nil
        state.withLock { s in
            s.stores[r.path] = entries
            s.relisted = true
            s.recovered(r.path)
            s.status.lists += 1
            s.status.generation += 1
            s.status.synced = resources.allSatisfy { s.stores[$0.path] != nil }
        }
        onChange()
        return resourceVersion
    }

    private func store(_ r: KubeResource, _ key: String, _ object: ClusterState?) {
        state.withLock { s in
            s.stores[r.path, default: [:]][key] = object
            s.journal?[r.path, default: []].insert(key)
            s.status.generation += 1
        }
        onChange()
    }

    /// The object as the manifest decoder reads it; nil (logged, skipped) when it does not decode.
    private func decode(_ o: KubeObject, _ r: KubeResource) -> ClusterState? {
        var fragment = ClusterState()
        do {
            try ManifestDecoder().decode(String(decoding: o.json, as: UTF8.self), file: "\(r.path) \(o.key)", into: &fragment)
            return fragment
        } catch {
            state.withLock { $0.status.malformedEvents += 1 }
            log("skipped \(r.kind) \(o.key): \(error)")
            return nil
        }
    }
}

/// Exponential backoff with jitter: 0.2 s doubling to 30 s, each wait between half and all of it.
struct Backoff {
    private var attempt = 0

    mutating func next() -> Duration {
        let base = min(30.0, 0.2 * pow(2.0, Double(attempt)))
        attempt += 1
        return .milliseconds(Int64(base * Double.random(in: 0.5...1.0) * 1000))
    }

    mutating func reset() { attempt = 0 }
}

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
