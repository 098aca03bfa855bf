/// What `iptables-save` printed, read back: per table, its chains and rules in order
/// (counters dropped). Used to apply only what is missing and to verify what was applied.
public struct IPTablesSaved: Sendable, Equatable {
    public struct Table: Sendable, Equatable {
        public var chains: [String] = []
        /// `-A CHAIN ...` lines, in order.
        public var rules: [String] = []

        public func rules(in chain: String) -> [String] {
            let prefix = "-A \(chain) "
            return rules.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }
    }

    public var tables: [String: Table] = [:]

    public init(_ text: String) {
        var current: String? = nil
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("*") {
                current = String(line.dropFirst())
                tables[current!] = Table()
            } else if line == "COMMIT" {
                current = nil
            } else if let t = current, line.hasPrefix(":") {
                let name = line.dropFirst().prefix { $0 != " " }
                tables[t]?.chains.append(String(name))
            } else if let t = current, line.hasPrefix("-A ") {
                tables[t]?.rules.append(line)
            }
        }
    }

    public subscript(table: String) -> Table { tables[table] ?? Table() }
}

/// A full sync of a rendered ruleset onto what the kernel has, as one iptables-restore
/// `--noflush` payload: every rendered chain rewritten; the service chains the kernel has
/// but the render does not (`KUBE-SVC-`, `-SVL-`, `-EXT-`, `-FW-`, `-SEP-`) flushed and
/// deleted, as kube-proxy's full sync does; and each jump from a built-in chain that is
/// missing inserted first in its chain, as kube-proxy's EnsureRule(Prepend) does.
public struct IPTablesApplyPlan: Sendable {
    public var ruleset: IPTablesRuleset
    public var missingJumps: [IPTablesJumps.Jump]

    static let serviceChainPrefixes = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"]

    public init(rendered: IPTablesRuleset, saved: IPTablesSaved) {
        var ruleset = rendered
        for table in ["filter", "nat"] {
            let kept = Set((table == "nat" ? rendered.nat : rendered.filter).chainNames)
            let stale = saved[table].chains.filter { name in
                !kept.contains(name) && IPTablesApplyPlan.serviceChainPrefixes.contains { name.hasPrefix($0) }
            }
            if table == "nat" { ruleset.nat.deletedChains = stale } else { ruleset.filter.deletedChains = stale }
        }
        self.ruleset = ruleset
        missingJumps = IPTablesJumps.needed(by: rendered).filter { jump in
            !saved[jump.table].rules(in: jump.chain).contains(jump.spec)
        }
    }

    /// The payload: the ruleset's, with each table's missing jumps before its COMMIT.
    /// Inserting each at position 1 in list order gives kube-proxy's order.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        let text = ruleset.bytes
        var tableName = ""
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.first == UInt8(ascii: "*") { tableName = String(decoding: line.dropFirst(), as: UTF8.self) }
            if line.elementsEqual("COMMIT".utf8) {
                for jump in missingJumps where jump.table == tableName {
                    out.append(contentsOf: "-I \(jump.chain) 1 \(jump.spec)\n".utf8)
                }
            }
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
        }
        if out.last == UInt8(ascii: "\n") && text.last == UInt8(ascii: "\n") { out.removeLast() }
        return out
    }
}

/// kube-proxy's CleanupLeftovers as one restore payload for what the kernel has: the jumps
/// of its iptables and IPVS modes out of the built-in chains, then their chains (the fixed
/// ones and every service chain), flushed and deleted. KUBE-MARK-MASQ, KUBE-FIREWALL and
/// the KUBE-FIREWALL jumps stay, as kube-proxy leaves them: the kubelet shares them. Empty
/// when there is nothing to remove.
public enum IPTablesCleanupPlan {
    static let fixedChains = [
        "filter": [IPTablesChain.services, IPTablesChain.externalServices, IPTablesChain.forward,
                   IPTablesChain.nodePorts, IPTablesChain.proxyFirewall,
                   IPVSChain.nodePort, IPVSChain.sourceRangesFirewall, IPVSChain.ipvsFilter, IPVSChain.ipvsOutFilter],
        "nat": [IPTablesChain.services, IPTablesChain.nodePorts, IPTablesChain.postrouting,
                IPVSChain.nodePort, IPVSChain.loadBalancer],
    ]

    /// Both modes' jumps, each once: they share the nat ones to KUBE-SERVICES, and a
    /// second `-D` of a rule already deleted fails the whole restore.
    static let jumps: [IPTablesJumps.Jump] = {
        var seen = Set<IPTablesJumps.Jump>()
        return (IPTablesJumps.proxy + IPTablesJumps.ipvs).filter { seen.insert($0).inserted }
    }()

    public static func payload(_ saved: IPTablesSaved) -> [UInt8] {
        var payload = ""
        for table in ["filter", "nat"] {
            let t = saved[table], fixed = fixedChains[table]!
            let chains = t.chains.filter { name in
                fixed.contains(name) || IPTablesApplyPlan.serviceChainPrefixes.contains { name.hasPrefix($0) }
            }
            let jumps = IPTablesCleanupPlan.jumps.filter { $0.table == table && t.rules(in: $0.chain).contains($0.spec) }
            guard !chains.isEmpty || !jumps.isEmpty else { continue }
            payload += "*\(table)\n"
            for name in chains { payload += ":\(name) - [0:0]\n" }
            for jump in jumps { payload += "-D \(jump.chain) \(jump.spec)\n" }
            for name in chains { payload += "-X \(name)\n" }
            payload += "COMMIT\n"
        }
        return Array(payload.utf8)
    }
}
