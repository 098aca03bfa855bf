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
}
