import SeawayModel

/// The endpoints a service port uses on this node: kube-proxy's `CategorizeEndpoints`,
/// the single place traffic policies, terminating-endpoint fallback and topology hints are
/// decided. Every backend renders from this value; none re-derives it.
public struct EndpointCategories: Sendable, Hashable {
    /// Usable endpoints for Cluster traffic policy (topology applied); empty when unused.
    public var cluster: [EndpointInfo] = []
    /// Usable endpoints for Local traffic policy; empty when unused.
    public var local: [EndpointInfo] = []
    /// The union of the two: every endpoint this node may DNAT to, sorted.
    public var allReachable: [EndpointInfo] = []
    /// The service has usable endpoints somewhere in the cluster (maybe not on this node).
    public var hasAnyEndpoints = false

    /// `endpoints` are in `ip:port` order without repeats, as `EndpointsMap` yields them.
    public init(endpoints: [EndpointInfo], service: ServicePortInfo, nodeName: String,
                nodeLabels: [String: String]) {
        var topologyMode: TopologyMode = .none
        var localUsesTerminating = false

        if service.usesClusterEndpoints {
            let zone = nodeLabels[ClusterNode.zoneLabel] ?? ""
            topologyMode = TopologyMode.fromHints(endpoints, nodeName: nodeName, zone: zone)
            if topologyMode == .none && endpoints.allSatisfy(\.ready) {
                cluster = endpoints  // the common case: no copy of each endpoint
            } else {
                cluster = endpoints.filter { $0.ready && topologyMode.admits($0, nodeName: nodeName, zone: zone) }
            }
            // No ready endpoint anywhere: fall back to serving-but-terminating ones.
            if cluster.isEmpty {
                cluster = endpoints.filter { $0.serving && $0.terminating }
            }
            hasAnyEndpoints = !cluster.isEmpty
        }

        guard service.usesLocalEndpoints else {
            allReachable = cluster
            return
        }

        var hasLocalReady = false
        var hasLocalServingTerminating = false
        for ep in endpoints {
            if ep.ready {
                hasAnyEndpoints = true
                if ep.isLocal { hasLocalReady = true }
            } else if ep.serving && ep.terminating {
                hasAnyEndpoints = true
                if ep.isLocal { hasLocalServingTerminating = true }
            }
        }
        if hasLocalReady {
            local = endpoints.filter { $0.isLocal && $0.ready }
        } else if hasLocalServingTerminating {
            localUsesTerminating = true
            local = endpoints.filter { $0.isLocal && $0.serving && $0.terminating }
        }

        guard service.usesClusterEndpoints else {
            allReachable = local
            return
        }
        if topologyMode == .none && !localUsesTerminating {
            // cluster holds every ready endpoint, so it is a superset of local.
            allReachable = cluster
            return
        }
        // Both lists are in `ip:port` order: merge them, an address shared by both once.
        var merged: [EndpointInfo] = []
        merged.reserveCapacity(cluster.count + local.count)
        var c = 0, l = 0
        while c < cluster.count || l < local.count {
            if l == local.count { merged.append(cluster[c]); c += 1; continue }
            if c == cluster.count { merged.append(local[l]); l += 1; continue }
            if cluster[c].hasSameAddress(as: local[l]) {
                merged.append(local[l]); c += 1; l += 1
            } else if TextKey(cluster[c]) < TextKey(local[l]) {
                merged.append(cluster[c]); c += 1
            } else {
                merged.append(local[l]); l += 1
            }
        }
        allReachable = merged
    }
}

/// Topology-aware routing mode chosen from endpoint hints (kube-proxy's `topologyModeFromHints`,
/// with the PreferSameTrafficDistribution gate on, as in v1.34).
enum TopologyMode: Sendable, Hashable {
    case none
    case preferSameZone
    case preferSameNode

    static func fromHints(_ endpoints: [EndpointInfo], nodeName: String, zone: String) -> TopologyMode {
        var hasForNode = false, allHaveNodeHints = true
        var hasForZone = false, allHaveZoneHints = true
        for ep in endpoints where ep.ready {
            if let hints = ep.nodeHints, !hints.isEmpty {
                if hints.contains(nodeName) { hasForNode = true }
            } else {
                allHaveNodeHints = false
            }
            if let hints = ep.zoneHints, !hints.isEmpty {
                if hints.contains(zone) { hasForZone = true }
            } else {
                allHaveZoneHints = false
            }
        }
        if allHaveNodeHints && hasForNode { return .preferSameNode }
        if allHaveZoneHints && hasForZone { return .preferSameZone }
        return .none
    }

    func admits(_ ep: EndpointInfo, nodeName: String, zone: String) -> Bool {
        switch self {
        case .none: return true
        case .preferSameNode: return ep.nodeHints?.contains(nodeName) ?? false
        case .preferSameZone: return ep.zoneHints?.contains(zone) ?? false
        }
    }
}
