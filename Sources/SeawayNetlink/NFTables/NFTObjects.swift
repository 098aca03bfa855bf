import SeawayKernel
import SeawayNet

/// The nftables objects Seaway programs, as values: what a transaction adds or removes.
/// `nft list ruleset` renders what these encode (see NFTExpression for the rules' parts).
public enum NFTFamily: UInt16, Sendable {
    case inet = 1, ip = 2, arp = 3, netdev = 5, bridge = 7, ip6 = 10

    public var name: String {
        switch self {
        case .inet: "inet"
        case .ip: "ip"
        case .arp: "arp"
        case .netdev: "netdev"
        case .bridge: "bridge"
        case .ip6: "ip6"
        }
    }
}

public struct NFTTable: Sendable, Equatable {
    public var family: NFTFamily
    public var name: String
    public var comment: String?

    public init(_ family: NFTFamily, _ name: String, comment: String? = nil) {
        self.family = family
        self.name = name
        self.comment = comment
    }
}

public struct NFTChain: Sendable, Equatable {
    /// What makes a chain a base chain: the hook it is attached to.
    public struct Base: Sendable, Equatable {
        public enum Hook: UInt32, Sendable { case prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4 }
        /// `filter`, `nat` or `route`.
        public var type: String
        public var hook: Hook
        public var priority: Int32
        public var acceptByDefault = true

        public init(type: String, hook: Hook, priority: Int32, acceptByDefault: Bool = true) {
            self.type = type
            self.hook = hook
            self.priority = priority
            self.acceptByDefault = acceptByDefault
        }
    }

    public var table: NFTTable
    public var name: String
    public var base: Base?
    public var comment: String?

    public init(_ table: NFTTable, _ name: String, base: Base? = nil, comment: String? = nil) {
        self.table = table
        self.name = name
        self.base = base
        self.comment = comment
    }
}

public struct NFTRule: Sendable, Equatable {
    public var chain: NFTChain
    public var expressions: [NFTExpression]
    public var comment: String?

    public init(_ chain: NFTChain, _ expressions: [NFTExpression], comment: String? = nil) {
        self.chain = chain
        self.expressions = expressions
        self.comment = comment
    }
}

/// A set or map: its key (and for a map, its data) as the kernel stores them, plus the user
/// data through which `nft` knows how to print them.
public struct NFTSet: Sendable, Equatable {
    public struct Flags: OptionSet, Sendable, Equatable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let anonymous = Flags(rawValue: 0x1)
        public static let constant = Flags(rawValue: 0x2)
        public static let interval = Flags(rawValue: 0x4)
        public static let map = Flags(rawValue: 0x8)
        public static let timeout = Flags(rawValue: 0x10)
        /// Updated from the packet path (`flags dynamic`).
        public static let dynamic = Flags(rawValue: 0x20)
    }

    /// NFT_DATA_VERDICT: the data type of a verdict map.
    public static let verdictData: UInt32 = 0xffff_ff00

    public var table: NFTTable
    public var name: String
    /// Batch-local id, so rules and elements in the same transaction can refer to it.
    public var id: UInt32
    public var flags: Flags
    /// `nft`'s datatype number (concatenations pack one per 6 bits).
    public var keyType: UInt32
    public var keyLength: UInt32
    /// For maps: the data type and length (0 for verdicts).
    public var dataType: UInt32?
    public var dataLength: UInt32 = 0
    public var timeoutMilliseconds: UInt64?
    /// The number of elements of a constant (anonymous) set.
    public var size: UInt32?
    public var userData: [UInt8] = []

    public init(_ table: NFTTable, _ name: String, id: UInt32, flags: Flags, keyType: UInt32, keyLength: UInt32) {
        self.table = table
        self.name = name
        self.id = id
        self.flags = flags
        self.keyType = keyType
        self.keyLength = keyLength
    }

    public var reference: NFTSetReference { NFTSetReference(name, id: id) }
}

