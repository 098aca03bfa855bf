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

/// Keeping a cluster up to date object by object (an informer's deltas) instead of diffing
/// two whole clusters: each array is kept in key order, as an informer's snapshot has it, so
/// the result equals the snapshot taken after the same changes; each call costs a binary
/// search (and a move of the tail when an object comes or goes).
extension ClusterState {
    /// Puts `service` where the Service `key` is (nil: removes it); the change for the
    /// proxier, nil when nothing changed.
    public mutating func replaceService(key: String, with service: Service?) -> ClusterChange? {
        switch Self.replace(&services, key: key, with: service) {
        case .unchanged: nil
        case let .upserted(s): .upsertService(s)
        case let .deleted(s): .deleteService(namespace: s.metadata.namespace, name: s.metadata.name)
        }
    }

    public mutating func replaceEndpointSlice(key: String, with slice: EndpointSlice?) -> ClusterChange? {
        switch Self.replace(&endpointSlices, key: key, with: slice) {
        case .unchanged: nil
        case let .upserted(s): .upsertEndpointSlice(s)
        case let .deleted(s): .deleteEndpointSlice(namespace: s.metadata.namespace, name: s.metadata.name)
        }
    }

    /// Nodes and ServiceCIDRs change the proxier's view only through a full sync (as with
    /// `changes(to:)`), so these report nothing.
    public mutating func replaceNode(key: String, with node: ClusterNode?) {
        _ = Self.replace(&nodes, key: key, with: node)
    }

    public mutating func replaceServiceCIDR(key: String, with cidr: ServiceCIDR?) {
        _ = Self.replace(&serviceCIDRs, key: key, with: cidr)
    }

    private enum Replacement<T> { case unchanged, upserted(T), deleted(T) }

    private static func replace<T: KubernetesObject>(_ objects: inout [T], key: String, with new: T?) -> Replacement<T> {
        // The first index whose key is not below `key`.
        var low = 0, high = objects.count
        while low < high {
            let middle = (low + high) / 2
            if objects[middle].key < key { low = middle + 1 } else { high = middle }
        }
        let present = low < objects.count && objects[low].key == key
        switch (present, new) {
        case (false, nil):
            return .unchanged
        case let (false, object?):
            objects.insert(object, at: low)
            return .upserted(object)
        case (true, nil):
            return .deleted(objects.remove(at: low))
        case let (true, object?):
            if objects[low].sameObject(as: object) { return .unchanged }
            objects[low] = object
            return .upserted(object)
        }
    }
}
