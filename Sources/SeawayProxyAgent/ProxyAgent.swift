import Glibc
import NIOPosix
import SeawayDataplane
import SeawayHTTP
import SeawayKernel
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayRender
import SeawayUserspaceProxy
import Synchronization

/// `seaway proxy`: kube-proxy's node agent on a manifest directory. Changes under the
/// directory (inotify) queue a sync; syncs run at most once per min-sync-period and at
/// least once per sync-period (kube-proxy's BoundedFrequencyRunner), nftables ones sending
/// only what changed. Manifests that fail to load are reported and change nothing.
public final class ProxyAgent {
    /// Where the cluster comes from.
    public enum Source: Sendable {
        case directory(String)
        case apiServer(APIServerConnection)
    }

    public struct Configuration: Sendable {
        public var mode: ProxyMode
        public var source: Source
        public var options: ProxyOptions
        public var minSyncPeriod: Duration = .seconds(1)
        public var syncPeriod: Duration = .seconds(30)
        /// `host:port` for /healthz and /livez (kube-proxy: 0.0.0.0:10256); nil: none.
        public var healthz: (host: String, port: Int)? = ("0.0.0.0", 10256)
        /// `host:port` for /metrics (kube-proxy: 127.0.0.1:10249); nil: none.
        public var metrics: (host: String, port: Int)? = ("127.0.0.1", 10249)
        /// Userspace mode: how long an idle UDP session lives (kube-proxy's --udp-timeout).
        public var udpIdleTimeout: Duration = .milliseconds(250)

        public init(mode: ProxyMode, source: Source, options: ProxyOptions) {
            self.mode = mode
            self.source = source
            self.options = options
        }
    }

    /// How rules reach the kernel in each mode.
    enum Rules {
        case nftables(NFTablesProxier)
        case iptables(IPTablesProxier)
        case userspace(UserspaceProxier)
        case ipvs(IPVSProxier)
    }

    let configuration: Configuration
    let metrics: ProxyMetrics
    private let rules: Rules
    private let conntrack = ConntrackCleaner(environment: ProcessIO.environment())
    private let health = HealthState()
    private let log: @Sendable (String) -> Void

    /// Shared with the HTTP thread.
    final class HealthState: Sendable {
        let state = Mutex(Health())
    }

    /// What /healthz reports: kube-proxy's healthz server's view of the last sync.
    struct Health {
        var lastSynced: Double? = nil
        var queuedSince: Double? = nil
        /// Since when the cluster source (API server, manifests) has been failing.
        var sourceFailingSince: Double? = nil
    }

    public init(_ configuration: Configuration, log: @escaping @Sendable (String) -> Void) throws(DataplaneError) {
        self.configuration = configuration
        self.log = log
        metrics = ProxyMetrics(mode: configuration.mode.rawValue)
        switch configuration.mode {
        case .nftables: rules = .nftables(try NFTablesProxier(options: configuration.options))
        case .iptables: rules = .iptables(IPTablesProxier(options: configuration.options, environment: ProcessIO.environment()))
        case .userspace:
            rules = .userspace(UserspaceProxier(options: configuration.options, environment: ProcessIO.environment(),
                                                udpIdleTimeout: configuration.udpIdleTimeout))
        case .ipvs:
            rules = .ipvs(try IPVSProxier(options: configuration.options, kernel: KernelIPVS(environment: ProcessIO.environment())))
        }
    }

