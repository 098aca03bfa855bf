import SeawayModel
import SeawayProxyCore

/// Renders a ServiceMap as kube-proxy's nftables mode builds its table: the state after a
/// full sync (`setupNFTables` plus every service), which is what `nft list table` shows on a
/// live node and what kube-proxy's own tests compare against. Service ports render
/// independently (in parallel) into fragments that are joined in service order.
public struct NFTablesRenderer: Sendable {
    public init() {}

    public func render(_ map: ServiceMap) -> NFTablesRuleset {
        NFTablesSync(map).ruleset
    }

    static func assemble(_ setup: NFTablesSetup, _ fragments: [NFTablesFragment]) -> NFTablesRuleset {
        var containers = setup.containers
        var index: [String: Int] = [:]
        for (i, c) in containers.enumerated() { index[c.name] = i }
        var chains = setup.chains
        for f in fragments {
            chains.append(contentsOf: f.chains)
            for e in f.elements { containers[index[e.container]!].elementLines.append(e.lines) }
        }
        for f in fragments { containers.append(contentsOf: f.affinitySets) }
        return NFTablesRuleset(family: setup.family, chains: chains, containers: containers)
    }
}

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

/// The table's fixed part (`setupNFTables`) and what every service port depends on.
struct NFTablesSetup: Sendable {
    let family: IPFamily
    let options: ProxyOptions
    let detector: LocalTrafficDetector
    /// `ip kube-proxy` or `ip6 kube-proxy`.
    let prefix: String
    let ipX: String
    let addrType: String
    let chains: [NFTablesRuleset.Chain]
    let containers: [NFTablesRuleset.Container]

    init(_ map: ServiceMap) {
        family = map.family
        options = map.options
        detector = map.localDetector
        ipX = map.family == .ipv4 ? "ip" : "ip6"
        addrType = map.family == .ipv4 ? "ipv4_addr" : "ipv6_addr"
        prefix = "\(ipX) \(NFTablesName.table)"
        let mark = map.options.masqueradeMark
        let noLocalhost = map.family == .ipv4 ? "ip daddr != 127.0.0.0/8" : "ip6 daddr != ::1"
        let prefix = self.prefix
        let ipX = self.ipX

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
        chains = baseChains.map { bc in
            NFTablesRuleset.Chain(name: bc.name, base: "type \(bc.type) hook \(bc.hook) priority \(bc.priority)",
                                  comment: nil, ruleLines: rules[bc.name] ?? LineBlock())
        } + regular.map { name in
            NFTablesRuleset.Chain(name: name, base: nil,
                                  comment: name == NFTablesName.rejectChain ? "helper for @no-endpoint-services / @no-endpoint-nodeports" : nil,
                                  ruleLines: rules[name] ?? LineBlock())
        }
        containers = containerSpecs.sorted { $0.name < $1.name }.map { c in
            NFTablesRuleset.Container(isMap: c.isMap, name: c.name, spec: c.spec, elementLines: elements[c.name] ?? LineBlock())
        }
    }
}

/// What one service port adds to the table: its chains (endpoint chains, then service-,
/// local-, external-, firewall-, in kube-proxy's creation order), affinity sets, and
/// elements of the shared sets and maps.
struct NFTablesFragment: Sendable {
    var chains: [NFTablesRuleset.Chain] = []
    var affinitySets: [NFTablesRuleset.Container] = []
    /// Element lines (and their keys, for deleting them) per shared set/map, in the order written.
    var elements: [(container: String, lines: LineBlock, keys: [String])] = []

