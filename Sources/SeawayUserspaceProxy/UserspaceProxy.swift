import NIOCore
import NIOPosix
import SeawayKernel
import SeawayModel
import SeawayProxyCore

/// The proxy's listeners, one per portal of each family's plan. `update` opens listeners for
/// new portals, hands surviving ones their new endpoints, and (in `close`) shuts listeners
/// whose portal went away; connections already carried are not touched by any of it.
///
/// TCP goes through the kernel module's `StreamRelay`: each accepted connection stays unread
/// until an endpoint takes it; the balancer picks one, the dial gets kube-proxy userspace's
/// timeout for that attempt (250 ms, 500 ms, 1 s, 2 s), and a refused or timed-out dial
/// tries the next endpoint without affinity; then the two sockets are spliced. UDP sessions
/// run on NIO's event loops (UDPPortal).
public final class UserspaceProxy {
    enum Sockets {
        case tcp(StreamRelay.Listener)
        /// One datagram channel.
        case udp([Channel])
    }

    struct Listener {
        var portal: UserspacePlan.Portal
        let family: IPFamily
        let sockets: Sockets
        let balancer: SharedBalancer
    }

    /// A listener port that could not be bound.
    public struct BindFailure: Error, CustomStringConvertible {
        public var portal: UserspacePlan.Portal
        public var family: IPFamily
        public var underlying: Error
        public var addressInUse: Bool
        public var description: String {
            "userspace proxy: cannot listen on \(portal.proto.lowercased) port \(portal.proxyPort) (\(family.rawValue)) for \(portal.name): \(underlying)"
        }
    }

    private let threads: Int
    private let group: MultiThreadedEventLoopGroup
    /// Made with the first TCP listener.
    private var relay: StreamRelay?
    private let udpIdleTimeout: TimeAmount
    private var listeners: [String: Listener] = [:]

    /// `threads` relay threads and as many event loops (kube-proxy's userspace mode used a
    /// goroutine per connection; here every core runs a loop).
    public init(threads: Int = System.coreCount, udpIdleTimeout: Duration = .milliseconds(250)) {
        self.threads = max(1, threads)
        group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        self.udpIdleTimeout = TimeAmount(udpIdleTimeout)
    }

    static func id(_ portal: UserspacePlan.Portal, _ family: IPFamily) -> String { "\(family.rawValue) \(portal.key)" }

    /// What `open` did: how many listeners it opened, and the ids of those the plans no
    /// longer have, for `close` once the rules stop leading to them.
    public struct Opened: Sendable {
        public var count: Int
        public var stale: [String]
    }

    /// Opens what `plans` adds and updates what they keep. On a bind failure the listeners
    /// opened by this call are closed again and nothing else has changed.
    public func open(_ plans: [UserspacePlan]) throws(BindFailure) -> Opened {
        var opened: [String] = []
        var wanted: Set<String> = []
        for plan in plans {
            for portal in plan.portals {
                let id = Self.id(portal, plan.family)
                wanted.insert(id)
                // A listener keeps its port and affinity setting for life; a change of either
                // makes a new one.
                if let l = listeners[id], l.portal.proxyPort == portal.proxyPort, l.portal.affinitySeconds == portal.affinitySeconds { continue }
                let balancer = SharedBalancer(portal)
                do {
                    let sockets = try openSockets(portal, family: plan.family, balancer: balancer)
                    if let old = listeners[id] { closeSockets(old.sockets) }
                    listeners[id] = Listener(portal: portal, family: plan.family, sockets: sockets, balancer: balancer)
                    opened.append(id)
                } catch {
                    for id in opened { listeners.removeValue(forKey: id).map { closeSockets($0.sockets) } }
                    let inUse = (error as? IOError)?.errnoCode == EADDRINUSE || (error as? SystemError)?.errno == EADDRINUSE
                    throw BindFailure(portal: portal, family: plan.family, underlying: error, addressInUse: inUse)
                }
            }
        }
        // Surviving listeners take their new endpoints only now that nothing can fail.
        for plan in plans {
            for portal in plan.portals {
                let id = Self.id(portal, plan.family)
                guard var l = listeners[id], !opened.contains(id) else { continue }
                l.balancer.update(portal)
                l.portal = portal
                listeners[id] = l
            }
        }
        return Opened(count: opened.count, stale: listeners.keys.filter { !wanted.contains($0) }.sorted())
    }

    /// Stops accepting on these listeners (their established connections carry on).
    public func close(_ ids: [String]) {
        for id in ids { listeners.removeValue(forKey: id).map { closeSockets($0.sockets) } }
    }

    public var listenerCount: Int { listeners.count }

    public func shutdown() {
        relay?.shutdown()
        try? group.syncShutdownGracefully()
    }

    private func openSockets(_ portal: UserspacePlan.Portal, family: IPFamily, balancer: SharedBalancer) throws -> Sockets {
        if portal.proto == .udp {
            return .udp(try UDPPortal.listen(portal, family: family, balancer: balancer, idleTimeout: udpIdleTimeout, group: group).wait())
        }
        let relay = try self.relay ?? StreamRelay(threads: threads, dialTimeouts: RoundRobinBalancer.dialTimeouts)
        self.relay = relay
        return .tcp(try relay.listen(family: family, port: portal.proxyPort, route: balancer))
    }

    /// Closes a listener's sockets, returning once they are closed (not from an event loop).
    private func closeSockets(_ sockets: Sockets) {
        switch sockets {
        case let .tcp(listener): relay?.close(listener)
        case let .udp(channels): for c in channels { try? c.close().wait() }
        }
    }
}
