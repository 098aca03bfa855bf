import SeawayModel

/// A change to the objects kube-proxy watches.
public enum ClusterChange: Sendable {
    case upsertService(Service)
    case deleteService(namespace: String, name: String)
    case upsertEndpointSlice(EndpointSlice)
    case deleteEndpointSlice(namespace: String, name: String)
}

/// kube-proxy's in-memory state for one family, kept up to date change by change (its
/// ServiceChangeTracker and EndpointsChangeTracker): a change recomputes only the service
/// it belongs to and reports which service ports changed, so a sync can touch only those.
public struct ProxyState: Sendable {
    /// `namespace/name` of a Service.
    private struct ServiceKey: Hashable, Sendable {
        var namespace: String
        var name: String
    }

    public let family: IPFamily
    public let options: ProxyOptions
    private var services: [ServiceKey: Service] = [:]
    /// Slices by the Service they name, then by slice name.
    private var slices: [ServiceKey: [String: EndpointSlice]] = [:]
    private var sliceOwner: [ServiceKey: ServiceKey] = [:]
    private var portNames: [ServiceKey: [ServicePortName]] = [:]
    /// Every proxied service port.
    public private(set) var ports: [ServicePortName: ProxyServicePort] = [:]
    /// Port names in render order (see `ServicePortName.<`).
    public private(set) var order: [ServicePortName] = []
    public private(set) var totalEndpoints = 0

    public init(cluster: ClusterState, options: ProxyOptions, family: IPFamily) {
        self.family = family
        self.options = options
        for s in cluster.services { services[ServiceKey(namespace: s.metadata.namespace, name: s.metadata.name)] = s }
        for slice in cluster.endpointSlices where slice.addressType.family == family {
            guard let owner = slice.serviceName else { continue }
            let key = ServiceKey(namespace: slice.metadata.namespace, name: owner)
            slices[key, default: [:]][slice.metadata.name] = slice
            sliceOwner[ServiceKey(namespace: slice.metadata.namespace, name: slice.metadata.name)] = key
        }
        let map = ServiceMap(cluster: cluster, options: options, family: family)
        for port in map.ports {
            ports[port.info.name] = port
            portNames[ServiceKey(namespace: port.info.name.namespace, name: port.info.name.name), default: []].append(port.info.name)
        }
        order = map.ports.map(\.info.name)
        totalEndpoints = map.totalEndpoints
    }

    /// The sorted service map of the current state.
    public var serviceMap: ServiceMap {
        ServiceMap(ports: order.map { ports[$0]! }, options: options, family: family)
    }

    /// Applies `change`; returns the service ports whose rules may differ (added, changed or removed).
    @discardableResult
    public mutating func apply(_ change: ClusterChange) -> Set<ServicePortName> {
        switch change {
        case let .upsertService(s):
            let key = ServiceKey(namespace: s.metadata.namespace, name: s.metadata.name)
            services[key] = s
            return recompute(key)
        case let .deleteService(namespace, name):
            let key = ServiceKey(namespace: namespace, name: name)
            services[key] = nil
            return recompute(key)
        case let .upsertEndpointSlice(slice):
            let sliceKey = ServiceKey(namespace: slice.metadata.namespace, name: slice.metadata.name)
            var touched: Set<ServicePortName> = []
            // A slice can move to another Service (its label changed): clear the old owner.
            if let old = sliceOwner[sliceKey] {
                slices[old]?[slice.metadata.name] = nil
                sliceOwner[sliceKey] = nil
                touched.formUnion(recompute(old))
            }
            if slice.addressType.family == family, let owner = slice.serviceName {
                let key = ServiceKey(namespace: slice.metadata.namespace, name: owner)
                slices[key, default: [:]][slice.metadata.name] = slice
                sliceOwner[sliceKey] = key
                touched.formUnion(recompute(key))
            }
            return touched
        case let .deleteEndpointSlice(namespace, name):
            let sliceKey = ServiceKey(namespace: namespace, name: name)
            guard let owner = sliceOwner.removeValue(forKey: sliceKey) else { return [] }
            slices[owner]?[name] = nil
            return recompute(owner)
        }
    }

    /// Rebuilds one Service's ports from its object and slices; returns those that changed.
    private mutating func recompute(_ key: ServiceKey) -> Set<ServicePortName> {
        let old = portNames[key] ?? []
        var changed: Set<ServicePortName> = []
        var fresh: [ServicePortName: ProxyServicePort] = [:]
        if let service = services[key] {
            let endpoints = EndpointsMap.build(slices: Array((slices[key] ?? [:]).values), family: family,
                                               nodeName: options.nodeName)
            for info in ServicePortInfo.infos(for: service, family: family) {
                let eps = endpoints[info.name] ?? []
                fresh[info.name] = ProxyServicePort(
                    info: info,
                    endpoints: EndpointCategories(endpoints: eps, service: info, nodeName: options.nodeName,
                                                  nodeLabels: options.nodeLabels),
                    allEndpoints: eps)
            }
        }
        for name in old where fresh[name] == nil {
            totalEndpoints -= ports[name]!.allEndpoints.count
            ports[name] = nil
            order.remove(at: order.renderIndex(of: name)!)
            changed.insert(name)
        }
        for (name, port) in fresh {
            if let previous = ports[name] {
                if previous == port { continue }
                totalEndpoints -= previous.allEndpoints.count
            } else {
                order.insert(name, at: order.renderInsertionIndex(for: name))
            }
            totalEndpoints += port.allEndpoints.count
            ports[name] = port
            changed.insert(name)
        }
        portNames[key] = fresh.isEmpty ? nil : Array(fresh.keys)
        return changed
    }
}
