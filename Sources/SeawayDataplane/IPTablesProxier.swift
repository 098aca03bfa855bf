import SeawayModel
import SeawayProxyCore
import SeawayRender

/// kube-proxy's iptables proxier: the first sync is `apply`'s full one (every chain, stale
/// chains deleted, jumps ensured); later ones restore, per family with `--noflush`, only the
/// fixed top-level chains and the changed service ports' chains, plus `-X` for chains that
/// went away (kube-proxy's partial sync). A failed restore leaves that family as it was and
/// makes the next sync full.
public final class IPTablesProxier {
    public struct Sync: Sendable {
        public var full: Bool
        /// Service chains written (and deleted) by this sync.
        public var chainsWritten = 0, chainsDeleted = 0
        public var staleConntrack: [StaleConntrack] = []
    }

    private let applier: IPTablesApplier
    private var state: ProxierState<IPTablesSync>

    public init(options: ProxyOptions, environment: [String: String]) {
        applier = IPTablesApplier(environment: environment)
        state = ProxierState(options: options)
    }

    @discardableResult
    public func sync(to new: ClusterState, changes: [ClusterChange]? = nil) throws(DataplaneError) -> Sync {
        switch state.plan(to: new, changes: changes) {
        case .full:
            let plans = try applier.apply(state.families.map(\.renderer.ruleset))
            state.landed(new)
            return Sync(full: true, chainsWritten: plans.reduce(0) { $0 + $1.ruleset.nat.chains.count + $1.ruleset.filter.chains.count })
        case let .partial(payloads, stale):
            var result = Sync(full: false, staleConntrack: stale)
            for payload in payloads {
                try applier.restore(payload)
                result.chainsWritten += payload.nat.chains.count + payload.filter.chains.count
                result.chainsDeleted += payload.nat.deletedChains.count + payload.filter.deletedChains.count
            }
            state.landed(new)
            return result
        }
    }
}
