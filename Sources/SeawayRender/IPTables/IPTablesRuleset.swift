import SeawayModel

/// An iptables-restore payload for one IP family: the `filter` and `nat` tables, each a list
/// of chains with their rules. `text` is exactly what `iptables-restore --noflush` reads.
public struct IPTablesRuleset: Sendable, Hashable {
    public struct Table: Sendable, Hashable {
        public var name: String
        /// Chains in output order: KUBE-NODEPORTS and KUBE-SERVICES first, then by name
        /// (the canonical order of kube-proxy's own tests, and close to `iptables-save`).
        public var chains: [String]
        /// Rule lines (`-A CHAIN ...`) per chain, in match order.
        public var rules: [String: [String]]

        public var ruleCount: Int { rules.values.reduce(0) { $0 + $1.count } }
    }

    public var family: IPFamily
    public var filter: Table
    public var nat: Table

    public var tables: [Table] { [filter, nat] }

    /// The payload: `*filter`, chain lines, rules, `COMMIT`, then the same for `*nat`.
    public var text: String {
        var out = ""
        out.reserveCapacity((filter.ruleCount + nat.ruleCount) * 120)
        for table in tables {
            out += "*\(table.name)\n"
            for chain in table.chains { out += ":\(chain) - [0:0]\n" }
            for chain in table.chains {
                for rule in table.rules[chain] ?? [] {
                    out += rule
                    out += "\n"
                }
            }
            out += "COMMIT\n"
        }
        return out
    }
}

/// Collects one table's chains and rules while rendering.
struct IPTablesTableBuilder {
    let name: String
    private(set) var declared: [String] = []
    private(set) var rules: [String: [String]] = [:]

    init(name: String) { self.name = name }

    mutating func declare(_ chain: String) {
        if rules[chain] == nil {
            declared.append(chain)
            rules[chain] = []
        }
    }

    mutating func append(_ chain: String, _ rule: String) {
        declare(chain)
        rules[chain]!.append(rule)
    }

    func build() -> IPTablesRuleset.Table {
        let first = [IPTablesChain.nodePorts, IPTablesChain.services].filter { rules[$0] != nil }
        let rest = declared.filter { !first.contains($0) }.sorted()
        return .init(name: name, chains: first + rest, rules: rules)
    }
}
