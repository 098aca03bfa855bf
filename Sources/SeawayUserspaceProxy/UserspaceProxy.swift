import NIOCore
import NIOPosix
import SeawayModel
import SeawayProxyCore

/// The proxy's listeners, one per portal of each family's plan, on one event loop group.
/// `update` opens listeners for new portals, hands surviving ones their new endpoints, and
/// (in `close`) shuts listeners whose portal went away; connections already carried are not
/// touched by any of it.
public final class UserspaceProxy {
    struct Listener {
        var portal: UserspacePlan.Portal
        let family: IPFamily
        /// Its listening sockets (TCP: one per event loop).
        let channels: [Channel]
        let balancer: SharedBalancer

        /// Closes its sockets, returning once they are closed (not from an event loop).
        func close() {
            for c in channels { try? c.close().wait() }
        }
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

    private let group: MultiThreadedEventLoopGroup
    private let udpIdleTimeout: TimeAmount
    private var listeners: [String: Listener] = [:]

    /// `threads` event loops (kube-proxy's userspace mode used a goroutine per connection;
    /// here every core runs a loop).
    public init(threads: Int = System.coreCount, udpIdleTimeout: Duration = .milliseconds(250)) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
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
                let future = portal.proto == .udp
                    ? UDPPortal.listen(portal, family: plan.family, balancer: balancer, idleTimeout: udpIdleTimeout, group: group)
                    : TCPPortal.listen(portal, family: plan.family, balancer: balancer, group: group)
                do {
                    let channels = try future.wait()
                    if let old = listeners[id] { old.close() }
                    listeners[id] = Listener(portal: portal, family: plan.family, channels: channels, balancer: balancer)
                    opened.append(id)
                } catch {
                    for id in opened { listeners.removeValue(forKey: id)?.close() }
                    let inUse = (error as? IOError)?.errnoCode == EADDRINUSE
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
        for id in ids { listeners.removeValue(forKey: id)?.close() }
    }

    public var listenerCount: Int { listeners.count }

    public func shutdown() {
        try? group.syncShutdownGracefully()
    }
}
