/// An object with Kubernetes metadata.
public protocol KubernetesObject: Sendable, Hashable {
    var metadata: ObjectMeta { get set }
}

extension KubernetesObject {
    /// `namespace/name` (or `name` for cluster-scoped objects).
    public var key: String {
        metadata.namespace.isEmpty ? metadata.name : "\(metadata.namespace)/\(metadata.name)"
    }

    /// Equal apart from where the two were read from.
    public func sameObject(as other: Self) -> Bool {
        var a = self, b = other
        a.metadata.source = nil
        b.metadata.source = nil
        return a == b
    }
}

extension Service: KubernetesObject {}
extension EndpointSlice: KubernetesObject {}
extension Endpoints: KubernetesObject {}
extension ClusterNode: KubernetesObject {}
extension Pod: KubernetesObject {}
extension Namespace: KubernetesObject {}
extension ServiceCIDR: KubernetesObject {}
extension NetworkPolicy: KubernetesObject {}
extension AdminNetworkPolicy: KubernetesObject {}
