/// Everything Seaway knows about a cluster: the objects read from manifests (or, later, a
/// live API server). Every command computes from this value and nothing else.
public struct ClusterState: Sendable, Hashable {
    public var services: [Service] = []
    /// EndpointSlices as read, plus slices mirrored from legacy Endpoints (see `mirrorEndpoints`).
    public var endpointSlices: [EndpointSlice] = []
    public var endpoints: [Endpoints] = []
    public var nodes: [ClusterNode] = []
    public var pods: [Pod] = []
    public var namespaces: [Namespace] = []
    public var serviceCIDRs: [ServiceCIDR] = []
    public var networkPolicies: [NetworkPolicy] = []
    /// AdminNetworkPolicies and BaselineAdminNetworkPolicies.
    public var adminPolicies: [AdminNetworkPolicy] = []
    /// Objects of kinds Seaway does not use, as `Kind ns/name (file:line)`, for `--verbose`.
    public var skipped: [String] = []

    public init() {}

    public func node(named name: String) -> ClusterNode? { nodes.first { $0.metadata.name == name } }

    /// Adds the slices the API server's mirroring controller would make for each Endpoints
    /// object whose Service has no EndpointSlices of its own.
    public mutating func mirrorEndpoints() {
        var servicesWithSlices: Set<String> = []
        for s in endpointSlices {
            if let svc = s.serviceName { servicesWithSlices.insert("\(s.metadata.namespace)/\(svc)") }
        }
        for eps in endpoints where !servicesWithSlices.contains("\(eps.metadata.namespace)/\(eps.metadata.name)") {
            endpointSlices.append(contentsOf: eps.mirroredSlices())
        }
    }
}

extension ClusterState {
    /// Fails on two objects with the same kind, namespace and name, naming both places.
    public func checkUnique() throws {
        var seen: [String: ManifestLocation] = [:]
        func check(_ kind: String, _ meta: ObjectMeta) throws {
            let key = meta.namespace.isEmpty ? "\(kind) \(meta.name)" : "\(kind) \(meta.namespace)/\(meta.name)"
            let here = meta.source ?? ManifestLocation(file: "<unknown>", line: 0)
            if let first = seen[key] {
                throw ManifestError(file: here.file, line: here.line, object: key, field: "metadata.name",
                                    message: "duplicate object: already defined at \(first)")
            }
            seen[key] = here
        }
        for o in services { try check("Service", o.metadata) }
        for o in endpointSlices { try check("EndpointSlice", o.metadata) }
        for o in endpoints { try check("Endpoints", o.metadata) }
        for o in nodes { try check("Node", o.metadata) }
        for o in pods { try check("Pod", o.metadata) }
        for o in namespaces { try check("Namespace", o.metadata) }
        for o in serviceCIDRs { try check("ServiceCIDR", o.metadata) }
        for o in networkPolicies { try check("NetworkPolicy", o.metadata) }
        for o in adminPolicies { try check(o.kind, o.metadata) }
    }
}

extension ClusterState {
    /// Appends another state's objects after this one's (for merging decoded chunks).
    public mutating func append(_ other: ClusterState) {
        services += other.services
        endpointSlices += other.endpointSlices
        endpoints += other.endpoints
        nodes += other.nodes
        pods += other.pods
        namespaces += other.namespaces
        serviceCIDRs += other.serviceCIDRs
        networkPolicies += other.networkPolicies
        adminPolicies += other.adminPolicies
        skipped += other.skipped
    }
}
