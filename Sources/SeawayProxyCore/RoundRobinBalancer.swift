import SeawayModel

/// How kube-proxy's userspace mode picked an endpoint for each new connection of one service
/// port (its LoadBalancerRR): round robin over the endpoints, except that with ClientIP
/// affinity a client keeps the endpoint it last used while it keeps coming back within the
/// timeout; after a failed connect the next attempt ignores affinity. Pure: time is passed in.
public struct RoundRobinBalancer: Sendable {
    /// kube-proxy userspace's connect timeouts, one per attempt, each on the next endpoint.
    public static let dialTimeouts: [Duration] = [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2)]

    public private(set) var endpoints: [EndpointInfo]
    /// ClientIP affinity's timeout in seconds; nil: no affinity.
    public let affinitySeconds: Double?
    private var next = 0
    private var affinity: [IPAddress: (endpoint: EndpointInfo, lastUsed: Double)] = [:]

    public init(endpoints: [EndpointInfo], affinitySeconds: Double?) {
        self.endpoints = endpoints
        self.affinitySeconds = affinitySeconds
    }

    /// The endpoint for a new connection from `client` at time `now` (seconds, any epoch);
    /// `resetAffinity` after a failed attempt. nil when there is no endpoint.
    public mutating func pick(client: IPAddress, now: Double, resetAffinity: Bool = false) -> EndpointInfo? {
        guard !endpoints.isEmpty else { return nil }
        if let ttl = affinitySeconds, !resetAffinity, let sticky = affinity[client], now - sticky.lastUsed < ttl {
            affinity[client]!.lastUsed = now
            return sticky.endpoint
        }
        let endpoint = endpoints[next % endpoints.count]
        next = (next + 1) % endpoints.count
        if affinitySeconds != nil { affinity[client] = (endpoint, now) }
        return endpoint
    }

    /// New endpoints for the port. Unchanged ones keep their clients; the rotation starts
    /// over when the set changed (kube-proxy's OnEndpointsUpdate).
    public mutating func update(_ new: [EndpointInfo]) {
        guard new != endpoints else { return }
        let kept = Set(new.map(\.description))
        affinity = affinity.filter { kept.contains($0.value.endpoint.description) }
        endpoints = new
        next = 0
    }

    /// Forgets clients idle for longer than the timeout (run now and then, so the table
    /// does not grow with every client ever seen).
    public mutating func expireAffinity(now: Double) {
        guard let ttl = affinitySeconds else { return }
        affinity = affinity.filter { now - $0.value.lastUsed < ttl }
    }

    public var affinityEntries: Int { affinity.count }
}
