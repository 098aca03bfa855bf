import SeawayModel

/// Endpoints per service port, built from EndpointSlices as kube-proxy's EndpointSliceCache
/// builds them: slices of one address family, de-duplicated by `ip:port` (preferring a
/// non-terminating endpoint over a terminating one with the same address), sorted by
/// `ip:port` text.
public enum EndpointsMap {
    /// The slices of each service: indexes into the slice list, in slice-name order.
    public typealias SlicesByService = [ServiceRef: [Int]]

    /// A Service's namespace and name, as an EndpointSlice's service-name label names it.
    public struct ServiceRef: Hashable, Sendable {
        public var namespace: String
        public var name: String

        public init(namespace: String, name: String) {
            self.namespace = namespace
            self.name = name
        }
    }

    /// Endpoints per service port: the whole map (for a single service's slices, or tests).
    public static func build(slices: [EndpointSlice], family: IPFamily, nodeName: String)
        -> [ServicePortName: [EndpointInfo]]
    {
        var result: [ServicePortName: [EndpointInfo]] = [:]
        for (service, indexes) in grouped(slices, family: family) {
            var names: [ServicePortName] = []
            for i in indexes {
                for port in slices[i].ports {
                    guard let portName = port.name else { continue }
                    let name = ServicePortName(namespace: service.namespace, name: service.name, port: portName, proto: port.proto)
                    if !names.contains(name) { names.append(name) }
                }
            }
            for name in names {
                let endpoints = self.endpoints(of: name, slices: slices, at: indexes, nodeName: nodeName)
                if !endpoints.isEmpty { result[name] = endpoints }
            }
        }
        return result
    }

    /// The slices kube-proxy follows, by service. Its informer skips headless and
    /// other-proxy slices by label selector.
    public static func grouped(_ slices: [EndpointSlice], family: IPFamily) -> SlicesByService {
        var groups: SlicesByService = [:]
        // Most services have one slice: room for all of them at once, not grown by doubling.
        groups.reserveCapacity(slices.count)
        // Fields read in place, through a buffer pointer: an array's element is copied
        // (retaining all of it) to call a computed property such as `serviceName` on it.
        slices.withUnsafeBufferPointer { slices in
            for i in slices.indices where slices[i].addressType.family == family {
                let labels = slices[i].metadata.labels
                guard let service = labels[EndpointSlice.serviceNameLabel], !service.isEmpty,
                      labels["service.kubernetes.io/headless"] == nil,
                      labels["service.kubernetes.io/service-proxy-name"] == nil else { continue }
                groups[ServiceRef(namespace: slices[i].metadata.namespace, name: service), default: []].append(i)
            }
        }
        // Most services have one slice; the rest are put in name order, which decides
        // which of two equal endpoints wins.
        for (service, indexes) in groups where indexes.count > 1 {
            groups[service] = indexes.sorted { slices[$0].metadata.name < slices[$1].metadata.name }
        }
        return groups
    }

    /// One service port's endpoints from its service's slices (`at`, in name order):
    /// de-duplicated and sorted, as kube-proxy's EndpointSliceCache yields them.
    public static func endpoints(of name: ServicePortName, slices: [EndpointSlice], at indexes: [Int],
                                 nodeName: String) -> [EndpointInfo] {
        var endpoints: [EndpointInfo] = []
        // Slices and their ports read in place (a copy of either would retain all of it).
        slices.withUnsafeBufferPointer { slices in
            for i in indexes {
                // kube-proxy ignores ports with a nil name or a nil/zero number.
                for p in slices[i].ports.indices where slices[i].ports[p].name == name.port && slices[i].ports[p].proto == name.proto {
                    guard let number = slices[i].ports[p].port, number != 0 else { continue }
                    append(slices[i], port: number, nodeName: nodeName, to: &endpoints)
                }
            }
        }
        return deduplicated(endpoints)
    }

