import SeawayModel

extension ClusterState {
    /// The Service and EndpointSlice changes that turn this state into `new`, as a watch
    /// would deliver them (in a stable order).
    public func changes(to new: ClusterState) -> [ClusterChange] {
        let services = Self.diff(services, new.services)
        let slices = Self.diff(endpointSlices, new.endpointSlices)
        return services.upserted.map(ClusterChange.upsertService)
            + services.deleted.map { .deleteService(namespace: $0.metadata.namespace, name: $0.metadata.name) }
            + slices.upserted.map(ClusterChange.upsertEndpointSlice)
            + slices.deleted.map { .deleteEndpointSlice(namespace: $0.metadata.namespace, name: $0.metadata.name) }
    }

    /// Objects of `new` that are added or changed, and objects of `old` that are gone, by key.
    private static func diff<T: KubernetesObject>(_ old: [T], _ new: [T]) -> (upserted: [T], deleted: [T]) {
        let before = Dictionary(old.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let upserted = after.keys.sorted().compactMap { k -> T? in
            let o = after[k]!
            return before[k].map { $0.sameObject(as: o) } == true ? nil : o
        }
        return (upserted, before.keys.sorted().filter { after[$0] == nil }.map { before[$0]! })
    }
}