    /// Runs until the process is stopped.
    public func run() throws -> Never {
        let feed: ClusterFeed
        switch configuration.source {
        case let .directory(directory):
            let metrics = self.metrics
            feed = try DirectoryFeed(directory, failed: { metrics.manifestFailures.increment() }, log: log)
        case let .apiServer(connection):
            do { feed = try InformerFeed(connection, node: configuration.options.nodeName, log: log) } catch {
                throw DataplaneError("\(connection.origin): \(error)")
            }
        }
        log("proxy \(configuration.mode.rawValue) \(feed.description)")
        Heap.keepBigAllocationsApart()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try serveHTTP(group)

        let clock = ContinuousClock()
        var lastSync: ContinuousClock.Instant? = nil
        var pendingSince: ContinuousClock.Instant? = clock.now
        queued()
        while true {
            let now = clock.now
            let due: ContinuousClock.Instant
            if pendingSince != nil {
                due = lastSync.map { max($0 + configuration.minSyncPeriod, now) } ?? now
            } else {
                due = (lastSync ?? now) + configuration.syncPeriod
            }
            let wait = max(.zero, due - now)
            let milliseconds = Int32(clamping: wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
            if try feed.wait(milliseconds: milliseconds) {
                if pendingSince == nil { pendingSince = clock.now; queued() }
                continue
            }
            guard clock.now >= due else { continue }
            let started = clock.now
            metrics.sourceStale.set(Int64(feed.failingSince == nil ? 0 : 1))
            if let informer = (feed as? InformerFeed)?.informer { recordInformer(informer.status) }
            health.state.withLock { $0.sourceFailingSince = feed.failingSince }
            if let update = feed.current() {
                for c in update.changes ?? [] {
                    switch c {
                    case .upsertService, .deleteService: metrics.serviceChanges.increment()
                    case .upsertEndpointSlice, .deleteEndpointSlice: metrics.endpointChanges.increment()
                    }
                }
                // The changes are from the cluster handed out before; when the sync for that
                // failed, the proxier does a full sync and ignores them.
                if sync(update.cluster, changes: update.changes, started: started, clock: clock),
                   let since = pendingSince {
                    metrics.networkProgramming.recordNanoseconds((clock.now - since).nanoseconds)
                }
            }
            pendingSince = nil
            lastSync = clock.now
        }
    }

    /// One sync; true when the kernel took it.
    private func sync(_ cluster: ClusterState, changes: [ClusterChange]?, started: ContinuousClock.Instant, clock: ContinuousClock) -> Bool {
        do {
            let full: Bool, stale: [StaleConntrack]
            switch rules {
            case let .nftables(proxier):
                let result = try proxier.sync(to: cluster, changes: changes)
                (full, stale) = (result.full, result.staleConntrack)
                metrics.chains.set(Int64(proxier.chains))
                if result.operations > 0 {
                    log("synced nftables (\(result.full ? "full" : "partial")): \(result.operations) netlink operations, "
                        + "chains +\(result.chainsAdded) ~\(result.chainsChanged) -\(result.chainsDeleted), "
                        + "elements +\(result.elementsAdded) -\(result.elementsDeleted), kernel \(result.kernel)")
                }
            case let .iptables(proxier):
                let result = try proxier.sync(to: cluster, changes: changes)
                (full, stale) = (result.full, result.staleConntrack)
                log("synced iptables (\(result.full ? "full" : "partial")): \(result.chainsWritten) chains written, \(result.chainsDeleted) deleted")
            case let .ipvs(proxier):
                let result = try proxier.sync(to: cluster, changes: changes)
                (full, stale) = (result.full, result.staleConntrack)
                log("synced ipvs (\(result.full ? "full" : "partial")): \(result.virtualServers) virtual servers, "
                    + "\(result.messages) IPVS messages, addresses +\(result.bound) -\(result.unbound)")
            case let .userspace(proxier):
                // Redirected flows keep the listener's port whatever the endpoints do, and the
                // proxy moves a UDP session off a removed endpoint itself: no conntrack to clear.
                let result = try proxier.sync(to: cluster)
                (full, stale) = (result.full, [])
                for note in result.portsInUse { log("userspace proxy: \(note)") }
                log("synced userspace (\(result.full ? "full" : "partial")): \(result.listeners) listeners "
                    + "(+\(result.listenersOpened) -\(result.listenersClosed)), nftables transaction \(result.transactionBytes) bytes")
            }
            // A full sync's text and batch (about 150 MB at 10,000 services) are freed now:
            // give the pages back, so the agent's resident size is its state's, not its peak's.
            if full { Heap.returnFreedMemory() }
            // Only now do the rules no longer lead to the removed endpoints.
            for (entry, error) in conntrack.delete(stale) {
                log("could not clear stale UDP conntrack entries (\(entry)): \(error)")
            }
            let elapsed = (clock.now - started).nanoseconds
            metrics.syncDuration.recordNanoseconds(elapsed)
            (full ? metrics.fullSyncDuration : metrics.partialSyncDuration).recordNanoseconds(elapsed)
            let now = ProxyAgent.wallClock()
            metrics.lastSync.set(now)
            health.state.withLock { $0.lastSynced = now; $0.queuedSince = nil }
            return true
        } catch {
            metrics.syncFailures.increment()
            log("sync failed, the kernel's rules are unchanged: \(error)")
            return false
        }
    }

    /// The informer's counts as counters: what moved since the last look.
    private var informerSeen = KubeInformer.Status()

    private func recordInformer(_ status: KubeInformer.Status) {
        metrics.apiLists.increment(by: Int64(status.lists - informerSeen.lists))
        metrics.apiRelistsAfterGone.increment(by: Int64(status.relistsAfterGone - informerSeen.relistsAfterGone))
        metrics.apiMalformedEvents.increment(by: Int64(status.malformedEvents - informerSeen.malformedEvents))
        metrics.apiStalledWatches.increment(by: Int64(status.stalledWatches - informerSeen.stalledWatches))
        informerSeen = status
    }

    private func queued() {
        let now = ProxyAgent.wallClock()
        metrics.lastQueued.set(now)
        health.state.withLock { if $0.queuedSince == nil { $0.queuedSince = now } }
    }

    static func wallClock() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// kube-proxy's rule: healthy unless an update has been queued for longer than twice the
    /// sync period without a sync landing (or nothing has ever synced for that long); and
    /// Seaway's: unless the cluster source has been failing that long (the rules still stand,
    /// but they may be stale, so load balancers checking /healthz should look elsewhere).
    /// `liveness` (/livez) leaves the source out: restarting would not bring it back.
    static func healthy(_ h: Health, now: Double, syncPeriod: Double, liveness: Bool = false) -> Bool {
        if !liveness, let failing = h.sourceFailingSince, now - failing >= 2 * syncPeriod { return false }
        guard let queued = h.queuedSince else { return true }
        return now - queued < 2 * syncPeriod
    }

    private func serveHTTP(_ group: MultiThreadedEventLoopGroup) throws {
        let health = self.health, metrics = self.metrics
        let period = Double(configuration.syncPeriod.components.seconds)
        if let h = configuration.healthz {
            _ = try HTTPEndpointsHandler.listen(host: h.host, port: h.port, group: group) { path in
                guard path == "/healthz" || path == "/livez" else { return nil }
                let now = ProxyAgent.wallClock()
                let state = health.state.withLock { $0 }
                var body = "{\"lastUpdated\": \"\(state.lastSynced.map { String($0) } ?? "")\",\"currentTime\": \"\(now)\""
                if let failing = state.sourceFailingSince { body += ",\"sourceFailingSince\": \"\(failing)\"" }
                body += "}"
                return ProxyAgent.healthy(state, now: now, syncPeriod: period, liveness: path == "/livez")
                    ? HTTPAnswer(.ok, contentType: "application/json", Array(body.utf8))
                    : HTTPAnswer(.serviceUnavailable, contentType: "application/json", Array(body.utf8))
            }
        }
        if let m = configuration.metrics {
            _ = try HTTPEndpointsHandler.listen(host: m.host, port: m.port, group: group) { path in
                path == "/metrics" ? .metrics(metrics.exposition()) : nil
            }
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
