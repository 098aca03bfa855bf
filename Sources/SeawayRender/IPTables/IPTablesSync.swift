import SeawayModel
import SeawayProxyCore

/// Incremental iptables rendering, as kube-proxy's partial sync works: after a change, the
/// restore payload holds the fixed top-level chains in full and only the changed service
/// ports' own chains, plus `-X` for chains that went away. Unchanged service chains are not
/// mentioned, so `iptables-restore --noflush` leaves them alone.
public struct IPTablesSync: Sendable {
    private var settings: IPTablesSettings
    private var order: [ServicePortName]
    private var fragments: [ServicePortName: IPTablesFragment]
    /// filter KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL;
    /// nat KUBE-SERVICES, KUBE-NODEPORTS: one segment per service port. nat KUBE-SERVICES
    /// has one more, last: the jump to KUBE-NODEPORTS that must end it.
    private var top: [SegmentedLines]

    /// Renders every service port of `map` and remembers the result.
    public init(_ map: ServiceMap) {
        settings = IPTablesSettings(map)
        let settings = self.settings
        let rendered = map.ports.concurrentMap { IPTablesFragment($0, settings) }
        order = map.ports.map(\.info.name)
        fragments = Dictionary(uniqueKeysWithValues: zip(order, rendered))
        top = (0..<IPTablesFragment.topLevelCount).map { part in SegmentedLines(rendered.map { $0.topLevel[part] }) }
        top[4].insert(settings.nodePortsJump, at: rendered.count)
    }

    /// The whole ruleset as of the last update (what a full sync writes).
    public var ruleset: IPTablesRuleset {
        assemble(serviceChains: order.flatMap { fragments[$0]!.chains }, deleted: [])
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
        var chains: [IPTablesRuleset.Chain] = []
        var deleted: [String] = []
        for name in changed.sorted() {
            let old = fragments[name]
            let index = order.renderIndex(of: name)
            if let port = state.ports[name] {
                let fragment = IPTablesFragment(port, settings)
                if let index {
                    for (i, lines) in fragment.topLevel.enumerated() { top[i].replace(at: index, with: lines) }
                } else {
                    let at = order.renderInsertionIndex(for: name)
                    order.insert(name, at: at)
                    for (i, lines) in fragment.topLevel.enumerated() { top[i].insert(lines, at: at) }
                }
                fragments[name] = fragment
                chains += fragment.chains
                let kept = Set(fragment.chains.map(\.name))
                deleted += (old?.chains ?? []).map(\.name).filter { !kept.contains($0) }
            } else if let index {
                order.remove(at: index)
                for i in top.indices { top[i].remove(at: index) }
                fragments[name] = nil
                deleted += (old?.chains ?? []).map(\.name)
            }
        }
        return assemble(serviceChains: chains, deleted: deleted)
    }

    private func assemble(serviceChains: [IPTablesRuleset.Chain], deleted: [String]) -> IPTablesRuleset {
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
                   Chain(name: IPTablesChain.markMasq, rules: settings.markMasqRules)] + serviceChains
        var natTable = IPTablesRuleset.Table(name: "nat", chains: nat)
        natTable.deletedChains = deleted
        return IPTablesRuleset(family: settings.family, filter: .init(name: "filter", chains: filter), nat: natTable)
    }
}
