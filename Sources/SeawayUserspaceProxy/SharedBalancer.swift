import NIOCore
import SeawayModel
import SeawayProxyCore
import Synchronization

/// One listener's RoundRobinBalancer, shared by the event loops that accept connections
/// and the agent thread that updates endpoints. `generation` moves on every endpoint change
/// so UDP sessions notice cheaply that theirs may be gone.
final class SharedBalancer: Sendable {
    private let state: Mutex<(balancer: RoundRobinBalancer, generation: Int)>

    init(_ portal: UserspacePlan.Portal) {
        state = Mutex((RoundRobinBalancer(endpoints: portal.endpoints, affinitySeconds: portal.affinitySeconds.map(Double.init)), 0))
    }

    /// Seconds on a monotonic clock (affinity timeouts).
    static var now: Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }

    func pick(client: IPAddress?, resetAffinity: Bool) -> EndpointInfo? {
        state.withLock { s in
            // A client without an IP address (never, for TCP and UDP) gets round robin.
            s.balancer.pick(client: client ?? IPAddress("0.0.0.0")!, now: Self.now, resetAffinity: resetAffinity)
        }
    }

    /// New endpoints or a new affinity setting; clients of surviving endpoints keep them.
    func update(_ portal: UserspacePlan.Portal) {
        state.withLock { s in
            let affinity = portal.affinitySeconds.map(Double.init)
            if affinity != s.balancer.affinitySeconds {
                s.balancer = RoundRobinBalancer(endpoints: portal.endpoints, affinitySeconds: affinity)
                s.generation += 1
            } else if portal.endpoints != s.balancer.endpoints {
                s.balancer.update(portal.endpoints)
                s.generation += 1
            }
            s.balancer.expireAffinity(now: Self.now)
        }
    }

    var generation: Int { state.withLock { $0.generation } }

    func contains(_ endpoint: EndpointInfo) -> Bool {
        state.withLock { $0.balancer.endpoints.contains(endpoint) }
    }
}

extension SocketAddress {
    /// The address part, in Seaway's type.
    var seawayIP: IPAddress? { ipAddress.flatMap(IPAddress.init) }

    init(_ endpoint: EndpointInfo) throws {
        self = try SocketAddress(ipAddress: endpoint.ip.description, port: endpoint.port)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
