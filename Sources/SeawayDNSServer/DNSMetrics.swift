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

    /// Seaway's own gauge for a live source: 1 while the API server cannot be read.
    public func sourceStale() -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "seaway_dns_source_stale", unitName: "",
                                                            helpText: "1 while the API server cannot be read: answers are the last good state's"))
    }

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
/// happen once per label set, not once per query, and the handles a query needs are found
/// by array index (its type's slot, its rcode), with no hashing on the way.
struct MetricsRecorder {
    let metrics: DNSMetrics
    /// The socket's transport, CoreDNS's `proto` label.
    let proto: String
    /// By `family slot * typeSlots + type slot`.
    private var requestCounters: [Counter?]
    /// Answers of the kubernetes plugin (the zone) by rcode; other plugins and extended
    /// rcodes (upstream answers, rarer) by key.
    private var zoneResponses: [Counter?]
    private var otherResponses: [ResponseKey: Counter] = [:]
    private var durations: [DurationHistogram?]
    private var hits: [Counter?] = [nil, nil]
    private lazy var misses = metrics.cacheMisses

    private struct ResponseKey: Hashable {
        var rcode: DNSResponseCode
        var plugin: String
    }

    /// Slot 0 is "other"; each of CoreDNS's counted types has its own, by type code.
    private static let typeSlots = DNSMetrics.countedTypes.count + 1
    private static let slotOfType: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for (i, t) in DNSMetrics.countedTypes.sorted(by: { $0.rawValue < $1.rawValue }).enumerated() {
            table[Int(t.rawValue)] = UInt8(i + 1)
        }
        return table
    }()

    private static func slot(_ type: DNSType) -> Int {
        type.rawValue < 256 ? Int(slotOfType[Int(type.rawValue)]) : 0
    }

    init(_ metrics: DNSMetrics, proto: String) {
        self.metrics = metrics
        self.proto = proto
        requestCounters = Array(repeating: nil, count: 2 * Self.typeSlots)
        zoneResponses = Array(repeating: nil, count: 16)
        durations = Array(repeating: nil, count: Self.typeSlots)
    }

    mutating func request(ipv6: Bool, type: DNSType) {
        let i = (ipv6 ? Self.typeSlots : 0) + Self.slot(type)
        if let c = requestCounters[i] { c.increment(); return }
        let c = metrics.requests(proto: proto, family: ipv6 ? "2" : "1", type: type)
        requestCounters[i] = c
        c.increment()
    }

    mutating func response(rcode: DNSResponseCode, plugin: String, type: DNSType, elapsed: Duration) {
        responseCounter(rcode: rcode, plugin: plugin).increment()
        let t = Self.slot(type)
        if let h = durations[t] { h.record(elapsed) } else {
            let h = metrics.duration(type: type)
            durations[t] = h
            h.record(elapsed)
        }
    }

    private mutating func responseCounter(rcode: DNSResponseCode, plugin: String) -> Counter {
        if plugin == "kubernetes", rcode.rawValue < 16 {
            if let c = zoneResponses[Int(rcode.rawValue)] { return c }
            let c = metrics.responses(rcode: rcode, plugin: plugin)
            zoneResponses[Int(rcode.rawValue)] = c
            return c
        }
        let key = ResponseKey(rcode: rcode, plugin: plugin)
        if let c = otherResponses[key] { return c }
        let c = metrics.responses(rcode: rcode, plugin: plugin)
        otherResponses[key] = c
        return c
    }

    mutating func cache(hit: Bool, denial: Bool) {
        if !hit { misses.increment(); return }
        let i = denial ? 1 : 0
        if let c = hits[i] { c.increment(); return }
        let c = metrics.cacheHits(denial: denial)
        hits[i] = c
        c.increment()
    }
}
