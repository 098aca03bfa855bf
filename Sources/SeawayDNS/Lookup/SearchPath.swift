/// A pod's resolv.conf as the kubelet writes it for `dnsPolicy: ClusterFirst`:
/// `search NS.svc.ZONE svc.ZONE ZONE` and `options ndots:5`, and the order glibc's resolver
/// tries names in with it.
public struct SearchPath: Sendable, Hashable {
    public var domains: [DNSName]
    public var ndots: Int

    public init(domains: [DNSName], ndots: Int = 5) {
        self.domains = domains
        self.ndots = ndots
    }

    /// The kubelet's search path for a pod in `namespace` of a cluster with domain `zone`.
    public static func pod(namespace: String, zone: DNSName, ndots: Int = 5) -> SearchPath {
        let domains = [[namespace, "svc"], ["svc"], []].compactMap { labels in
            DNSName(labels: labels.map { Array($0.utf8) } + zone.labels)
        }
        return SearchPath(domains: domains, ndots: ndots)
    }

    /// The names tried for `query`, in order. A name ending in a dot is tried alone. One with
    /// at least `ndots` dots is tried as written first, then with each search domain; one
    /// with fewer dots the other way round (glibc's `res_search`).
    public func candidates(for query: String) -> [DNSName] {
        if query.hasSuffix(".") { return DNSName(query).map { [$0] } ?? [] }
        guard let name = DNSName(query) else { return [] }
        let dots = query.filter { $0 == "." }.count
        let expanded = domains.compactMap { DNSName(labels: name.labels + $0.labels) }
        return dots >= ndots ? [name] + expanded : expanded + [name]
    }
}

