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

        var bySet: [ServicePortName: [String: EndpointInfo]] = [:]
        for slice in relevant {
            for port in slice.ports {
                // kube-proxy ignores ports with a nil name or a nil/zero number.
                guard let portName = port.name, let portNumber = port.port, portNumber != 0 else { continue }
                let key = ServicePortName(namespace: slice.metadata.namespace, name: slice.serviceName!,
                                          port: portName, proto: port.proto)
                var set = bySet[key] ?? [:]
                for ep in slice.endpoints {
                    guard let first = ep.addresses.first, let ip = IPAddress(first) else { continue }
                    let info = EndpointInfo(
                        ip: ip, port: portNumber,
                        isLocal: !nodeName.isEmpty && ep.nodeName == nodeName,
                        ready: ep.conditions.ready ?? true,
                        serving: ep.conditions.serving ?? true,
                        terminating: ep.conditions.terminating ?? false,
                        zoneHints: ep.zoneHints.isEmpty ? nil : Set(ep.zoneHints),
                        nodeHints: ep.nodeHints.isEmpty ? nil : Set(ep.nodeHints))
                    if set[info.description] == nil || !info.terminating {
                        set[info.description] = info
                    }
                }
                bySet[key] = set
            }
        }
        var result: [ServicePortName: [EndpointInfo]] = [:]
        result.reserveCapacity(bySet.count)
        for (key, set) in bySet where !set.isEmpty {
            result[key] = set.values.sorted { $0.description < $1.description }
        }
        return result
    }
}
