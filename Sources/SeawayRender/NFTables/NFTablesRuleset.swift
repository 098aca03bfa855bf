import SeawayModel

/// kube-proxy's nftables table for one family, as a value. `text` is `nft -f` input that
/// creates it in an empty namespace: the table, chains, sets and maps, rules, then elements.
public struct NFTablesRuleset: Sendable, Hashable {
    public struct Chain: Sendable, Hashable {
        public var name: String
        /// `type filter hook prerouting priority -110`, for base chains.
        public var base: String?
        public var comment: String?
        public var rules: [String]
    }

    public struct Element: Sendable, Hashable {
        public var key: String
        public var value: String?
        public var comment: String?
    }

    public struct Container: Sendable, Hashable {
        public var isMap: Bool
        public var name: String
        /// `type ...` plus optional flags, timeout and comment, as written between braces.
        public var spec: String
        public var elements: [Element]
    }

    public var family: IPFamily
    /// `ip` or `ip6`.
    public var nftFamily: String { family == .ipv4 ? "ip" : "ip6" }
    public var tableComment = "rules for kube-proxy"
    /// Base chains first (in hook order), then every other chain by name.
    public var chains: [Chain]
    /// Sets and maps by name.
    public var containers: [Container]

    public var ruleCount: Int { chains.reduce(0) { $0 + $1.rules.count } }

    public var text: String {
        let prefix = "\(nftFamily) \(NFTablesName.table)"
        var out = "add table \(prefix) { comment \"\(tableComment)\" ; }\n"
        for c in chains {
            out += "add chain \(prefix) \(c.name)"
            if let base = c.base {
                out += " { \(base) ; }"
            } else if let comment = c.comment {
                out += " { comment \"\(comment)\" ; }"
            }
            out += "\n"
        }
        for s in containers {
            out += "add \(s.isMap ? "map" : "set") \(prefix) \(s.name) { \(s.spec) }\n"
        }
        for c in chains {
            for rule in c.rules {
                out += "add rule \(prefix) \(c.name) "
                out += rule
                out += "\n"
            }
        }
        for s in containers {
            for e in s.elements {
                out += "add element \(prefix) \(s.name) { \(e.key)"
                if let comment = e.comment { out += " comment \"\(comment)\"" }
                if let value = e.value { out += " : \(value)" }
                out += " }\n"
            }
        }
        return out
    }
}
