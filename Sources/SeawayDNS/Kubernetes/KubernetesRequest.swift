/// A name under a cluster zone, split the way CoreDNS's `parseRequest` splits it:
/// `[_port._proto. | endpoint.] service.namespace.(svc|pod).zone`.
struct KubernetesRequest: Equatable {
    enum Kind: Equatable {
        /// The zone apex, `svc.zone` or `pod.zone`: NODATA, never NXDOMAIN.
        case apex
        case service
        case pod
    }

    var kind: Kind
    var namespace = ""
    var service = ""
    var endpoint = ""
    /// Without the leading underscore; empty matches any.
    var port = ""
    var proto = ""

    enum Invalid: Error { case invalid }

    /// `labels` are the name's labels below the zone, lowercased.
    init(labels: ArraySlice<String>) throws(Invalid) {
        var segs = Array(labels)
        if segs.isEmpty || segs == ["svc"] || segs == ["pod"] {
            kind = .apex
            return
        }
        switch segs.removeLast() {
        case "svc": kind = .service
        case "pod": kind = .pod
        default: throw .invalid
        }
        guard let ns = segs.popLast() else { return }
        namespace = ns
        guard let svc = segs.popLast() else { return }
        service = svc
        switch segs.count {
        case 0: break
        case 1: endpoint = segs[0]
        case 2:
            port = KubernetesRequest.stripUnderscore(segs[0])
            proto = KubernetesRequest.stripUnderscore(segs[1])
        default: throw .invalid
        }
    }

    private static func stripUnderscore(_ s: String) -> String { s.hasPrefix("_") ? String(s.dropFirst()) : s }
}
