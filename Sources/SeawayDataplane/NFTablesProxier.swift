import SeawayModel
import SeawayNetlink
import SeawayProxyCore
import SeawayRender

/// kube-proxy's nftables proxier on one netlink socket: the first sync replaces the tables,
/// later ones send only what changed (NFTablesSync's partial transaction: changed chains
/// rewritten, elements added and deleted, stale chains flushed and deleted), so a one-
/// endpoint change costs what the change costs, not what the cluster costs. A refused or
/// uncarriable sync changes nothing in the kernel and makes the next one full.
public final class NFTablesProxier {
    /// What one sync did.
    public struct Sync: Sendable {
        public var full: Bool
        /// Netlink operations sent (0: nothing had changed).
        public var operations = 0
        public var chainsAdded = 0, chainsChanged = 0, chainsDeleted = 0
        public var elementsAdded = 0, elementsDeleted = 0
    }

    private let options: ProxyOptions
    private let socket: NFTablesNetlink
    private var cluster: ClusterState?
    private var families: [(state: ProxyState, sync: NFTablesSync)] = []

    /// Opens the netlink socket in the calling thread's network namespace.
    public init(options: ProxyOptions) throws(DataplaneError) {
        self.options = options
        do { socket = try NFTablesNetlink() } catch { throw DataplaneError("open nftables netlink", error) }
    }

    /// Chains the tables hold (as of the last sync that landed).
    public private(set) var chains = 0

    /// Moves the kernel's tables to `new`; `changes` (from the previous state to `new`) saves
    /// comparing the two when the caller already knows them.
    @discardableResult
    public func sync(to new: ClusterState, changes known: [ClusterChange]? = nil) throws(DataplaneError) -> Sync {
        let wanted = ServiceMap.families(cluster: new, options: options)
        guard let old = cluster, wanted == families.map(\.state.family) else { return try fullSync(new) }
        // Until this sync lands, the in-memory state is ahead of the kernel's.
        cluster = nil
        let changes = known ?? old.changes(to: new)
        var script: [UInt8] = []
        var result = Sync(full: false)
        for i in families.indices {
            var changed: Set<ServicePortName> = []
            for change in changes { changed.formUnion(families[i].state.apply(change)) }
            let tx = families[i].sync.update(families[i].state, changed: changed)
            script += tx.bytes
            result.chainsAdded += tx.chainsAdded
            result.chainsChanged += tx.chainsChanged
            result.chainsDeleted += tx.chainsDeleted
            result.elementsAdded += tx.elementsAdded
            result.elementsDeleted += tx.elementsDeleted
        }
        result.operations = try send(script)
        cluster = new
        chains += result.chainsAdded - result.chainsDeleted
        return result
    }

    private func fullSync(_ new: ClusterState) throws(DataplaneError) -> Sync {
        cluster = nil
        families = ServiceMap.families(cluster: new, options: options).map { family in
            let state = ProxyState(cluster: new, options: options, family: family)
            return (state, NFTablesSync(state.serviceMap))
        }
        let rulesets = families.map(\.sync.ruleset)
        var result = Sync(full: true)
        result.operations = try send(NFTablesApplier.transaction(rulesets))
        result.chainsAdded = rulesets.reduce(0) { $0 + $1.chains.count }
        cluster = new
        chains = result.chainsAdded
        return result
    }

    private func send(_ script: [UInt8]) throws(DataplaneError) -> Int {
        guard !script.isEmpty else { return 0 }
        let transaction: NFTTransaction
        do { transaction = try NFTScript.transaction(script) } catch { throw DataplaneError("\(error)") }
        do { try socket.apply(transaction) } catch { throw DataplaneError("nftables transaction refused, nothing changed", error) }
        return transaction.operations.count
    }
}