    /// Appends one slice's endpoints for one of its ports, read in place: through a buffer
    /// pointer, reading a field of an endpoint does not copy (and retain) the rest of it.
    private static func append(_ slice: borrowing EndpointSlice, port: Int, nodeName: String, to endpoints: inout [EndpointInfo]) {
        endpoints.reserveCapacity(endpoints.count + slice.endpoints.count)
        slice.endpoints.withUnsafeBufferPointer { sliceEndpoints in
            for j in sliceEndpoints.indices {
                guard let ip = sliceEndpoints[j].firstAddress else { continue }
                let conditions = sliceEndpoints[j].conditions
                endpoints.append(EndpointInfo(
                    ip: ip, port: port,
                    isLocal: !nodeName.isEmpty && sliceEndpoints[j].nodeName == nodeName,
                    ready: conditions.ready ?? true,
                    serving: conditions.serving ?? true,
                    terminating: conditions.terminating ?? false,
                    zoneHints: sliceEndpoints[j].zoneHints.isEmpty ? nil : Set(sliceEndpoints[j].zoneHints),
                    nodeHints: sliceEndpoints[j].nodeHints.isEmpty ? nil : Set(sliceEndpoints[j].nodeHints)))
            }
        }
    }

    /// Sorted by `ip:port` text; of equal endpoints the first non-terminating one wins, else
    /// the first (kube-proxy keeps an earlier entry only when the later one is terminating).
    static func deduplicated(_ list: [EndpointInfo]) -> [EndpointInfo] {
        if list.count < 2 { return list }
        // Usually already in order without repeats: checked pair by pair.
        var inOrder = true
        for i in 1..<list.count where !EndpointTextOrder.less(list[i - 1], list[i]) {
            inOrder = false
            break
        }
        if inOrder { return list }
        // Sort positions, not endpoints (copying an endpoint costs retains); ties keep slice order.
        let order = list.indices.sorted { a, b in
            EndpointTextOrder.less(list[a], list[b]) || (a < b && list[a].hasSameAddress(as: list[b]))
        }
        var out: [EndpointInfo] = []
        out.reserveCapacity(list.count)
        var i = 0
        while i < order.count {
            var j = i + 1
            while j < order.count && list[order[j]].hasSameAddress(as: list[order[i]]) { j += 1 }
            // kube-proxy overwrites with each later duplicate unless it is terminating.
            var chosen = list[order[i]]
            for k in (i + 1)..<j where !list[order[k]].terminating { chosen = list[order[k]] }
            out.append(chosen)
            i = j
        }
        return out
    }
}

/// A short text (an endpoint's `ip:port`, a service port's `ns/name:port`) as a comparable
/// value: its first 24 bytes packed big-endian (zero-padded), so comparing keys compares the
/// text byte by byte, as Go's string sort does, mostly without touching the text. Texts
/// longer than that keep the whole text for ties of the prefix.
struct TextKey: Comparable {
    let a: UInt64, b: UInt64, c: UInt64
    /// The whole text, when longer than 24 bytes.
    let long: String?

    init(_ description: String) {
        var text = description
        self = text.withUTF8 { TextKey(bytes: $0) }
    }

    /// The key of a service port's `ns/name:port`, read without making its text a `String`:
    /// the ports are sorted by it, and a `String` each cost more than the sort.
    init(_ name: ServicePortName) {
        self = name.withDescription { TextKey(bytes: $0) }
    }

    /// The key of an endpoint's `ip:port`, read without making its text a `String`.
    init(_ endpoint: EndpointInfo) {
        self = endpoint.withText { TextKey(bytes: $0) }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        // The first 24 bytes copied over zeros, then read as three big-endian words (a
        // loop over the bytes cost a few hundred instructions a key; every endpoint of a
        // render is keyed).
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            if let base = bytes.baseAddress { raw.baseAddress!.copyMemory(from: base, byteCount: min(bytes.count, 24)) }
        }
        (a, b, c) = (UInt64(bigEndian: words.0), UInt64(bigEndian: words.1), UInt64(bigEndian: words.2))
        long = bytes.count > 24 ? String(decoding: bytes, as: UTF8.self) : nil
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
