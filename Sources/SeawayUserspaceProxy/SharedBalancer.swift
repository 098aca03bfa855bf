import NIOCore
import SeawayKernel
import SeawayModel
import SeawayProxyCore
import Synchronization

/// One listener's RoundRobinBalancer, shared by the event loops that accept connections
/// and the agent thread that updates endpoints. `generation` moves on every endpoint change
/// so UDP sessions notice cheaply that theirs may be gone.
final class SharedBalancer: Sendable {
    private struct State {
        var balancer: RoundRobinBalancer
        var generation = 0
        /// Each endpoint's socket address, made once rather than per connection: NIO's for
        /// the UDP portal, the kernel's for the TCP relay.
        var addresses: [String: (nio: SocketAddress, kernel: PeerAddress)] = [:]

        init(_ portal: UserspacePlan.Portal) {
            balancer = RoundRobinBalancer(endpoints: portal.endpoints, affinitySeconds: portal.affinitySeconds.map(Double.init))
            resolve()
        }

        mutating func resolve() {
            addresses = [:]
            for e in balancer.endpoints {
                if let nio = try? SocketAddress(e) { addresses[e.description] = (nio, PeerAddress(ip: e.ip, port: e.port)) }
            }
        }
    }

    private let state: Mutex<State>
    /// With ClientIP affinity; without it the client's address is not needed at all.
    let usesClientIP: Bool

    init(_ portal: UserspacePlan.Portal) {
        state = Mutex(State(portal))
        usesClientIP = portal.affinitySeconds != nil
    }

    /// Seconds on a monotonic clock (affinity timeouts).
    static var now: Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }

    private static let anyClient = IPAddress("0.0.0.0")!

    /// The endpoint for a new connection from `client` (looked up only with affinity).
    func pick(client: @autoclosure () -> IPAddress?, resetAffinity: Bool) -> (endpoint: EndpointInfo, address: SocketAddress, peer: PeerAddress)? {
        let ip = usesClientIP ? client() ?? Self.anyClient : Self.anyClient
        return state.withLock { s in
            guard let e = s.balancer.pick(client: ip, now: usesClientIP ? Self.now : 0, resetAffinity: resetAffinity),
                  let address = s.addresses[e.description] else { return nil }
            return (e, address.nio, address.kernel)
        }
    }

    /// New endpoints (the affinity setting is the listener's: a change makes a new one);
    /// clients of surviving endpoints keep them.
    func update(_ portal: UserspacePlan.Portal) {
        state.withLock { s in
            if portal.endpoints != s.balancer.endpoints {
                s.balancer.update(portal.endpoints)
                s.generation += 1
                s.resolve()
            }
            s.balancer.expireAffinity(now: Self.now)
        }
    }

    var generation: Int { state.withLock { $0.generation } }

    func contains(_ endpoint: EndpointInfo) -> Bool {
        state.withLock { $0.addresses[endpoint.description] != nil }
    }
}

/// The TCP relay's route: a refused or timed-out dial's retry ignores affinity, as kube-proxy's
/// userspace mode did.
extension SharedBalancer: StreamRelayRoute {
    func endpoint(for client: PeerAddress, attempt: Int) -> PeerAddress? {
        pick(client: client.ip, resetAffinity: attempt > 0)?.peer
    }
}

extension SocketAddress {
    /// The address part, in Seaway's type.
    var seawayIP: IPAddress? { ipAddress.flatMap { IPAddress($0) } }

    init(_ endpoint: EndpointInfo) throws {
        self = try SocketAddress(ipAddress: endpoint.ip.description, port: endpoint.port)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        self = .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
