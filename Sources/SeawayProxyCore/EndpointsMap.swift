import SeawayModel

/// Endpoints per service port, built from EndpointSlices as kube-proxy's EndpointSliceCache
/// builds them: slices of one address family, de-duplicated by `ip:port` (preferring a
/// non-terminating endpoint over a terminating one with the same address), sorted by
/// `ip:port` text.
public enum EndpointsMap {
    public static func build(slices: [EndpointSlice], family: IPFamily, nodeName: String)
        -> [ServicePortName: [EndpointInfo]]
    {
        // kube-proxy's informer skips headless and other-proxy slices by label selector.
        let relevant = slices.filter { s in
            s.addressType.family == family && s.serviceName?.isEmpty == false
                && s.metadata.labels["service.kubernetes.io/headless"] == nil
                && s.metadata.labels["service.kubernetes.io/service-proxy-name"] == nil
        }.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }

        // Each slice converts on its own (on any core); merging keeps slice order.
        let perSlice = relevant.concurrentMap { slice -> [(ServicePortName, [EndpointInfo])] in
            slice.ports.compactMap { port in
                // kube-proxy ignores ports with a nil name or a nil/zero number.
                guard let portName = port.name, let portNumber = port.port, portNumber != 0 else { return nil }
                let key = ServicePortName(namespace: slice.metadata.namespace, name: slice.serviceName!,
                                          port: portName, proto: port.proto)
                let endpoints = slice.endpoints.compactMap { ep -> EndpointInfo? in
                    guard let first = ep.addresses.first, let ip = IPAddress(first) else { return nil }
                    return EndpointInfo(
                        ip: ip, port: portNumber,
                        isLocal: !nodeName.isEmpty && ep.nodeName == nodeName,
                        ready: ep.conditions.ready ?? true,
                        serving: ep.conditions.serving ?? true,
                        terminating: ep.conditions.terminating ?? false,
                        zoneHints: ep.zoneHints.isEmpty ? nil : Set(ep.zoneHints),
                        nodeHints: ep.nodeHints.isEmpty ? nil : Set(ep.nodeHints))
                }
                return (key, endpoints)
            }
        }
        var lists: [ServicePortName: [EndpointInfo]] = [:]
        lists.reserveCapacity(perSlice.count)
        for ports in perSlice {
            for (key, endpoints) in ports { lists[key, default: []].append(contentsOf: endpoints) }
        }
        let keys = Array(lists.keys)
        let gathered = lists
        let unique = keys.concurrentMap { deduplicated(gathered[$0]!) }
        var result: [ServicePortName: [EndpointInfo]] = [:]
        result.reserveCapacity(keys.count)
        for (key, endpoints) in zip(keys, unique) where !endpoints.isEmpty { result[key] = endpoints }
        return result
    }

    /// Sorted by `ip:port` text; of equal endpoints the first non-terminating one wins, else
    /// the first (kube-proxy keeps an earlier entry only when the later one is terminating).
    static func deduplicated(_ list: [EndpointInfo]) -> [EndpointInfo] {
        // Sort indices, not endpoints (copying an endpoint costs retains); ties keep slice order.
        let order = list.indices.sorted {
            let a = list[$0].description, b = list[$1].description
            return a != b ? a < b : $0 < $1
        }
        let sorted = order.map { list[$0] }
        var out: [EndpointInfo] = []
        out.reserveCapacity(sorted.count)
        var i = 0
        while i < sorted.count {
            var j = i + 1
            while j < sorted.count && sorted[j].description == sorted[i].description { j += 1 }
            // kube-proxy overwrites with each later duplicate unless it is terminating.
            var chosen = sorted[i]
            for k in (i + 1)..<j where !sorted[k].terminating { chosen = sorted[k] }
            out.append(chosen)
            i = j
        }
        return out
    }
}
