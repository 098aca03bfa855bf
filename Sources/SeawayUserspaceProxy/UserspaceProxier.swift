import NIOCore
import SeawayDataplane
import SeawayModel
import SeawayProxyCore
import SeawayRender

/// The userspace mode's sync: plan the listeners (ports kept while their listener lives),
/// open the new ones, point the kernel's redirect maps at them (the table replaced whole on
/// the first sync, element changes after), then close listeners nothing leads to any more.
/// A listener port taken by something else is given up for the next free one. A sync that
/// fails changes no rule and keeps every listener the kernel still leads to.
public final class UserspaceProxier {
    public struct Sync: Sendable {
        public var full: Bool
        /// Bytes of `nft -f` transaction sent (0: the rules did not change).
        public var transactionBytes = 0
        public var listenersOpened = 0, listenersClosed = 0
        public var listeners = 0
        /// Listener ports given up because something else holds them.
        public var portsInUse: [String] = []
    }

    private let options: ProxyOptions
    private let applier: NFTablesApplier
    private let proxy: UserspaceProxy
    private var allocators: [IPFamily: ProxyPortAllocator] = [:]
    /// What the kernel holds, per family (nil: replace the table next time).
    private var applied: [IPFamily: UserspaceRuleset] = [:]

    /// `threads`: the proxy's event loops (default: one per core).
    public init(options: ProxyOptions, environment: [String: String], udpIdleTimeout: Duration = .milliseconds(250),
                threads: Int = System.coreCount) {
        self.options = options
        applier = NFTablesApplier(environment: environment)
        proxy = UserspaceProxy(threads: threads, udpIdleTimeout: udpIdleTimeout)
    }

    public func sync(to cluster: ClusterState) throws(DataplaneError) -> Sync {
        var rulesets: [UserspaceRuleset] = []
        var opened = UserspaceProxy.Opened(count: 0, stale: [])
        var portsInUse: [String] = []
        // A port something else holds is skipped; a few tries cover any realistic clash.
        for attempt in 0... {
            rulesets = []
            do {
                for family in ServiceMap.families(cluster: cluster, options: options) {
                    let map = ServiceMap(cluster: cluster, options: options, family: family)
                    var ports = allocators[family] ?? ProxyPortAllocator(range: options.userspacePortRange)
                    rulesets.append(try UserspaceRenderer().render(map, allocator: &ports))
                    allocators[family] = ports
                }
            } catch {
                throw DataplaneError("\(error)")
            }
            do {
                opened = try proxy.open(rulesets.map(\.plan))
                break
            } catch {
                guard error.addressInUse, attempt < 16 else { throw DataplaneError("\(error); nothing was changed") }
                allocators[error.family]?.avoid(error.portal.proxyPort)
                portsInUse.append("\(error.portal.proto.lowercased) port \(error.portal.proxyPort) (\(error.family.rawValue)) is in use: \(error.portal.name) moves to another")
            }
        }
        var result = Sync(full: applied.isEmpty)
        var script: [UInt8] = []
        for r in rulesets { script += r.transaction(from: applied[r.family]) }
        // A family the cluster no longer has loses its table.
        for family in applied.keys where !rulesets.contains(where: { $0.family == family }) {
            let prefix = "\(family == .ipv4 ? "ip" : "ip6") \(UserspaceRenderer.table)"
            script += Array("add table \(prefix)\ndelete table \(prefix)\n".utf8)
        }
        if !script.isEmpty {
            do {
                try applier.send(script)
            } catch {
                applied = [:]
                throw error
            }
        }
        applied = Dictionary(uniqueKeysWithValues: rulesets.map { ($0.family, $0) })
        proxy.close(opened.stale)
        result.transactionBytes = script.count
        result.listenersOpened = opened.count
        result.listenersClosed = opened.stale.count
        result.listeners = proxy.listenerCount
        result.portsInUse = portsInUse
        return result
    }
}
