import SeawayModel

/// Identifies one port of one Service: kube-proxy's `ServicePortName`.
public struct ServicePortName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public var port: String
    public var proto: L4Protocol

    public init(namespace: String, name: String, port: String, proto: L4Protocol) {
        self.namespace = namespace
        self.name = name
        self.port = port
        self.proto = proto
    }

    /// `ns/name:port` (or `ns/name` for an unnamed port): the string kube-proxy hashes into
    /// chain names and writes into rule comments.
    public var description: String {
        port.isEmpty ? "\(namespace)/\(name)" : "\(namespace)/\(name):\(port)"
    }

    /// Render order: by the printed name, then protocol. kube-proxy iterates a Go map here
    /// (random order); we sort so the same input always renders byte-identical text.
    public static func < (a: ServicePortName, b: ServicePortName) -> Bool {
        let (x, y) = (a.description, b.description)
        return x != y ? x < y : a.proto < b.proto
    }
}