/// One element of a set or map: its key bytes, and for a verdict map, the verdict.
public struct NFTSetElement: Sendable, Equatable {
    public var key: [UInt8]
    /// Closes an interval that the previous element opened.
    public var isIntervalEnd = false
    /// Opens an interval that runs to the top of the key space (so no end follows).
    public var isOpenInterval = false
    public var verdict: NFTExpression.Verdict?
    /// For a data map: the element's value bytes.
    public var data: [UInt8]?
    public var comment: String?

    public init(key: [UInt8], isIntervalEnd: Bool = false, isOpenInterval: Bool = false,
                verdict: NFTExpression.Verdict? = nil, data: [UInt8]? = nil, comment: String? = nil) {
        self.key = key
        self.data = data
        self.isIntervalEnd = isIntervalEnd
        self.isOpenInterval = isOpenInterval
        self.verdict = verdict
        self.comment = comment
    }
}

/// A rule as the kernel lists it: enough to find ours again and delete it.
public struct NFTRuleHandle: Sendable, Equatable {
    public var handle: UInt64
    public var comment: String?
}

/// One atomic change to the ruleset: everything in it applies, or nothing does.
public struct NFTTransaction: Sendable {
    public enum Operation: Sendable {
        /// Add-if-missing (tables and chains are not replaced when they exist).
        case addTable(NFTTable)
        case addChain(NFTChain)
        case addRule(NFTRule)
        case flushChain(NFTChain)
        case deleteChain(NFTChain)
        case deleteRule(NFTChain, handle: UInt64)
        case deleteTable(NFTTable)
        case addSet(NFTSet)
        case deleteSet(NFTTable, String)
        case addElements(NFTTable, NFTSetReference, [NFTSetElement])
        case deleteElements(NFTTable, NFTSetReference, [NFTSetElement])

        /// What the operation is, as an error names it: `add rule inet t c`.
        public var description: String {
            switch self {
            case let .addTable(t): "add table \(t.family.name) \(t.name)"
            case let .addChain(c): "add chain \(c.table.family.name) \(c.table.name) \(c.name)"
            case let .addRule(r): "add rule \(r.chain.table.family.name) \(r.chain.table.name) \(r.chain.name)" + (r.comment.map { " (\($0))" } ?? "")
            case let .flushChain(c): "flush chain \(c.table.family.name) \(c.table.name) \(c.name)"
            case let .deleteChain(c): "delete chain \(c.table.family.name) \(c.table.name) \(c.name)"
            case let .deleteRule(c, h): "delete rule \(c.table.family.name) \(c.table.name) \(c.name) handle \(h)"
            case let .deleteTable(t): "delete table \(t.family.name) \(t.name)"
            case let .addSet(s): "add \(s.flags.contains(.map) ? "map" : "set") \(s.table.family.name) \(s.table.name) \(s.name)"
            case let .deleteSet(t, name): "delete set \(t.family.name) \(t.name) \(name)"
            case let .addElements(t, set, e): "add \(e.count) element(s) to \(t.family.name) \(t.name) \(set.name)"
            case let .deleteElements(t, set, e): "delete \(e.count) element(s) from \(t.family.name) \(t.name) \(set.name)"
            }
        }
    }

    public private(set) var operations: [Operation] = []

    public init() {}

    public var isEmpty: Bool { operations.isEmpty }

    public mutating func add(_ table: NFTTable) { operations.append(.addTable(table)) }
    public mutating func add(_ chain: NFTChain) { operations.append(.addChain(chain)) }
    public mutating func add(_ rule: NFTRule) { operations.append(.addRule(rule)) }
    public mutating func flush(_ chain: NFTChain) { operations.append(.flushChain(chain)) }
    public mutating func delete(_ chain: NFTChain) { operations.append(.deleteChain(chain)) }
    public mutating func delete(ruleWithHandle handle: UInt64, in chain: NFTChain) { operations.append(.deleteRule(chain, handle: handle)) }
    public mutating func delete(_ table: NFTTable) { operations.append(.deleteTable(table)) }
    public mutating func append(_ operation: Operation) { operations.append(operation) }
    /// Empties the transaction, keeping its storage (for one drained as it is compiled).
    public mutating func removeAll() { operations.removeAll(keepingCapacity: true) }
}
