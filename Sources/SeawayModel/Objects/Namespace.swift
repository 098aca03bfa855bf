/// A v1 Namespace: only its labels matter (NetworkPolicy namespace selectors).
public struct Namespace: Sendable, Hashable {
    public var metadata: ObjectMeta

    public init(metadata: ObjectMeta) { self.metadata = metadata }

    /// Labels including `kubernetes.io/metadata.name`, which the API server always sets.
    public var effectiveLabels: [String: String] {
        var l = metadata.labels
        l["kubernetes.io/metadata.name"] = metadata.name
        return l
    }

    static func decode(_ f: Field) throws -> Namespace {
        Namespace(metadata: try ObjectMeta.decode(f, namespaced: false))
    }
}
