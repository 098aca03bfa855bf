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
    /// Topology hints; nil when the endpoint carries none.
    public var zoneHints: Set<String>?
    public var nodeHints: Set<String>?
    /// `ip:port`, `[ip]:port` for IPv6: the identity kube-proxy hashes and sorts by.
    public let description: String

    public init(ip: IPAddress, port: Int, isLocal: Bool, ready: Bool, serving: Bool, terminating: Bool,
                zoneHints: Set<String>? = nil, nodeHints: Set<String>? = nil) {
        self.ip = ip
        self.port = port
        self.isLocal = isLocal
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
        self.description = ip.joined(port: port)
    }
}
