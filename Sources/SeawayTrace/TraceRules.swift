import SeawayModel
import SeawayProxyCore
import SeawayRender

/// The rules a packet to one service port meets on the node, in the chosen mode: the mode's
/// renderer is run for that service port alone and the path is read out of what it wrote,
/// from the entry point (KUBE-SERVICES, the service-ips map, the virtual server, the
/// redirect map) along every jump and goto, so what is shown is exactly what `render` writes.
enum TraceRules {
    static func path(for port: ProxyServicePort, address: IPAddress, options: ProxyOptions, mode: ProxyMode) -> [Trace.RuleStep] {
        let map = ServiceMap(ports: [port], options: options, family: address.family)
        let proto = port.info.proto.lowercased.description
        switch mode {
        case .iptables:
            return iptables(IPTablesRenderer().render(map), address: address, port: port.info.port, proto: proto)
        case .nftables:
            // The path through kube-proxy's one table: shard tables hold the same chains.
            var oneTable = options
            oneTable.nftablesShards = 1
            let map = ServiceMap(ports: [port], options: oneTable, family: address.family)
            return nftables(NFTablesRenderer().render(map)[0], address: address, port: port.info.port, proto: proto)
        case .ipvs:
            return ipvs(IPVSRenderer().render(map), address: address, port: port.info.port, proto: port.info.proto)
        case .userspace:
            var ports = ProxyPortAllocator(range: options.userspacePortRange)
            guard let ruleset = try? UserspaceRenderer().render(map, allocator: &ports) else { return [] }
            return nftables(ruleset.nftables, address: address, port: port.info.port, proto: proto)
                + ruleset.plan.portals.filter { $0.addresses.contains(address) }.map { p in
                    Trace.RuleStep(location: "userspace proxy listener :\(p.proxyPort)/\(proto)",
                                   lines: ["round robin\(p.affinitySeconds.map { ", ClientIP affinity \($0)s" } ?? "") over "
                                           + p.endpoints.map(\.description).joined(separator: " ")])
                }
        }
    }

    // MARK: iptables

    static func iptables(_ r: IPTablesRuleset, address: IPAddress, port: Int, proto: String) -> [Trace.RuleStep] {
        // kube-proxy writes `-d IP` (iptables-save shows `-d IP/32`).
        let entry = { (rule: String) in rule.contains("-d \(address) ") && rule.contains("-p \(proto) ") && rule.contains("--dport \(port) ") }
        var steps: [Trace.RuleStep] = []
        var queue: [(table: IPTablesRuleset.Table, chain: String)] = []
        for table in [r.nat, r.filter] {
            guard let services = table.chain(named: IPTablesChain.services) else { continue }
            let lines = services.rules.lines.filter(entry)
            guard !lines.isEmpty else { continue }
            let hook = table.name == "nat" ? "PREROUTING and OUTPUT" : "FORWARD and OUTPUT"
            steps.append(Trace.RuleStep(location: "\(table.name) \(hook) -> \(IPTablesChain.services)", lines: lines))
            queue += lines.compactMap(target).map { (table, $0) }
        }
        var seen: Set<String> = []
        while !queue.isEmpty {
            let (table, name) = queue.removeFirst()
            guard name != IPTablesChain.markMasq, seen.insert(name).inserted, let chain = table.chain(named: name) else { continue }
            let lines = chain.rules.lines
            steps.append(Trace.RuleStep(location: "\(table.name) \(name)", lines: lines))
            queue += lines.compactMap(target).map { (table, $0) }
        }
        return steps
    }

    /// The chain a rule jumps to (`-j KUBE-...`).
    private static func target(_ rule: String) -> String? {
        guard let range = rule.range(of: " -j ") else { return nil }
        let name = rule[range.upperBound...].prefix { $0 != " " }
        return name.hasPrefix("KUBE-") ? String(name) : nil
    }

    // MARK: nftables (kube-proxy's table, and the userspace mode's)

    static func nftables(_ r: NFTablesRuleset, address: IPAddress, port: Int, proto: String) -> [Trace.RuleStep] {
        let key = "\(address) . \(proto) . \(port)"
        var steps: [Trace.RuleStep] = []
        var queue: [String] = []
        // Built once: each read of `chains` builds the chain values anew.
        let chains = r.chains
        for container in r.containers {
            let hits = container.elements.filter { $0.hasPrefix(key + " ") }
            guard !hits.isEmpty else { continue }
            // The rule that consults the map comes first.
            let consulting = chains.filter { c in c.rules.contains { $0.contains("@\(container.name)") } }
            let lookups = consulting.flatMap { c in
                // The base chains that lead to it, then the rule itself.
                let from = chains.filter { b in b.base != nil && b.rules.contains { targets($0).contains(c.name) } }.map(\.name)
                return c.rules.filter { $0.contains("@\(container.name)") }
                    .map { "\(c.name)\(from.isEmpty ? "" : " (from \(from.joined(separator: ", ")))"): \($0)" }
            }
            steps.append(Trace.RuleStep(location: "\(r.nftFamily) \(r.table) map \(container.name)",
                                        lines: lookups.map { "consulted by \($0)" } + hits))
            queue += hits.flatMap(targets)
        }
        var seen: Set<String> = []
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard name != NFTablesName.markMasq, seen.insert(name).inserted, let chain = chains.first(where: { $0.name == name }) else { continue }
            steps.append(Trace.RuleStep(location: "\(r.nftFamily) \(r.table) chain \(name)", lines: chain.rules))
            queue += chain.rules.flatMap(targets)
        }
        return steps
    }

    /// Every chain a rule or element goes to (`jump C`, `goto C`, also inside `vmap { }`).
    private static func targets(_ text: String) -> [String] {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "{" || $0 == "}" })
        return zip(words, words.dropFirst()).compactMap { $0 == "goto" || $0 == "jump" ? String($1) : nil }
    }

    // MARK: IPVS

    static func ipvs(_ r: IPVSRuleset, address: IPAddress, port: Int, proto: L4Protocol) -> [Trace.RuleStep] {
        r.virtualServers.filter { $0.address == address && $0.port == port && $0.proto == proto }.map { vs in
            Trace.RuleStep(location: "ipvs virtual server \(vs.serviceArgument)",
                           lines: ["scheduler \(vs.scheduler)" + (vs.persistenceTimeout.map { ", persistence \($0)s" } ?? "")]
                               + vs.realServers.map { "-> \($0.address.joined(port: $0.port)) weight \($0.weight)" })
        }
    }
}
