import SeawayModel
import SeawayProxyCore

/// The userspace mode's kernel side: table `seaway-userspace` (kube-proxy's userspace mode
/// wrote KUBE-PORTALS-* iptables chains; Seaway writes nftables, beside and apart from the
/// kube-proxy table). Service destinations are redirected to the proxy's listeners through
/// two data maps, so adding or removing a service changes elements only; destinations with
/// no endpoint are rejected (or dropped) in the filter hooks, as kube-proxy's nftables mode
/// does, instead of being accepted and closed by the proxy. Pure.
public struct UserspaceRenderer: Sendable {
    public static let table = "seaway-userspace"

    public init() {}

    public func render(_ map: ServiceMap, allocator: inout ProxyPortAllocator) throws(ProxyPortAllocator.Exhausted) -> UserspaceRuleset {
        let plan = try UserspacePlan(map, allocator: &allocator)
        return UserspaceRuleset(plan: plan, nftables: rules(plan))
    }

    func rules(_ plan: UserspacePlan) -> NFTablesRuleset {
        let ipX = plan.family == .ipv4 ? "ip" : "ip6"
        let addrType = plan.family == .ipv4 ? "ipv4_addr" : "ipv6_addr"
        let prefix = "\(ipX) \(Self.table)"
        var rules: [String: LineBlock] = [:]
        func rule(_ chain: String, _ text: String) {
            rules[chain, default: LineBlock()].append("add rule \(prefix) \(chain) \(text)")
        }
        var elements: [String: LineBlock] = [:]
        func element(_ container: String, _ text: RuleLine) {
            elements[container, default: LineBlock()].append("add element \(prefix) \(container) { \(text) }")
        }

        for hook in ["nat-prerouting", "nat-output"] { rule(hook, "jump portals") }
        for hook in ["filter-input", "filter-forward", "filter-output"] { rule(hook, "ct state new jump refused") }
        // Source ranges are checked before the redirect rewrites the destination.
        for hook in ["filter-prerouting-pre-dnat", "filter-output-pre-dnat"] { rule(hook, "ct state new jump firewall-check") }
        // With --nodeport-addresses only the matching node IPs take NodePort traffic.
        let nodePortMatch = plan.nodePortIPs == nil ? "fib daddr type local" : "\(ipX) daddr @nodeport-ips"
        // A redirect needs its protocol matched first; the maps' keys carry it too.
        for proto in ["tcp", "udp"] {
            rule("portals", "meta l4proto \(proto) redirect to : \(ipX) daddr . meta l4proto . th dport map @portal-ips")
        }
        for proto in ["tcp", "udp"] {
            rule("portals", "\(nodePortMatch) meta l4proto \(proto) redirect to : meta l4proto . th dport map @portal-nodeports")
        }
        rule("refused", "\(ipX) daddr . meta l4proto . th dport vmap @no-endpoint-services")
        rule("refused", "\(nodePortMatch) meta l4proto . th dport vmap @no-endpoint-nodeports")
        rule("reject-chain", "reject")
        rule("firewall-check", "\(ipX) daddr . meta l4proto . th dport vmap @firewall-ips")

        var firewallChains: [String] = []
        for f in plan.firewalls {
            let chain = NFTablesName.firewall(f.name)
            firewallChains.append(chain)
            let sources = f.sourceRanges.map(\.description) + (f.admitsVIPs ? f.vips.map(\.description) : [])
            rule(chain, "\(ipX) saddr != { \(sources.joined(separator: " , ")) } drop")
            for vip in f.vips {
                element("firewall-ips", "\(vip) . \(f.proto.lowercased) . \(f.port) comment \"\(f.name.description)\" : goto \(chain)")
            }
        }
        for ip in plan.nodePortIPs ?? [] {
            elements["nodeport-ips", default: LineBlock()].append("add element \(prefix) nodeport-ips { \(ip) }")
        }

        for p in plan.portals {
            let proto = p.proto.lowercased
            for address in p.addresses {
                element("portal-ips", "\(address) . \(proto) . \(p.servicePort) comment \"\(p.name.description)\" : \(p.proxyPort)")
            }
            if p.nodePort != 0 {
                element("portal-nodeports", "\(proto) . \(p.nodePort) comment \"\(p.name.description)\" : \(p.proxyPort)")
            }
        }
        for r in plan.refused {
            let verdict = r.verdict == .reject ? "goto reject-chain" : "drop"
            if let address = r.address {
                element("no-endpoint-services", "\(address) . \(r.proto.lowercased) . \(r.port) comment \"\(r.name.description)\" : \(verdict)")
            } else {
                element("no-endpoint-nodeports", "\(r.proto.lowercased) . \(r.port) comment \"\(r.name.description)\" : \(verdict)")
            }
        }

        let base: [(String, String)] = [
            ("filter-prerouting-pre-dnat", "type filter hook prerouting priority -110"),
            ("filter-output-pre-dnat", "type filter hook output priority -110"),
            ("filter-input", "type filter hook input priority 0"),
            ("filter-forward", "type filter hook forward priority 0"),
            ("filter-output", "type filter hook output priority 0"),
            ("nat-prerouting", "type nat hook prerouting priority -100"),
            ("nat-output", "type nat hook output priority -100"),
        ]
        let chains = base.map { NFTablesRuleset.Chain(name: $0.0, base: $0.1, comment: nil, ruleLines: rules[$0.0] ?? LineBlock()) }
            + (["firewall-check", "portals", "refused", "reject-chain"] + firewallChains).map {
                NFTablesRuleset.Chain(name: $0, base: nil, comment: nil, ruleLines: rules[$0] ?? LineBlock())
            }
        var containers: [(isMap: Bool, name: String, spec: String)] = [
            (true, "firewall-ips", "type \(addrType) . inet_proto . inet_service : verdict ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ;"),
            (true, "no-endpoint-nodeports", "type inet_proto . inet_service : verdict ; comment \"NodePorts with no endpoints\" ;"),
            (true, "no-endpoint-services", "type \(addrType) . inet_proto . inet_service : verdict ; comment \"Service IPs with no endpoints\" ;"),
            (true, "portal-ips", "type \(addrType) . inet_proto . inet_service : inet_service ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic: the proxy's listener ports\" ;"),
            (true, "portal-nodeports", "type inet_proto . inet_service : inet_service ; comment \"NodePort traffic: the proxy's listener ports\" ;"),
        ]
        if plan.nodePortIPs != nil {
            containers.insert((false, "nodeport-ips", "type \(addrType) ; comment \"IPs that accept NodePort traffic\" ;"), at: 3)
        }
        var ruleset = NFTablesRuleset(family: plan.family, chains: chains, containers: containers.map {
            NFTablesRuleset.Container(isMap: $0.isMap, name: $0.name, spec: $0.spec, elementLines: elements[$0.name] ?? LineBlock())
        })
        ruleset.table = Self.table
        ruleset.tableComment = "rules for seaway's userspace proxy"
        return ruleset
    }
}

