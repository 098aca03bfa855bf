import SeawayModel
import SeawayProxyCore

/// A base chain: `${type}-${hook}` hooked at a priority. Filtering that must see pre-DNAT
/// addresses runs at dstnat-10; the rest at filter priority (kube-proxy's layout since v1.34).
private let baseChains: [(name: String, type: String, hook: String, priority: Int)] = [
    ("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
    ("filter-output-pre-dnat", "filter", "output", -110),
    ("filter-input", "filter", "input", 0),
    ("filter-forward", "filter", "forward", 0),
    ("filter-output", "filter", "output", 0),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
]

/// Jumps from base chains to kube-proxy's top-level chains, in kube-proxy's order.
private let jumps: [(to: String, from: String, match: String)] = [
    // reject is only valid in input/forward/output hooks on kernels before 5.9, so the
    // endpoint checks hang off those rather than prerouting.
    (NFTablesName.nodePortEndpointsCheck, "filter-input", "ct state new"),
    (NFTablesName.serviceEndpointsCheck, "filter-input", "ct state new"),
    (NFTablesName.serviceEndpointsCheck, "filter-forward", "ct state new"),
    (NFTablesName.serviceEndpointsCheck, "filter-output", "ct state new"),
    (NFTablesName.firewallCheck, "filter-prerouting-pre-dnat", "ct state new"),
    (NFTablesName.firewallCheck, "filter-output-pre-dnat", "ct state new"),
    (NFTablesName.services, "nat-output", ""),
    (NFTablesName.services, "nat-prerouting", ""),
    (NFTablesName.masquerading, "nat-postrouting", ""),
    (NFTablesName.clusterIPsCheck, "filter-forward", "ct state new"),
    (NFTablesName.clusterIPsCheck, "filter-output", "ct state new"),
]

/// The table's fixed part (`setupNFTables`) and what every service port depends on. With
/// `nftablesShards` above 1 (Seaway's own), the services' nat dispatch moves out of
/// kube-proxy's table into that many tables of their own (`kube-proxy-00`, ...), each with
/// the nat hooks, the `services` chain and its two maps; kube-proxy's table keeps the rest.
// A class, not a struct: every service port's render reads it from a closure, and a value
// this size would be copied there (a retain and release per field) once per port.
final class NFTablesSetup: Sendable {
    let family: IPFamily
    let options: ProxyOptions
    let detector: LocalTrafficDetector
    /// `ip kube-proxy` or `ip6 kube-proxy`.
    let prefix: String
    /// `ip` or `ip6`, as rule text.
    let ipX: StaticString
    let addrType: String
    let chains: [NFTablesRuleset.Chain]
    let containers: [NFTablesRuleset.Container]
    /// The shard tables' fixed parts, in table order; empty with one table.
    let shards: [Shard]

    struct Shard: Sendable {
        let table: String
        let prefix: String
        let chains: [NFTablesRuleset.Chain]
        let containers: [NFTablesRuleset.Container]
    }

    /// What the services' nat dispatch needs in a table: kept in kube-proxy's table, or
    /// repeated in each shard table.
    static let dispatchChains: Set<String> = ["nat-prerouting", "nat-output", NFTablesName.services]
    /// (Two names, searched rather than hashed: every service port asks about its few sets.)
    static let dispatchContainers = [NFTablesName.serviceIPs, NFTablesName.serviceNodePorts]

    init(_ map: ServiceMap) {
        family = map.family
        options = map.options
        detector = map.localDetector
        ipX = map.family == .ipv4 ? "ip" : "ip6"
        addrType = map.family == .ipv4 ? "ipv4_addr" : "ipv6_addr"
        prefix = "\(ipX) \(NFTablesName.table)"
        let whole = NFTablesSetup.fixedPart(map, prefix: prefix)
        guard map.options.nftablesShards > 1 else {
            (chains, containers, shards) = (whole.chains, whole.containers, [])
            return
        }
        chains = whole.chains.filter { !NFTablesSetup.dispatchChains.contains($0.name) }
        containers = whole.containers.filter { !NFTablesSetup.dispatchContainers.contains($0.name) }
        let ipX = self.ipX
        shards = (0..<map.options.nftablesShards).map { i in
            let table = NFTablesName.shardTable(i)
            let prefix = "\(ipX) \(table)"
            let part = NFTablesSetup.fixedPart(map, prefix: prefix)
            // The dispatch, and what it reaches besides the services' own chains (the
            // masquerade mark) and what it reads (the NodePort addresses).
            let kept = NFTablesSetup.dispatchChains.union([NFTablesName.markMasq])
            return Shard(table: table, prefix: prefix, chains: part.chains.filter { kept.contains($0.name) },
                         containers: part.containers.filter {
                             NFTablesSetup.dispatchContainers.contains($0.name) || $0.name == NFTablesName.nodePortIPs
                         })
        }
    }

    /// The table at `prefix` a service port's nat chains and dispatch elements go to.
    func dispatchPrefix(of name: ServicePortName) -> String {
        shards.isEmpty ? prefix : shards[NFTablesName.shard(of: name, among: shards.count)].prefix
    }

    /// kube-proxy's fixed chains and sets for the table at `prefix`.
    private static func fixedPart(_ map: ServiceMap, prefix: String)
        -> (chains: [NFTablesRuleset.Chain], containers: [NFTablesRuleset.Container]) {
        let ipX = map.family == .ipv4 ? "ip" : "ip6"
        let addrType = map.family == .ipv4 ? "ipv4_addr" : "ipv6_addr"
        let mark = map.options.masqueradeMark
        let noLocalhost = map.family == .ipv4 ? "ip daddr != 127.0.0.0/8" : "ip6 daddr != ::1"

        var rules: [String: LineBlock] = [:]
        func rule(_ chain: String, _ text: String, comment: String? = nil) {
            let suffix = comment.map { " comment \"\($0)\"" } ?? ""
            rules[chain, default: LineBlock()].append("add rule \(prefix) \(chain) \(text)\(suffix)")
        }
        var elements: [String: LineBlock] = [:]

        for j in jumps { rule(j.from, j.match.isEmpty ? "jump \(j.to)" : "\(j.match) jump \(j.to)") }
        rule(NFTablesName.markMasq, "mark set mark or \(mark)")
        rule(NFTablesName.masquerading, "mark and \(mark) == 0 return")
        rule(NFTablesName.masquerading, "mark set mark xor \(mark)")
        rule(NFTablesName.masquerading, "masquerade fully-random")

        var containerSpecs: [(name: String, isMap: Bool, spec: String)] = [
            (NFTablesName.clusterIPs, false, "type \(addrType) ; comment \"Active ClusterIPs\" ;"),
        ]
        rule(NFTablesName.clusterIPsCheck, "\(ipX) daddr @\(NFTablesName.clusterIPs) reject",
             comment: "Reject traffic to invalid ports of ClusterIPs")
        let serviceCIDRs = map.options.serviceCIDRs.filter { $0.family == map.family }
        if !serviceCIDRs.isEmpty {
            let list = serviceCIDRs.map(\.description).joined(separator: ",")
            rule(NFTablesName.clusterIPsCheck, "\(ipX) daddr { \(list) } drop", comment: "Drop traffic to unallocated ClusterIPs")
        }

        let matchAll = map.nodePortAddresses.matchAll
        if !matchAll {
            containerSpecs.append((NFTablesName.nodePortIPs, false, "type \(addrType) ; comment \"IPs that accept NodePort traffic\" ;"))
            // Localhost NodePorts are not supported in nftables mode.
            for ip in map.nodePortAddresses.nodeIPs(interfaceAddresses: map.options.interfaceAddresses) where !ip.isLoopback {
                elements[NFTablesName.nodePortIPs, default: LineBlock()].append("add element \(prefix) \(NFTablesName.nodePortIPs) { \(ip) }")
            }
        }

        let vmapSpec = "type \(addrType) . inet_proto . inet_service : verdict"
        containerSpecs += [
            (NFTablesName.noEndpointServices, true, "\(vmapSpec) ; comment \"vmap to drop or reject packets to services with no endpoints\" ;"),
            (NFTablesName.noEndpointNodePorts, true, "type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service nodeports with no endpoints\" ;"),
            (NFTablesName.firewallIPs, true, "\(vmapSpec) ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ;"),
            (NFTablesName.serviceIPs, true, "\(vmapSpec) ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ;"),
            (NFTablesName.serviceNodePorts, true, "type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ;"),
        ]
        rule(NFTablesName.rejectChain, "reject")
        rule(NFTablesName.serviceEndpointsCheck, "\(ipX) daddr . meta l4proto . th dport vmap @\(NFTablesName.noEndpointServices)")
        let nodePortMatch = matchAll ? noLocalhost : "\(ipX) daddr @\(NFTablesName.nodePortIPs)"
        rule(NFTablesName.nodePortEndpointsCheck, "\(nodePortMatch) meta l4proto . th dport vmap @\(NFTablesName.noEndpointNodePorts)")
        rule(NFTablesName.firewallCheck, "\(ipX) daddr . meta l4proto . th dport vmap @\(NFTablesName.firewallIPs)")
        rule(NFTablesName.services, "\(ipX) daddr . meta l4proto . th dport vmap @\(NFTablesName.serviceIPs)")
        if matchAll {
            rule(NFTablesName.services, "fib daddr type local \(noLocalhost) meta l4proto . th dport vmap @\(NFTablesName.serviceNodePorts)")
        } else {
            rule(NFTablesName.services, "\(ipX) daddr @\(NFTablesName.nodePortIPs) meta l4proto . th dport vmap @\(NFTablesName.serviceNodePorts)")
        }

        let regular = [NFTablesName.clusterIPsCheck, NFTablesName.firewallCheck, NFTablesName.markMasq,
                       NFTablesName.masquerading, NFTablesName.nodePortEndpointsCheck, NFTablesName.rejectChain,
                       NFTablesName.serviceEndpointsCheck, NFTablesName.services]
        let chains = baseChains.map { bc in
            NFTablesRuleset.Chain(name: bc.name, base: "type \(bc.type) hook \(bc.hook) priority \(bc.priority)",
                                  comment: nil, ruleLines: rules[bc.name] ?? LineBlock())
        } + regular.map { name in
            NFTablesRuleset.Chain(name: name, base: nil,
                                  comment: name == NFTablesName.rejectChain ? "helper for @no-endpoint-services / @no-endpoint-nodeports" : nil,
                                  ruleLines: rules[name] ?? LineBlock())
        }
        let containers = containerSpecs.sorted { $0.name < $1.name }.map { c in
            NFTablesRuleset.Container(isMap: c.isMap, name: c.name, spec: c.spec, elementLines: elements[c.name] ?? LineBlock())
        }
        return (chains, containers)
    }
}
