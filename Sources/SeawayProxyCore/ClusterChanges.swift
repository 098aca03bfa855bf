import SeawayModel

extension ClusterState {
    /// The Service and EndpointSlice changes that turn this state into `new`, as a watch
    /// would deliver them (in a stable order).
    public func changes(to new: ClusterState) -> [ClusterChange] {
        var out: [ClusterChange] = []
        func key(_ m: ObjectMeta) -> String { "\(m.namespace)/\(m.name)" }
        let oldServices = Dictionary(services.map { (key($0.metadata), $0) }, uniquingKeysWith: { a, _ in a })
        let newServices = Dictionary(new.services.map { (key($0.metadata), $0) }, uniquingKeysWith: { a, _ in a })
        for k in newServices.keys.sorted() where !sameObject(oldServices[k], newServices[k]) {
            out.append(.upsertService(newServices[k]!))
        }
        for k in oldServices.keys.sorted() where newServices[k] == nil {
            out.append(.deleteService(namespace: oldServices[k]!.metadata.namespace, name: oldServices[k]!.metadata.name))
        }
        let oldSlices = Dictionary(endpointSlices.map { (key($0.metadata), $0) }, uniquingKeysWith: { a, _ in a })
        let newSlices = Dictionary(new.endpointSlices.map { (key($0.metadata), $0) }, uniquingKeysWith: { a, _ in a })
        for k in newSlices.keys.sorted() where !sameObject(oldSlices[k], newSlices[k]) {
            out.append(.upsertEndpointSlice(newSlices[k]!))
        }
        for k in oldSlices.keys.sorted() where newSlices[k] == nil {
            out.append(.deleteEndpointSlice(namespace: oldSlices[k]!.metadata.namespace, name: oldSlices[k]!.metadata.name))
        }
        return out
    }
}

/// Equal apart from where they were read from.
private func sameObject(_ a: Service?, _ b: Service?) -> Bool {
    guard var a, var b else { return a == nil && b == nil }
    a.metadata.source = nil
    b.metadata.source = nil
    return a == b
}

private func sameObject(_ a: EndpointSlice?, _ b: EndpointSlice?) -> Bool {
    guard var a, var b else { return a == nil && b == nil }
    a.metadata.source = nil
    b.metadata.source = nil
    return a == b
}
