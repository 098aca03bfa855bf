import SeawayModel

/// One service port with the endpoints this node uses for it and the decisions every
/// backend shares (which chains exist, what happens without endpoints).
public struct ProxyServicePort: Sendable, Hashable {
    public var info: ServicePortInfo
    public var endpoints: EndpointCategories
    /// Every endpoint of the service port, usable or not (kube-proxy counts these, and its
    /// IPVS mode hairpins every local one).
    public var allEndpoints: [EndpointInfo]

    /// ClusterIP traffic has somewhere to go.
    public var hasInternalEndpoints: Bool {
        endpoints.hasAnyEndpoints && (!info.internalPolicyLocal || !endpoints.local.isEmpty)
    }

    /// External (NodePort / external IP / LB IP) traffic from outside the cluster has somewhere to go.
    public var hasExternalEndpoints: Bool {
        endpoints.hasAnyEndpoints && (!info.externalPolicyLocal || !endpoints.local.isEmpty)
    }

    public var usesClusterPolicyChain: Bool { !endpoints.cluster.isEmpty && info.usesClusterEndpoints }
    public var usesLocalPolicyChain: Bool { !endpoints.local.isEmpty && info.usesLocalEndpoints }

    /// Built on `hasAnyEndpoints`, not `hasExternalEndpoints`: the short-circuit rules for
    /// in-cluster traffic are needed even when no endpoint serves external traffic.
    public var usesExternalTrafficChain: Bool { endpoints.hasAnyEndpoints && info.externallyAccessible }
}

/// The per-node, per-family service map: what kube-proxy holds in memory when it syncs.
/// Pure: built from a ClusterState and ProxyOptions, sorted for deterministic output.
public struct ServiceMap: Sendable, Hashable {
    public var family: IPFamily
    public var options: ProxyOptions
    public var ports: [ProxyServicePort]
    /// Endpoints of every service port in the map, as kube-proxy sums them to pick large-cluster mode.
    public var totalEndpoints: Int
    public var localDetector: LocalTrafficDetector
    public var nodePortAddresses: NodePortAddresses

    public init(cluster: ClusterState, options: ProxyOptions, family: IPFamily) {
        self.family = family
        self.options = options
        let slices = cluster.endpointSlices, services = cluster.services
        // Grouping the slices and ordering the service ports do not depend on each other.
        let (slicesByService, (infos, order)) = concurrently({ EndpointsMap.grouped(slices, family: family) }, {
            // Services read in place: `flatMap`'s closure copied each (retaining every field).
            var infos: [ServicePortInfo] = []
            infos.reserveCapacity(services.count)
            services.withUnsafeBufferPointer { services in
                guard let first = services.baseAddress else { return }
                for i in services.indices { ServicePortInfo.appendInfos(for: first + i, family: family, to: &infos) }
            }
            // Sorted first, on precomputed keys (ServicePortName's `<` formats the name on
            // every comparison), so the ports are built in their final order.
            let keys = infos.map { (TextKey($0.name), $0.name.proto) }
            // Compared in place: a key copied out of the array costs a retain and a release.
            let order = keys.withUnsafeBufferPointer { keys in
                infos.indices.sorted { i, j in
                    // Two `<` rather than `!=` then `<`: equality also compares the long texts.
                    if keys[i].0 < keys[j].0 { return true }
                    if keys[j].0 < keys[i].0 { return false }
                    return keys[i].1 != keys[j].1 ? keys[i].1 < keys[j].1 : i < j
                }
            }
            return (infos, order)
        })
        // Each port reads its own service's slices, on any core.
        let ports = order.concurrentMap { i -> ProxyServicePort in
            let name = infos[i].name
            let endpoints = slicesByService[EndpointsMap.ServiceRef(namespace: name.namespace, name: name.name)].map {
                EndpointsMap.endpoints(of: name, slices: slices, at: $0, nodeName: options.nodeName)
            } ?? []
            let categories = EndpointCategories(endpoints: endpoints, service: infos[i],
                                                nodeName: options.nodeName, nodeLabels: options.nodeLabels)
            return ProxyServicePort(info: infos[i], endpoints: categories, allEndpoints: endpoints)
        }
        self.ports = ports
        self.totalEndpoints = ports.reduce(0) { $0 + $1.allEndpoints.count }
        self.localDetector = options.detectLocal.detector(for: family)
        self.nodePortAddresses = NodePortAddresses(specs: options.nodePortAddresses, family: family,
                                                   primaryIP: options.primaryIP(family))
    }

    /// A map of already categorized, sorted service ports (from `ProxyState`).
    public init(ports: [ProxyServicePort], options: ProxyOptions, family: IPFamily) {
        self.family = family
        self.options = options
        self.ports = ports
        self.totalEndpoints = ports.reduce(0) { $0 + $1.allEndpoints.count }
        self.localDetector = options.detectLocal.detector(for: family)
        self.nodePortAddresses = NodePortAddresses(specs: options.nodePortAddresses, family: family,
                                                   primaryIP: options.primaryIP(family))
    }

    /// Above kube-proxy's threshold the iptables backend drops per-endpoint comments.
    public var largeClusterMode: Bool { totalEndpoints > options.largeClusterEndpointsThreshold }

    /// The families a node proxies: those of its IPs, else those any Service uses.
    public static func families(cluster: ClusterState, options: ProxyOptions) -> [IPFamily] {
        var families = Set(options.nodeIPs.map(\.family))
        if families.isEmpty {
            families = Set(cluster.services.flatMap { $0.clusterIPs.map(\.family) })
        }
        if families.isEmpty { families = [.ipv4] }
        return families.sorted()
    }
}