/// One family's userspace mode: the proxy's listeners and the table that sends traffic to them.
public struct UserspaceRuleset: Sendable, Hashable {
    public var plan: UserspacePlan
    public var nftables: NFTablesRuleset

    public var family: IPFamily { plan.family }

    /// `nft -f` input, headed by `#` lines listing the listeners the proxy opens.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.appendUTF8("# seaway userspace proxy (\(family.rawValue)): \(plan.portals.count) listeners\n")
        for p in plan.portals {
            var line: RuleLine = "# :\(p.proxyPort)/\(p.proto.lowercased) \(p.name.description)\(p.externalOnly ? " (external traffic)" : "")"
            for address in p.addresses { line = "\(line) \(address.joined(port: p.servicePort))" }
            if p.nodePort != 0 { line = "\(line) nodePort \(p.nodePort)" }
            if let affinity = p.affinitySeconds { line = "\(line) affinity \(affinity)s" }
            line = "\(line) ->"
            for e in p.endpoints { line = "\(line) \(e.description)" }
            out.append(contentsOf: line.bytes)
            out.append(UInt8(ascii: "\n"))
        }
        for name in plan.unsupported {
            out.appendUTF8("# \(name.description)/sctp: not proxied (the userspace mode carries TCP and UDP)\n")
        }
        out.append(contentsOf: nftables.bytes)
        return out
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

extension UserspaceRuleset {
    /// The `nft -f` transaction that moves the kernel from `old` (what the last sync wrote)
    /// to this: only map elements change between syncs (the chains are fixed), so that is
    /// all it sends, deletions first; empty when nothing changed. Without `old`, the table
    /// is replaced whole.
    public func transaction(from old: UserspaceRuleset?) -> [UInt8] {
        let prefix = "\(nftables.nftFamily) \(nftables.table)"
        guard let old, old.nftables.chains == nftables.chains,
              old.nftables.containers.map(\.name) == nftables.containers.map(\.name) else {
            var out = Array("add table \(prefix)\ndelete table \(prefix)\n".utf8)
            out += bytes
            return out
        }
        var deletions: [UInt8] = [], additions: [UInt8] = []
        for (was, now) in zip(old.nftables.containers, nftables.containers) {
            let before = Set(was.elements), after = Set(now.elements)
            for e in was.elements where !after.contains(e) {
                deletions.appendUTF8("delete element \(prefix) \(was.name) { \(Self.key(e)) }\n")
            }
            for e in now.elements where !before.contains(e) {
                additions.appendUTF8("add element \(prefix) \(now.name) { \(e) }\n")
            }
        }
        return deletions + additions
    }

    /// An element's key: what precedes its comment or its value.
    static func key(_ element: String) -> Substring {
        let end = element.range(of: " comment ")?.lowerBound ?? element.range(of: " : ")?.lowerBound ?? element.endIndex
        return element[..<end]
    }
}
