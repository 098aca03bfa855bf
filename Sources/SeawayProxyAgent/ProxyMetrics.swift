import Prometheus

/// kube-proxy's metric names (pkg/proxy/metrics), so its dashboards and alerts read ours.
public final class ProxyMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// kube-proxy's sync buckets: 1 ms doubling fifteen times (about 16 s).
    static let syncBuckets: [Duration] = (0..<15).map { .milliseconds(1 << $0) }
    /// Network programming buckets: 0.25 s to about 5 minutes, as kube-proxy's.
    static let programmingBuckets: [Duration] = [0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                                 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
                                                 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60,
                                                 65, 70, 75, 80, 85, 90, 95, 100, 105, 110, 115, 120, 150, 180, 210, 240, 270, 300]
        .map { Duration.milliseconds(Int64($0 * 1000)) }

    let syncDuration: DurationHistogram
    let fullSyncDuration: DurationHistogram
    let partialSyncDuration: DurationHistogram
    let networkProgramming: DurationHistogram
    let lastSync: Gauge
    let lastQueued: Gauge
    let syncFailures: Counter
    let manifestFailures: Counter
    let serviceChanges: Counter
    let endpointChanges: Counter
    let chains: Gauge
    let sourceStale: Gauge
    let apiLists: Counter
    let apiRelistsAfterGone: Counter
    let apiMalformedEvents: Counter
    let apiStalledWatches: Counter

    public init(mode: String) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        // Full names as kube-proxy writes them: the descriptor's unit part is left empty.
        func named(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }
        func histogram(_ name: String, _ help: String, _ buckets: [Duration]) -> DurationHistogram {
            registry.makeDurationHistogram(descriptor: named(name, help), buckets: buckets)
        }
        func gauge(_ name: String, _ help: String) -> Gauge { registry.makeGauge(descriptor: named(name, help)) }
        func counter(_ name: String, _ help: String) -> Counter { registry.makeCounter(descriptor: named(name, help)) }

        syncDuration = histogram("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds",
                                 ProxyMetrics.syncBuckets)
        fullSyncDuration = histogram("kubeproxy_sync_full_proxy_rules_duration_seconds",
                                     "SyncProxyRules latency in seconds for full resyncs", ProxyMetrics.syncBuckets)
        partialSyncDuration = histogram("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                                        "SyncProxyRules latency in seconds for partial resyncs", ProxyMetrics.syncBuckets)
        networkProgramming = histogram("kubeproxy_network_programming_duration_seconds",
                                       "In Cluster Network Programming Latency in seconds", ProxyMetrics.programmingBuckets)
        lastSync = gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced")
        lastQueued = gauge("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued")
        // kube-proxy's IPVS mode counts its iptables-restore failures under the iptables name.
        syncFailures = counter(mode == "iptables" || mode == "ipvs" ? "kubeproxy_sync_proxy_rules_iptables_restore_failures_total"
                                   : "kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
                               "Cumulative proxy rules sync failures")
        manifestFailures = counter("seaway_proxy_manifest_load_failures_total",
                                   "Watched manifests that failed to load (the previous rules stayed)")
        serviceChanges = counter("kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes")
        endpointChanges = counter("kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes")
        chains = gauge("seaway_sync_proxy_rules_chains", "Chains Seaway's proxy rules hold after the last sync")
        apiLists = counter("seaway_proxy_api_lists_total", "Full lists of a watched resource (the first, and after 410 Gone)")
        apiRelistsAfterGone = counter("seaway_proxy_api_relists_after_gone_total",
                                      "Lists again because the watch's resourceVersion was too old (410 Gone)")
        apiMalformedEvents = counter("seaway_proxy_api_malformed_events_total",
                                     "Watch events or objects skipped because they could not be read")
        apiStalledWatches = counter("seaway_proxy_api_stalled_watches_total",
                                    "Watches abandoned because they stayed open past the server's timeout (a silent stream)")
        sourceStale = gauge("seaway_proxy_source_stale",
                            "1 while the cluster source (API server or manifests) is failing: the rules are the last good state's")
    }

    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
