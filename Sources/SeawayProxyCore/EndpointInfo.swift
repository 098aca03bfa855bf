import SeawayModel

/// One endpoint of one service port (kube-proxy's `BaseEndpointInfo`).
public struct EndpointInfo: Sendable, Hashable {
    public var ip: IPAddress
    public var port: Int
    /// On this node (`nodeName` matches the proxier's node).
    public var isLocal: Bool
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool
    /// Topology hints, rare in practice: one reference (usually nil) rather than two sets
    /// in every endpoint, which is copied many times on the way to the rules.
    private let hints: TopologyHints?
    /// `ip:port`, `[ip]:port` for IPv6: the identity kube-proxy hashes and sorts by. Made
    /// when asked for, not stored: a stored one was a heap string in most of a cluster's
    /// endpoints, retained on every copy; the renderers use `withText` instead.
    public var description: String { ip.joined(port: port) }

    /// Calls `body` with `description`'s bytes, written on the stack. (Inlinable so the
    /// renderers get a version specialised to their result type, not a generic one.)
    @inlinable
    public func withText<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: IPAddress.maxJoinedLength) { buffer in
            body(UnsafeBufferPointer(rebasing: buffer[..<ip.writeJoined(port: port, into: buffer)]))
        }
    }

    /// The same `ip:port` as `other` (the fields kube-proxy de-duplicates by).
    public func hasSameAddress(as other: EndpointInfo) -> Bool { ip == other.ip && port == other.port }

    /// Topology hints; nil when the endpoint carries none.
    public var zoneHints: Set<String>? { hints?.zones }
    public var nodeHints: Set<String>? { hints?.nodes }

    public init(ip: IPAddress, port: Int, isLocal: Bool, ready: Bool, serving: Bool, terminating: Bool,
                zoneHints: Set<String>? = nil, nodeHints: Set<String>? = nil) {
        self.ip = ip
        self.port = port
        self.isLocal = isLocal
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        hints = zoneHints == nil && nodeHints == nil ? nil : TopologyHints(zones: zoneHints, nodes: nodeHints)
    }
}

/// The zone and node hints of one endpoint.
private final class TopologyHints: Sendable, Hashable {
    let zones: Set<String>?
    let nodes: Set<String>?

    init(zones: Set<String>?, nodes: Set<String>?) {
        self.zones = zones
        self.nodes = nodes
    }

    static func == (l: TopologyHints, r: TopologyHints) -> Bool { l.zones == r.zones && l.nodes == r.nodes }

    func hash(into hasher: inout Hasher) {
        hasher.combine(zones)
        hasher.combine(nodes)
    }
}
