import NIOConcurrencyHelpers
import Prometheus
import SeawayDNS

/// CoreDNS's metric names and labels (plugin/metrics), on a Prometheus registry, so existing
/// dashboards and alerts work unchanged.
public final class DNSMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// `dns://ADDRESS:PORT`, CoreDNS's `server` label.
    let server: String
    /// The server block's zone (`.`).
    let zone = "."

    /// CoreDNS's duration buckets: 0.25 ms doubling sixteen times.
    static let durationBuckets: [Duration] = (0..<16).map { .microseconds(250 << $0) }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), server: String) {
        self.registry = registry
        self.server = server
    }

    static var requestsTotal: MetricNameDescriptor { MetricNameDescriptor(namespace: "coredns", subsystem: "dns", metricName: "requests", unitName: "total",
                                                    helpText: "Counter of DNS requests made per zone, protocol and family.") }
    static var responsesTotal: MetricNameDescriptor { MetricNameDescriptor(namespace: "coredns", subsystem: "dns", metricName: "responses", unitName: "total",
                                                     helpText: "Counter of response status codes.") }
    static var requestDuration: MetricNameDescriptor { MetricNameDescriptor(namespace: "coredns", subsystem: "dns", metricName: "request_duration", unitName: "seconds",
                                                      helpText: "Histogram of the time (in seconds) each request took per zone.") }
    static var cacheHitsTotal: MetricNameDescriptor { MetricNameDescriptor(namespace: "coredns", subsystem: "cache", metricName: "hits", unitName: "total",
                                                     helpText: "The count of cache hits.") }
    static var cacheMissesTotal: MetricNameDescriptor { MetricNameDescriptor(namespace: "coredns", subsystem: "cache", metricName: "misses", unitName: "total",
                                                       helpText: "The count of cache misses.") }

    /// Request types CoreDNS counts by name; the rest are "other".
    static let countedTypes: Set<DNSType> = [.a, .aaaa, .cname, .ns, .ptr, .soa, .srv, .txt, .mx, .any, .axfr, .ixfr]

    func requests(proto: String, family: String, type: DNSType) -> Counter {
        registry.makeCounter(descriptor: DNSMetrics.requestsTotal, labels: [
            ("server", server), ("zone", zone), ("view", ""), ("proto", proto), ("family", family),
            ("type", DNSMetrics.countedTypes.contains(type) ? type.description : "other"),
        ])
    }

    func responses(rcode: DNSResponseCode, plugin: String) -> Counter {
        registry.makeCounter(descriptor: DNSMetrics.responsesTotal, labels: [
            ("server", server), ("zone", zone), ("view", ""), ("rcode", rcode.description), ("plugin", plugin),
        ])
    }

    func duration(type: DNSType) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: DNSMetrics.requestDuration, labels: [
            ("server", server), ("zone", zone), ("view", ""),
            ("type", DNSMetrics.countedTypes.contains(type) ? type.description : "other"),
        ], buckets: DNSMetrics.durationBuckets)
    }

    func cacheHits(denial: Bool) -> Counter {
        registry.makeCounter(descriptor: DNSMetrics.cacheHitsTotal, labels: [
            ("server", server), ("type", denial ? "denial" : "success"), ("zones", zone), ("view", ""),
        ])
    }

    var cacheMisses: Counter {
        registry.makeCounter(descriptor: DNSMetrics.cacheMissesTotal, labels: [("server", server), ("zones", zone), ("view", "")])
    }

    /// For the (rarer) upstream paths, which finish later on their own: straight to the registry.
    func recordResponse(rcode: DNSResponseCode, plugin: String, type: DNSType, elapsed: Duration) {
        responses(rcode: rcode, plugin: plugin).increment()
        duration(type: type).record(elapsed)
    }

    func recordCache(hit: Bool, denial: Bool) {
        if hit { cacheHits(denial: denial).increment() } else { cacheMisses.increment() }
    }

    /// `/metrics` text.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}

/// One socket's handles on the metrics: registry lookups (a lock and a hash of the labels)
/// happen once per label set, not once per query.
struct MetricsRecorder {
    let metrics: DNSMetrics
    private var requestCounters: [RequestKey: Counter] = [:]
    private var responseCounters: [ResponseKey: Counter] = [:]
    private var durations: [DNSType: DurationHistogram] = [:]
    private var hits: [Bool: Counter] = [:]
    private lazy var misses = metrics.cacheMisses

    private struct RequestKey: Hashable {
        var proto: String
        var ipv6: Bool
        var type: DNSType
    }

    private struct ResponseKey: Hashable {
        var rcode: DNSResponseCode
        var plugin: String
    }

    init(_ metrics: DNSMetrics) { self.metrics = metrics }

    mutating func request(proto: String, ipv6: Bool, type: DNSType) {
        let key = RequestKey(proto: proto, ipv6: ipv6, type: DNSMetrics.countedTypes.contains(type) ? type : DNSType(rawValue: 0))
        if let c = requestCounters[key] { c.increment(); return }
        let c = metrics.requests(proto: proto, family: ipv6 ? "2" : "1", type: type)
        requestCounters[key] = c
        c.increment()
    }

    mutating func response(rcode: DNSResponseCode, plugin: String, type: DNSType, elapsed: Duration) {
        let key = ResponseKey(rcode: rcode, plugin: plugin)
        if let c = responseCounters[key] { c.increment() } else {
            let c = metrics.responses(rcode: rcode, plugin: plugin)
            responseCounters[key] = c
            c.increment()
        }
        let t = DNSMetrics.countedTypes.contains(type) ? type : DNSType(rawValue: 0)
        if let h = durations[t] { h.record(elapsed) } else {
            let h = metrics.duration(type: type)
            durations[t] = h
            h.record(elapsed)
        }
    }

    mutating func cache(hit: Bool, denial: Bool) {
        if !hit { misses.increment(); return }
        if let c = hits[denial] { c.increment(); return }
        let c = metrics.cacheHits(denial: denial)
        hits[denial] = c
        c.increment()
    }
}
