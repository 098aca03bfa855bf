import SeawayModel

/// What an informer's cache did since its consumer last looked (`KubeInformer.takeUpdate`).
public enum InformerUpdate: Sendable {
    /// The whole cluster: the first update, and the first after a relist.
    case snapshot(ClusterState)
    /// The objects that changed, each as the cache holds it now.
    case deltas([InformerDelta])
}

/// One object of `resource` that changed: `object` is its decoded form now (one object in
/// its kind's array), nil when it was deleted.
public struct InformerDelta: Sendable {
    public var resource: KubeResource
    public var key: String
    public var object: ClusterState?
}
