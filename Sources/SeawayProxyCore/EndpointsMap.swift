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
        // Indexes are filtered and sorted, not slices (copying a slice costs a dozen retains).
        let relevant = slices.indices.filter { i in
            slices[i].addressType.family == family && slices[i].serviceName?.isEmpty == false
                && slices[i].metadata.labels["service.kubernetes.io/headless"] == nil
                && slices[i].metadata.labels["service.kubernetes.io/service-proxy-name"] == nil
        }.sorted { a, b in
            (slices[a].metadata.namespace, slices[a].metadata.name) < (slices[b].metadata.namespace, slices[b].metadata.name)
        }

        // Each slice converts on its own (on any core); merging keeps slice order.
        let perSlice = relevant.concurrentMap { i in endpoints(of: slices[i], nodeName: nodeName) }
        var lists: [ServicePortName: [EndpointInfo]] = [:]
        lists.reserveCapacity(perSlice.count)
        for ports in perSlice {
            for (key, endpoints) in ports {
                // A service port's first slice is taken as it is (most have only one).
                if let i = lists.index(forKey: key) {
                    lists.values[i].append(contentsOf: endpoints)
                } else {
                    lists[key] = endpoints
                }
            }
        }
        let gathered = Array(lists)
        let unique = gathered.concurrentMap { deduplicated($0.value) }
        var result: [ServicePortName: [EndpointInfo]] = [:]
        result.reserveCapacity(gathered.count)
        for ((key, _), endpoints) in zip(gathered, unique) where !endpoints.isEmpty { result[key] = endpoints }
        return result
    }

    /// One slice's endpoints per service port it names.
    private static func endpoints(of slice: borrowing EndpointSlice, nodeName: String) -> [(ServicePortName, [EndpointInfo])] {
        slice.ports.compactMap { port in
            // kube-proxy ignores ports with a nil name or a nil/zero number.
            guard let portName = port.name, let portNumber = port.port, portNumber != 0 else { return nil }
            let key = ServicePortName(namespace: slice.metadata.namespace, name: slice.serviceName!,
                                      port: portName, proto: port.proto)
            var endpoints: [EndpointInfo] = []
            endpoints.reserveCapacity(slice.endpoints.count)
            for j in slice.endpoints.indices {
                guard let first = slice.endpoints[j].addresses.first, let ip = IPAddress(first) else { continue }
                let conditions = slice.endpoints[j].conditions
                let zoneHints = slice.endpoints[j].zoneHints, nodeHints = slice.endpoints[j].nodeHints
                endpoints.append(EndpointInfo(
                    ip: ip, port: portNumber,
                    isLocal: !nodeName.isEmpty && slice.endpoints[j].nodeName == nodeName,
                    ready: conditions.ready ?? true,
                    serving: conditions.serving ?? true,
                    terminating: conditions.terminating ?? false,
                    zoneHints: zoneHints.isEmpty ? nil : Set(zoneHints),
                    nodeHints: nodeHints.isEmpty ? nil : Set(nodeHints)))
            }
            return (key, endpoints)
        }
    }

    /// Sorted by `ip:port` text; of equal endpoints the first non-terminating one wins, else
    /// the first (kube-proxy keeps an earlier entry only when the later one is terminating).
    static func deduplicated(_ list: [EndpointInfo]) -> [EndpointInfo] {
        if list.count < 2 { return list }
        let keys = list.map { TextKey($0.description) }
        // Often already in order without repeats: nothing to do.
        if (1..<keys.count).allSatisfy({ keys[$0 - 1] < keys[$0] }) { return list }
        // Sort indices, not endpoints (copying an endpoint costs retains); ties keep slice order.
        let order = list.indices.sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
        var out: [EndpointInfo] = []
        out.reserveCapacity(list.count)
        var i = 0
        while i < order.count {
            var j = i + 1
            while j < order.count && keys[order[j]] == keys[order[i]] { j += 1 }
            // kube-proxy overwrites with each later duplicate unless it is terminating.
            var chosen = list[order[i]]
            for k in (i + 1)..<j where !list[order[k]].terminating { chosen = list[order[k]] }
            out.append(chosen)
            i = j
        }
        return out
    }
}

/// An endpoint's `ip:port` text as a comparable value: its first 24 bytes packed big-endian
/// (zero-padded), so comparing keys compares the text byte by byte, as Go's string sort does.
/// Texts longer than that (IPv6) keep the whole text for ties of the prefix.
struct TextKey: Comparable {
    let a: UInt64, b: UInt64, c: UInt64
    /// The whole text, when longer than 24 bytes.
    let long: String?

    init(_ description: String) {
        var text = description
        var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0
        let count = text.withUTF8 { bytes -> Int in
            func byte(_ i: Int) -> UInt64 { i < bytes.count ? UInt64(bytes[i]) : 0 }
            for i in 0..<8 {
                w0 = w0 << 8 | byte(i)
                w1 = w1 << 8 | byte(i + 8)
                w2 = w2 << 8 | byte(i + 16)
            }
            return bytes.count
        }
        (a, b, c) = (w0, w1, w2)
        long = count > 24 ? text : nil
    }

    static func < (l: TextKey, r: TextKey) -> Bool {
        if (l.a, l.b, l.c) != (r.a, r.b, r.c) { return (l.a, l.b, l.c) < (r.a, r.b, r.c) }
        // Equal first 24 bytes (text has no NUL bytes, so neither is shorter than 24):
        // the longer one is greater; two long ones compare whole.
        switch (l.long, r.long) {
        case let (x?, y?): return x < y
        case (nil, .some): return true
        default: return false
        }
    }
}
