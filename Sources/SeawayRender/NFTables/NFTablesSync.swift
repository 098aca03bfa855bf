import SeawayModel
import SeawayProxyCore

/// Incremental nftables rendering: remembers each service port's chains, sets and elements,
/// and after a change returns the `nft -f` transaction that moves the table from the old
/// state to the new one, touching only what differs (kube-proxy's nftables partial sync).
public struct NFTablesSync: Sendable {
    private let setup: NFTablesSetup
    private var store: FragmentStore<NFTablesFragment>

    public init(_ map: ServiceMap) {
        let setup = NFTablesSetup(map)
        self.setup = setup
        store = FragmentStore(map) { NFTablesFragment($0, setup) }
    }

    /// The whole table as of the last update: kube-proxy's, and the shard tables after it
    /// when the options ask for them.
    public var rulesets: [NFTablesRuleset] {
        NFTablesRenderer.assemble(setup, store.inOrder, chains: store.chains)
    }

    /// Applies the changes `state` reports for `changed` and returns the transaction.
    public mutating func update(_ state: ProxyState, changed: Set<ServicePortName>) -> NFTablesTransaction {
        var tx = NFTablesTransaction(prefix: setup.prefix)
        let setup = self.setup
        for change in store.update(state, changed: changed, render: { NFTablesFragment($0, setup) }) {
            switch change {
            case let .added(_, new): tx.add(from: nil, to: new)
            case let .replaced(_, old, new): tx.add(from: old, to: new)
            case let .removed(_, old): tx.add(from: old, to: nil)
            }
        }
        return tx
    }
}

/// An `nft -f` transaction changing kube-proxy's table (and the shard tables, when the
/// services are spread over them), in an order the kernel accepts:
/// new chains and sets first, stale elements out, changed chains rewritten, new elements in,
/// then every removed chain flushed before any is deleted (a flushed service chain's vmap no
/// longer references its endpoint chains), and unused affinity sets deleted last.
public struct NFTablesTransaction: Sendable {
    /// kube-proxy's table (`ip kube-proxy`).
    let prefix: String
    private var addChains = LineBlock(), deleteElements = LineBlock(), rewriteChains = LineBlock()
    private var addElements = LineBlock(), flushRemoved = LineBlock(), deleteRemoved = LineBlock()
    public private(set) var chainsAdded = 0, chainsChanged = 0, chainsDeleted = 0
    public private(set) var elementsAdded = 0, elementsDeleted = 0
    /// The chains and affinity sets this transaction creates, and the ones it removes (the
    /// removed chains flushed, then deleted by `bytes`; `bytesFlushingOnly` leaves them),
    /// each with its table: `ip kube-proxy endpoint-...`.
    public private(set) var createdChains: [String] = [], createdSets: [String] = []
    public private(set) var removedChains: [String] = [], removedSets: [String] = []

    init(prefix: String) { self.prefix = prefix }

    public var isEmpty: Bool { bytes.isEmpty }

    public var bytes: [UInt8] { bytesFlushingOnly + deleteRemoved.bytes }

    /// Everything but the deletion of removed chains and sets: kube-proxy flushes stale
    /// chains at once and deletes them in a later sync (`deletions`), so nothing the kernel
    /// may still be releasing from this commit is deleted in it.
    public var bytesFlushingOnly: [UInt8] {
        addChains.bytes + deleteElements.bytes + rewriteChains.bytes + addElements.bytes + flushRemoved.bytes
    }

    /// `delete chain` and `delete set` lines for `chains` and `sets`, each named with its
    /// table as this type lists them (`ip kube-proxy endpoint-...`).
    public static func deletions(chains: [String], sets: [String]) -> [UInt8] {
        var out = LineBlock()
        for c in chains { out.append("delete chain \(c)") }
        for s in sets { out.append("delete set \(s)") }
        return out.bytes
    }

    /// `ip kube-proxy` or `ip6 kube-proxy`.
    public var tablePrefix: String { prefix }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func add(from old: NFTablesFragment?, to new: NFTablesFragment?) {
        // A service's tables never change between two fragments of it (a new shard count is
        // a full sync), so an old fragment's table is its new one's.
        let table = new?.prefix ?? old?.prefix ?? prefix
        add(chains: old?.chains ?? ChainBlock(), to: new?.chains ?? ChainBlock(), in: table)
        add(chains: old?.mainChains ?? ChainBlock(), to: new?.mainChains ?? ChainBlock(), in: prefix)

        let oldSets = Set((old?.affinitySets ?? []).map(\.name))
        let newSets = Set((new?.affinitySets ?? []).map(\.name))
        for set in new?.affinitySets ?? [] where !oldSets.contains(set.name) {
            addChains.append("add set \(table) \(set.name) { \(set.spec) }")
            createdSets.append("\(table) \(set.name)")
        }

        // Elements by set/map: the old ones not in the new, and the new ones not in the old.
        func elements(_ f: NFTablesFragment?) -> [(table: String, container: String, key: String, line: String)] {
            (f?.elements ?? []).flatMap { e in e.keyedLines.map { (e.prefix, e.container, $0.key, $0.line) } }
        }
        let oldElements = elements(old), newElements = elements(new)
        let oldLines = Set(oldElements.map(\.line)), newLines = Set(newElements.map(\.line))
        for e in oldElements where !newLines.contains(e.line) {
            deleteElements.append("delete element \(e.table) \(e.container) { \(e.key) }")
            elementsDeleted += 1
        }
        for e in newElements where !oldLines.contains(e.line) {
            addElements.append("\(e.line)")
            elementsAdded += 1
        }

        for set in old?.affinitySets ?? [] where !newSets.contains(set.name) {
            deleteRemoved.append("delete set \(table) \(set.name)")
            removedSets.append("\(table) \(set.name)")
        }
    }

    /// The chains of one table going from `oldBlock` to `newBlock`.
    private mutating func add(chains oldBlock: ChainBlock, to newBlock: ChainBlock, in table: String) {
        let oldChains = Dictionary(uniqueKeysWithValues: oldBlock.indices.map { (oldBlock.name(at: $0), $0) })
        let newChainNames = Set(newBlock.allNames)
        for i in newBlock.indices {
            let name = newBlock.name(at: i), rules = newBlock.rules(at: i)
            if let previous = oldChains[name] {
                if oldBlock.rules(at: previous) == rules { continue }
                rewriteChains.append("flush chain \(table) \(name)")
                chainsChanged += 1
            } else {
                addChains.append("add chain \(table) \(name)")
                createdChains.append("\(table) \(name)")
                chainsAdded += 1
            }
            rewriteChains.append(rules)
        }
        for name in oldBlock.allNames where !newChainNames.contains(name) {
            flushRemoved.append("flush chain \(table) \(name)")
            deleteRemoved.append("delete chain \(table) \(name)")
            removedChains.append("\(table) \(name)")
            chainsDeleted += 1
        }
    }
}
