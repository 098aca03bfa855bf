import SeawayKernel
import SeawayModel
import SeawayNetlink
import SeawayProxyCore
import SeawayRender

/// kube-proxy's nftables proxier on one netlink socket: the first sync replaces the tables,
/// later ones send only what changed (NFTablesSync's partial transaction: changed chains
/// rewritten, elements added and deleted), so a one-endpoint change costs what the change
/// costs, not what the cluster costs. As kube-proxy's nftables mode does, chains and
/// affinity sets that go away are flushed in the sync that removes them and deleted in the
/// next one. A refused or uncarriable sync changes nothing in the kernel and makes the next
/// one full.
public final class NFTablesProxier {
    /// What one sync did.
    public struct Sync: Sendable {
        public var full: Bool
        /// Netlink operations sent (0: nothing had changed).
        public var operations = 0
        public var chainsAdded = 0, chainsChanged = 0, chainsDeleted = 0
        public var elementsAdded = 0, elementsDeleted = 0
        /// UDP conntrack entries this sync left pointing at endpoints that are gone: to be
        /// deleted now that the rules no longer lead there (ConntrackCleaner).
        public var staleConntrack: [StaleConntrack] = []
        /// Time inside the kernel's batch (sendmsg to the last ACK): its commit, including the
        /// re-validation of the whole table's jumps that any new jump triggers.
        public var kernel: Duration = .zero
    }

    private let socket: NFTablesNetlink
    private var state: ProxierState<NFTablesSync>
    /// Per family (`ip kube-proxy`): chains and sets flushed by the last sync (each named with
    /// its table), to delete in this one unless it creates them again.
    private var flushedLastTime: [String: (chains: Set<String>, sets: Set<String>)] = [:]

    /// Chains the tables hold (as of the last sync that landed).
    public private(set) var chains = 0

    /// Opens the netlink socket in the calling thread's network namespace.
    public init(options: ProxyOptions) throws(DataplaneError) {
        state = ProxierState(options: options)
        do { socket = try NFTablesNetlink() } catch { throw DataplaneError("open nftables netlink", error) }
    }

    /// Moves the kernel's tables to `new`; `changes` (from the previous state to `new`) saves
    /// comparing the two when the caller already knows them.
    @discardableResult
    public func sync(to new: ClusterState, changes: [ClusterChange]? = nil) throws(DataplaneError) -> Sync {
        switch state.plan(to: new, changes: changes) {
        case .full:
            let rulesets = state.families.flatMap(\.renderer.rulesets)
            // Rendering's scratch is freed by now; give it back before the batch (100 MB at
            // 10,000 services) is built, so the two do not add up in the peak.
            Heap.returnFreedMemory()
            var result = Sync(full: true)
            result.operations = try NFTablesApplier.send(rulesets, over: socket)
            result.kernel = socket.lastKernelTime
            result.chainsAdded = rulesets.reduce(0) { $0 + $1.chainCount }
            chains = result.chainsAdded
            flushedLastTime = [:]
            state.landed(new)
            return result
        case let .partial(transactions, stale):
            var result = Sync(full: false)
            result.staleConntrack = stale
            for tx in transactions {
                result.chainsAdded += tx.chainsAdded
                result.chainsChanged += tx.chainsChanged
                result.chainsDeleted += tx.chainsDeleted
                result.elementsAdded += tx.elementsAdded
                result.elementsDeleted += tx.elementsDeleted
            }
            var script: [UInt8] = []
            var flushedNow: [String: (chains: Set<String>, sets: Set<String>)] = [:]
            for tx in transactions {
                let table = tx.tablePrefix
                if let flushed = flushedLastTime[table] {
                    script += NFTablesTransaction.deletions(chains: flushed.chains.subtracting(tx.createdChains).sorted(),
                                                            sets: flushed.sets.subtracting(tx.createdSets).sorted())
                }
                script += tx.bytesFlushingOnly
                flushedNow[table] = (Set(tx.removedChains), Set(tx.removedSets))
            }
            (result.operations, result.kernel) = try send(script)
            chains += result.chainsAdded - result.chainsDeleted
            flushedLastTime = flushedNow
            state.landed(new)
            return result
        }
    }

    private func send(_ script: [UInt8]) throws(DataplaneError) -> (Int, Duration) {
        guard !script.isEmpty else { return (0, .zero) }
        let operations = try NFTablesApplier.send(script, over: socket)
        return (operations, socket.lastKernelTime)
    }
}
