import SeawayModel
import SeawayProxyCore
import SeawayRender

/// An incremental renderer kube-proxy's way: it renders a service map once, then turns the
/// service ports a change touched into the partial payload for the kernel.
public protocol PartialSyncRenderer {
    associatedtype Payload
    init(_ map: ServiceMap)
    mutating func update(_ state: ProxyState, changed: Set<ServicePortName>) -> Payload
}

extension NFTablesSync: PartialSyncRenderer {}
extension IPTablesSync: PartialSyncRenderer {}

/// What both proxiers keep between syncs: per family, the proxy state and the incremental
/// renderer. A plan updates them in place (copying a 10,000-service state per sync would
/// cost more than the sync); until the caller reports the sync `landed`, the kernel may not
/// hold them, so the next plan after a failure is a full one.
struct ProxierState<Renderer: PartialSyncRenderer> {
    struct Family {
        var state: ProxyState
        var renderer: Renderer
        /// The UDP service ports as last programmed: what stale conntrack entries are
        /// judged against (only UDP flows outlive their endpoints).
        var udpPorts: [ServicePortName: ProxyServicePort]

        init(_ state: ProxyState) {
            self.state = state
            renderer = Renderer(state.serviceMap)
            udpPorts = state.ports.filter { $0.key.proto == .udp }
        }
    }

    enum Plan {
        /// Replace everything with what `families` hold.
        case full
        /// Send these payloads (one per family); `staleConntrack` lists the UDP flows the
        /// change leaves pointing at removed endpoints.
        case partial(payloads: [Renderer.Payload], staleConntrack: [StaleConntrack])
    }

    /// The node's settings; the service CIDRs follow the cluster's ServiceCIDR objects.
    private(set) var options: ProxyOptions
    private(set) var families: [Family] = []
    /// The cluster the kernel holds `families` for; nil while a sync is on its way or after
    /// one failed.
    private var landedCluster: ClusterState?

    init(options: ProxyOptions) { self.options = options }

    /// Moves the state to `new` and says what takes the kernel there.
    mutating func plan(to new: ClusterState, changes known: [ClusterChange]?) -> Plan {
        // kube-proxy follows the ServiceCIDRs as they change (its rule dropping traffic to
        // unallocated ClusterIPs); they shape the fixed chains, so a change is a full sync.
        let serviceCIDRs = new.serviceCIDRs.flatMap(\.cidrs)
        let cidrsChanged = serviceCIDRs != options.serviceCIDRs
        options.serviceCIDRs = serviceCIDRs
        let wanted = ServiceMap.families(cluster: new, options: options)
        guard !cidrsChanged, let old = landedCluster, wanted == families.map(\.state.family) else {
            landedCluster = nil
            families = wanted.map { Family(ProxyState(cluster: new, options: options, family: $0)) }
            return .full
        }
        landedCluster = nil
        let changes = known ?? old.changes(to: new)
        var payloads: [Renderer.Payload] = []
        var stale: [StaleConntrack] = []
        for i in families.indices {
            var changed: Set<ServicePortName> = []
            for change in changes { changed.formUnion(families[i].state.apply(change)) }
            for name in changed.sorted() where name.proto == .udp {
                let now = families[i].state.ports[name]
                stale += StaleConntrack.entries(old: families[i].udpPorts[name], new: now)
                families[i].udpPorts[name] = now
            }
            let state = families[i].state
            payloads.append(families[i].renderer.update(state, changed: changed))
        }
        return .partial(payloads: payloads, staleConntrack: stale)
    }

    /// Records that the kernel now holds the planned state for `cluster`.
    mutating func landed(_ cluster: ClusterState) { landedCluster = cluster }
}
