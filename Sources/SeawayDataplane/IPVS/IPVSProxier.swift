import SeawayModel
import SeawayProxyCore
import SeawayRender

/// IPVS mode renders no partial payloads: its ruleset is small (one virtual server per
/// service address and port, a few fixed iptables rules, the ipsets), so each sync renders
/// it whole and `IPVSApplier` sends the kernel only what differs from what it holds.
struct IPVSRulesetRenderer: PartialSyncRenderer {
    private(set) var ruleset: IPVSRuleset

    init(_ map: ServiceMap) { ruleset = IPVSRenderer().render(map) }

    mutating func update(_ state: ProxyState, changed: Set<ServicePortName>) -> IPVSRuleset {
        ruleset = IPVSRenderer().render(state.serviceMap)
        return ruleset
    }
}

/// kube-proxy's IPVS proxier: every sync reads the kernel's virtual servers and
/// `kube-ipvs0`'s addresses and sends the difference (`IPVSApplier.apply`); UDP flows left
/// on removed endpoints are reported for conntrack clearing, as the other proxiers do.
public final class IPVSProxier {
    public struct Sync: Sendable {
        public var full: Bool
        public var virtualServers = 0
        /// IPVS messages sent, addresses bound and unbound.
        public var messages = 0, bound = 0, unbound = 0
        public var staleConntrack: [StaleConntrack] = []
    }

    private let kernel: any IPVSKernel
    private var state: ProxierState<IPVSRulesetRenderer>

    /// Throws "IPVS unavailable" at once on a kernel without IPVS.
    public init(options: ProxyOptions, kernel: any IPVSKernel) throws(DataplaneError) {
        _ = try kernel.ipvsFamily()
        self.kernel = kernel
        state = ProxierState(options: options)
    }

    @discardableResult
    public func sync(to new: ClusterState, changes: [ClusterChange]? = nil) throws(DataplaneError) -> Sync {
        var result: Sync
        let rulesets: [IPVSRuleset]
        switch state.plan(to: new, changes: changes) {
        case .full:
            rulesets = state.families.map(\.renderer.ruleset)
            result = Sync(full: true)
        case let .partial(payloads, stale):
            rulesets = payloads
            result = Sync(full: false, staleConntrack: stale)
        }
        let plan = try IPVSApplier.apply(rulesets, nodeIPs: state.options.nodeIPs, to: kernel)
        state.landed(new)
        result.virtualServers = rulesets.reduce(0) { $0 + $1.virtualServers.count }
        (result.messages, result.bound, result.unbound) = (plan.messages.count, plan.bind.count, plan.unbind.count)
        return result
    }
}
