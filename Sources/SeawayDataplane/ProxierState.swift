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
/// renderer, as of the last sync that reached the kernel. Callers mark a sync landed with
/// `landed(_:)`; until then (or after a failure) the next `plan` is a full one.
struct ProxierState<Renderer: PartialSyncRenderer> {
    struct Family {
        var state: ProxyState
        var renderer: Renderer
    }

    enum Plan {
        /// Replace everything with what these renderers hold.
        case full([Family])
        /// Send these payloads (one per family); `staleConntrack` lists the UDP flows the
        /// change leaves pointing at removed endpoints.
        case partial([Family], payloads: [Renderer.Payload], staleConntrack: [StaleConntrack])
    }

    let options: ProxyOptions
    private var cluster: ClusterState?
    private var families: [Family] = []

    init(options: ProxyOptions) { self.options = options }

    /// What moves the kernel from the last landed state to `new`.
    func plan(to new: ClusterState, changes known: [ClusterChange]?) -> Plan {
        let wanted = ServiceMap.families(cluster: new, options: options)
        guard let old = cluster, wanted == families.map(\.state.family) else {
            return .full(wanted.map { family in
                let state = ProxyState(cluster: new, options: options, family: family)
                return Family(state: state, renderer: Renderer(state.serviceMap))
            })
        }
        let changes = known ?? old.changes(to: new)
        var next = families
        var payloads: [Renderer.Payload] = []
        var stale: [StaleConntrack] = []
        for i in next.indices {
            let before = next[i].state.ports
            var changed: Set<ServicePortName> = []
            for change in changes { changed.formUnion(next[i].state.apply(change)) }
            for name in changed.sorted() where name.proto == .udp {
                stale += StaleConntrack.entries(old: before[name], new: next[i].state.ports[name])
            }
            payloads.append(next[i].renderer.update(next[i].state, changed: changed))
        }
        return .partial(next, payloads: payloads, staleConntrack: stale)
    }

    /// Records that the kernel now holds `families` for `cluster`.
    mutating func landed(_ families: [Family], _ cluster: ClusterState) {
        self.families = families
        self.cluster = cluster
    }

    /// Forgets the landed state: the next plan is full.
    mutating func invalidate() {
        cluster = nil
        families = []
    }
}
