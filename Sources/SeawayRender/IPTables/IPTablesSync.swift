import SeawayModel
import SeawayProxyCore

/// Incremental iptables rendering, as kube-proxy's partial sync works: after a change, the
/// restore payload holds the fixed top-level chains in full and only the changed service
/// ports' own chains, plus `-X` for chains that went away. Unchanged service chains are not
/// mentioned, so `iptables-restore --noflush` leaves them alone.
public struct IPTablesSync: Sendable {
    private var settings: IPTablesSettings
    private var store: FragmentStore<IPTablesFragment>
    /// filter KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL;
    /// nat KUBE-SERVICES, KUBE-NODEPORTS: one segment per service port. nat KUBE-SERVICES
    /// has one more, last: the jump to KUBE-NODEPORTS that must end it.
    private var top: [SegmentedLines]

    /// Renders every service port of `map` and remembers the result.
    public init(_ map: ServiceMap) {
        let settings = IPTablesSettings(map)
        self.settings = settings
        store = FragmentStore(map) { IPTablesFragment($0, settings) }
        let fragments = store.inOrder
        // The six chains are built at once, a core each: each reads a line block from every
        // fragment, long out of the cache.
        top = Array(0..<IPTablesFragment.topLevelCount).concurrentMap(minimumCount: 2) { part in
            SegmentedLines(count: fragments.count) { fragments[$0].topLevel(part) }
        }
        top[4].insert(settings.nodePortsJump, at: fragments.count)
    }

    /// The whole ruleset as of the last update (what a full sync writes).
    public var ruleset: IPTablesRuleset {
        assemble(serviceChains: store.chains, deleted: [])
    }

    /// Applies the changes `state` reports for `changed` and returns the partial payload.
    /// When the change flips large-cluster mode (comments on or off everywhere), the whole
    /// ruleset is rendered again and returned, as a full sync would.
    public mutating func update(_ state: ProxyState, changed: Set<ServicePortName>) -> IPTablesRuleset {
        let largeCluster = state.totalEndpoints > state.options.largeClusterEndpointsThreshold
        if largeCluster != settings.largeCluster {
            self = IPTablesSync(state.serviceMap)
            return ruleset
        }
        let settings = self.settings
        var chains: [ChainBlock] = []
        var deleted: [String] = []
        for change in store.update(state, changed: changed, render: { IPTablesFragment($0, settings) }) {
            switch change {
            case let .added(at, new):
                for (i, lines) in new.topLevel.enumerated() { top[i].insert(lines, at: at) }
                chains.append(new.chains)
            case let .replaced(at, old, new):
                for (i, lines) in new.topLevel.enumerated() { top[i].replace(at: at, with: lines) }
                chains.append(new.chains)
                let kept = Set(new.chains.allNames)
                deleted += old.chains.allNames.filter { !kept.contains($0) }
            case let .removed(at, old):
                for i in top.indices { top[i].remove(at: at) }
                deleted += old.chains.allNames
            }
        }
        return assemble(serviceChains: chains, deleted: deleted)
    }

    private func assemble(serviceChains: [ChainBlock], deleted: [String]) -> IPTablesRuleset {
        typealias Chain = IPTablesRuleset.Chain
        var filter = [Chain(name: IPTablesChain.services, rules: top[0].block),
                      Chain(name: IPTablesChain.externalServices, rules: top[1].block),
                      Chain(name: IPTablesChain.forward, rules: settings.forwardRules),
                      Chain(name: IPTablesChain.nodePorts, rules: top[2].block),
                      Chain(name: IPTablesChain.proxyFirewall, rules: top[3].block)]
        if let fw = settings.kubeletFirewall { filter.append(fw) }
        let nat = [Chain(name: IPTablesChain.services, rules: top[4].block),
                   Chain(name: IPTablesChain.nodePorts, rules: top[5].block),
                   Chain(name: IPTablesChain.postrouting, rules: settings.postroutingRules),
                   Chain(name: IPTablesChain.markMasq, rules: settings.markMasqRules)]
        var natTable = IPTablesRuleset.Table(name: "nat", chains: nat, serviceChains: serviceChains)
        natTable.deletedChains = deleted
        return IPTablesRuleset(family: settings.family, filter: .init(name: "filter", chains: filter), nat: natTable)
    }
}
