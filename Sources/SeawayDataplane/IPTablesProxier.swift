import SeawayModel
import SeawayProxyCore
import SeawayRender

/// kube-proxy's iptables proxier: the first sync is `apply`'s full one (every chain, stale
/// chains deleted, jumps ensured); later ones restore, per family with `--noflush`, the
/// changed service ports' chains, plus `-X` for chains that went away (kube-proxy's partial
/// sync), and of the fixed top-level chains kube-proxy rewrites each time only those whose
/// rules changed since this proxier wrote them (an endpoint change touches none; iptables-nft
/// pays per rule given). A failed restore leaves that family as it was and makes the next
/// sync full.
public final class IPTablesProxier {
    public struct Sync: Sendable {
        public var full: Bool
        /// Service chains written (and deleted) by this sync.
        public var chainsWritten = 0, chainsDeleted = 0
        public var staleConntrack: [StaleConntrack] = []
    }

    private let applier: IPTablesApplier
    private var state: ProxierState<IPTablesSync>
    /// Per family, the fixed chains as last written (`table/CHAIN` -> rules).
    private var written: [IPFamily: [String: LineBlock]] = [:]

    public init(options: ProxyOptions, environment: [String: String]) {
        applier = IPTablesApplier(environment: environment)
        state = ProxierState(options: options)
    }

    @discardableResult
    public func sync(to new: ClusterState, changes: [ClusterChange]? = nil) throws(DataplaneError) -> Sync {
        switch state.plan(to: new, changes: changes) {
        case .full:
            written = [:]
            let rulesets = state.families.map(\.renderer.ruleset)
            let plans = try applier.apply(rulesets)
            for r in rulesets { written[r.family] = r.fixedChains }
            state.landed(new)
            return Sync(full: true, chainsWritten: plans.reduce(0) { $0 + $1.ruleset.nat.chainCount + $1.ruleset.filter.chainCount })
        case let .partial(payloads, stale):
            var result = Sync(full: false, staleConntrack: stale)
            for full in payloads {
                let payload = full.omitting(written: written[full.family] ?? [:])
                try applier.restore(payload)
                written[full.family, default: [:]].merge(payload.fixedChains) { $1 }
                result.chainsWritten += payload.nat.chainCount + payload.filter.chainCount
                result.chainsDeleted += payload.nat.deletedChains.count + payload.filter.deletedChains.count
            }
            state.landed(new)
            return result
        }
    }
}