    init(_ sp: ProxyServicePort, _ s: NFTablesSetup) {
        let info = sp.info
        let name = info.name
        let nameString = name.description
        let proto = info.proto.lowercased
        let prefix = s.prefix
        let ipX = s.ipX
        let markMasq = NFTablesName.markMasq
        let base = NFTablesName.serviceBase(name)
        let clusterChain = "service-" + base
        let localChain = "local-" + base
        let externalChain = "external-" + base
        let fwChain = "firewall-" + base
        let hasEndpoints = sp.endpoints.hasAnyEndpoints
        let hasInternal = sp.hasInternalEndpoints
        let hasExternal = sp.hasExternalEndpoints
        let internalChain = info.internalPolicyLocal ? localChain : clusterChain
        let externalPolicyChain = info.externalPolicyLocal ? localChain : clusterChain
        // Unlike iptables mode, the firewall chain does not depend on having endpoints.
        let usesFW = !info.loadBalancerVIPs.isEmpty && !info.loadBalancerSourceRanges.isEmpty

        var ruleBlocks: [String: LineBlock] = [:]
        func rule(_ chain: String, _ text: RuleLine, comment: String? = nil) {
            if let comment {
                ruleBlocks[chain, default: LineBlock()].append("add rule \(prefix) \(chain) \(text) comment \"\(comment)\"")
            } else {
                ruleBlocks[chain, default: LineBlock()].append("add rule \(prefix) \(chain) \(text)")
            }
        }
        var elementBlocks: [String: LineBlock] = [:]
        var elementKeys: [String: [String]] = [:]
        var elementOrder: [String] = []
        func element(_ container: String, _ key: RuleLine, _ value: String? = nil, comment: String? = nil) {
            if elementBlocks[container] == nil { elementOrder.append(container) }
            let c: RuleLine = comment.map { " comment \"\($0)\"" } ?? ""
            let v: RuleLine = value.map { " : \($0)" } ?? ""
            elementBlocks[container, default: LineBlock()].append("add element \(prefix) \(container) { \(key)\(c)\(v) }")
            elementKeys[container, default: []].append(String(decoding: key.bytes, as: UTF8.self))
        }

        let endpointBases = sp.endpoints.allReachable.map { NFTablesName.endpointBase(name, $0) }
        var endpointChain: [String: String] = [:]
        for (ep, epBase) in zip(sp.endpoints.allReachable, endpointBases) { endpointChain[ep.description] = "endpoint-" + epBase }

        // What happens to traffic with nowhere to go: reject without any endpoint, drop when
        // a Local policy finds none on this node.
        let noEndpointVerdict = hasEndpoints ? "drop" : "goto \(NFTablesName.rejectChain)"

        let portKey: RuleLine = "\(proto) . \(info.port)"
        element(NFTablesName.clusterIPs, "\(info.clusterIP)")
        if hasInternal {
            element(NFTablesName.serviceIPs, "\(info.clusterIP) . \(portKey)", "goto \(internalChain)")
        } else {
            element(NFTablesName.noEndpointServices, "\(info.clusterIP) . \(portKey)", noEndpointVerdict, comment: nameString)
        }
        for ip in info.externalIPs {
            if hasEndpoints { element(NFTablesName.serviceIPs, "\(ip) . \(portKey)", "goto \(externalChain)") }
            if !hasExternal { element(NFTablesName.noEndpointServices, "\(ip) . \(portKey)", noEndpointVerdict, comment: nameString) }
        }
        for ip in info.loadBalancerVIPs {
            if hasEndpoints { element(NFTablesName.serviceIPs, "\(ip) . \(portKey)", "goto \(externalChain)") }
            if usesFW { element(NFTablesName.firewallIPs, "\(ip) . \(portKey)", "goto \(fwChain)") }
        }
        if !hasExternal {
            for ip in info.loadBalancerVIPs {
                element(NFTablesName.noEndpointServices, "\(ip) . \(portKey)", noEndpointVerdict, comment: nameString)
            }
        }
        if info.nodePort != 0 {
            if hasEndpoints { element(NFTablesName.serviceNodePorts, "\(proto) . \(info.nodePort)", "goto \(externalChain)") }
            if !hasExternal {
                element(NFTablesName.noEndpointNodePorts, "\(proto) . \(info.nodePort)", noEndpointVerdict, comment: nameString)
            }
        }

        if hasInternal {
            // v1.34+ matches the ClusterIP only: any port of it reaches this chain via @service-ips.
            if s.options.masqueradeAll {
                rule(internalChain, "\(ipX) daddr \(info.clusterIP) jump \(markMasq)")
            } else if let notLocal = s.detector.ifNotLocalNFT {
                rule(internalChain, "\(ipX) daddr \(info.clusterIP) \(notLocal) jump \(markMasq)")
            }
        }

        if sp.usesExternalTrafficChain {
            if !info.externalPolicyLocal {
                rule(externalChain, "jump \(markMasq)")
            } else {
                if let local = s.detector.ifLocalNFT {
                    rule(externalChain, "\(local) goto \(clusterChain)", comment: "short-circuit pod traffic")
                }
                rule(externalChain, "fib saddr type local jump \(markMasq)", comment: "masquerade local traffic")
                rule(externalChain, "fib saddr type local goto \(clusterChain)", comment: "short-circuit local traffic")
            }
            if hasExternal { rule(externalChain, "goto \(externalPolicyChain)") }
        }

        if usesFW {
            var sources = info.loadBalancerSourceRanges.map(\.description)
            if let nodeIP = s.options.primaryIP(s.family), info.loadBalancerSourceRanges.contains(where: { $0.contains(nodeIP) }) {
                // A VIP bound locally makes node-to-VIP traffic arrive from the VIP itself.
                sources += info.loadBalancerVIPs.map(\.description)
            }
            rule(fwChain, "\(ipX) saddr != { \(sources.joined(separator: " , ")) } drop")
        }

        if info.sessionAffinityClientIP {
            for epBase in endpointBases {
                affinitySets.append(.init(isMap: false, name: "affinity-" + epBase,
                                          spec: "type \(s.addrType) ; flags dynamic,timeout ; timeout \(info.stickyMaxAgeSeconds)s ;",
                                          elementLines: LineBlock()))
            }
        }

        func writeServiceToEndpointRules(_ svcChain: String, _ endpoints: [EndpointInfo]) {
            if info.sessionAffinityClientIP {
                for ep in endpoints {
                    let chain = endpointChain[ep.description]!
                    rule(svcChain, "\(ipX) saddr @affinity-\(chain.dropFirst("endpoint-".count)) goto \(chain)")
                }
            }
            var vmap: RuleLine = ""
            for (i, ep) in endpoints.enumerated() {
                if i > 0 { vmap.bytes.appendUTF8(" , ") }
                vmap.bytes.appendDecimal(i)
                vmap.bytes.appendUTF8(" : goto ")
                vmap.bytes.appendUTF8(endpointChain[ep.description]!)
            }
            rule(svcChain, "numgen random mod \(endpoints.count) vmap { \(vmap) }")
        }
        if sp.usesClusterPolicyChain { writeServiceToEndpointRules(clusterChain, sp.endpoints.cluster) }
        if sp.usesLocalPolicyChain { writeServiceToEndpointRules(localChain, sp.endpoints.local) }

        for (ep, epBase) in zip(sp.endpoints.allReachable, endpointBases) {
            let chain = "endpoint-" + epBase
            rule(chain, "\(ipX) saddr \(ep.ip) jump \(markMasq)")
            if info.sessionAffinityClientIP { rule(chain, "update @affinity-\(epBase) { \(ipX) saddr }") }
            rule(chain, "meta l4proto \(proto) dnat to \(ep.description)")
        }

        var owned = endpointBases.map { "endpoint-" + $0 }
        if sp.usesClusterPolicyChain { owned.append(clusterChain) }
        if sp.usesLocalPolicyChain { owned.append(localChain) }
        if sp.usesExternalTrafficChain { owned.append(externalChain) }
        if usesFW { owned.append(fwChain) }
        chains = owned.map { .init(name: $0, base: nil, comment: nil, ruleLines: ruleBlocks[$0] ?? LineBlock()) }
        elements = elementOrder.map { ($0, elementBlocks[$0]!, elementKeys[$0]!) }
    }
}
