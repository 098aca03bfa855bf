/// What changes on a node between two rendered states: chains added, removed or rewritten
/// (with their rule changes), and set/map elements added, removed or changed. This is the
/// work a partial sync does: kube-proxy rewrites changed chains whole and edits elements.
public struct RulesetDiff: Sendable {
    public struct ChainChange: Sendable, Hashable {
        public enum Kind: String, Sendable { case added = "+", removed = "-", changed = "~" }
        public var kind: Kind
        /// `filter KUBE-SERVICES` in iptables mode, `ip kube-proxy services` in nftables mode.
        public var chain: String
        public var removedRules: [String]
        public var addedRules: [String]
        /// Same rules in a different order (order is meaningful in a chain).
        public var reordered: Bool
    }

    public struct ElementChange: Sendable, Hashable {
        public var container: String
        public var removed: [String]
        public var added: [String]
    }

    public var chains: [ChainChange] = []
    public var elements: [ElementChange] = []

    public init(old: [Ruleset], new: [Ruleset]) {
        var oldChains: [String: [String]] = [:], newChains: [String: [String]] = [:]
        var order: [String] = [], seenChains: Set<String> = []
        var oldElems: [String: [String: String]] = [:], newElems: [String: [String: String]] = [:]
        var containerOrder: [String] = [], seenContainers: Set<String> = []

        func collect(_ rs: [Ruleset], _ chains: inout [String: [String]], _ elems: inout [String: [String: String]]) {
            for r in rs {
                switch r {
                case let .ipvs(v):
                    let fam = v.family == .ipv4 ? "iptables" : "ip6tables"
                    for vs in v.virtualServers {
                        let key = "ipvs \(vs.serviceArgument)"
                        if seenChains.insert(key).inserted { order.append(key) }
                        chains[key] = ["-s \(vs.scheduler)" + (vs.persistenceTimeout.map { " -p \($0)" } ?? "")]
                            + vs.realServers.map { "-r \($0.address.joined(port: $0.port)) -w \($0.weight)" }
                    }
                    var sets = v.ipsets.map { ($0.name, $0.entries) }
                    sets.append(("\(IPVSRuleset.dummyDevice) (\(v.family.rawValue))", v.dummyAddresses.map(\.description)))
                    for (name, entries) in sets {
                        let key = "ipset \(name)"
                        if seenContainers.insert(key).inserted { containerOrder.append(key) }
                        elems[key] = Dictionary(uniqueKeysWithValues: entries.map { ($0, $0) })
                    }
                    for table in v.iptables.tables {
                        for c in table.chains {
                            let key = "\(fam) \(table.name) \(c.name)"
                            if seenChains.insert(key).inserted { order.append(key) }
                            chains[key] = c.rules.lines
                        }
                    }
                case let .iptables(t):
                    let fam = t.family == .ipv4 ? "iptables" : "ip6tables"
                    for table in t.tables {
                        for c in table.chains {
                            let key = "\(fam) \(table.name) \(c.name)"
                            if seenChains.insert(key).inserted { order.append(key) }
                            chains[key] = c.rules.lines
                        }
                    }
                case let .nftables(t):
                    collectTable(t, &chains, &elems)
                case let .userspace(u):
                    collectTable(u.nftables, &chains, &elems)
                }
            }
        }
        func collectTable(_ t: NFTablesRuleset, _ chains: inout [String: [String]], _ elems: inout [String: [String: String]]) {
            let prefix = "\(t.nftFamily) \(t.table)"
            for c in t.chains {
                let key = "\(prefix) \(c.name)"
                if seenChains.insert(key).inserted { order.append(key) }
                chains[key] = c.rules
            }
            for s in t.containers {
                let key = "\(prefix) \(s.name)"
                if seenContainers.insert(key).inserted { containerOrder.append(key) }
                var m: [String: String] = [:]
                for e in s.elements { m[e] = e }
                elems[key] = m
            }
        }
        collect(old, &oldChains, &oldElems)
        collect(new, &newChains, &newElems)

        for key in order {
            switch (oldChains[key], newChains[key]) {
            case let (nil, rules?):
                chains.append(.init(kind: .added, chain: key, removedRules: [], addedRules: rules, reordered: false))
            case let (rules?, nil):
                chains.append(.init(kind: .removed, chain: key, removedRules: rules, addedRules: [], reordered: false))
            case let (a?, b?) where a != b:
                let sa = Set(a), sb = Set(b)
                chains.append(.init(kind: .changed, chain: key,
                                    removedRules: a.filter { !sb.contains($0) }, addedRules: b.filter { !sa.contains($0) },
                                    reordered: sa == sb))
            default:
                break
            }
        }
        for key in containerOrder {
            let a = oldElems[key] ?? [:], b = newElems[key] ?? [:]
            let removed = a.filter { b[$0.key] != $0.value }.map(\.value).sorted()
            let added = b.filter { a[$0.key] != $0.value }.map(\.value).sorted()
            if !removed.isEmpty || !added.isEmpty {
                elements.append(.init(container: key, removed: removed, added: added))
            }
        }
    }

    public var isEmpty: Bool { chains.isEmpty && elements.isEmpty }

    public var text: String {
        var out = ""
        for c in chains {
            out += "\(c.kind.rawValue) chain \(c.chain)\(c.reordered ? " (rules reordered)" : "")\n"
            for r in c.removedRules { out += "    - \(r)\n" }
            for r in c.addedRules { out += "    + \(r)\n" }
        }
        for e in elements {
            out += "~ elements \(e.container)\n"
            for r in e.removed { out += "    - \(r)\n" }
            for a in e.added { out += "    + \(a)\n" }
        }
        let count = { (k: ChainChange.Kind) in chains.filter { $0.kind == k }.count }
        let elementsAdded = elements.reduce(0) { $0 + $1.added.count }
        let elementsRemoved = elements.reduce(0) { $0 + $1.removed.count }
        out += "\(count(.added)) chains added, \(count(.removed)) removed, \(count(.changed)) changed; "
        out += "\(elementsAdded) elements added, \(elementsRemoved) removed\n"
        return out
    }
}
