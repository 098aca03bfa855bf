import SeawayModel
import SeawayProxyCore

/// Renders a ServiceMap as kube-proxy's nftables mode (v1.34) builds its table: the state
/// after a full sync (`setupNFTables` plus every service), which is what `nft list table`
/// shows on a live node and what kube-proxy's own tests compare against.
public struct NFTablesRenderer {
    public init() {}

    public func render(_ map: ServiceMap) -> NFTablesRuleset {
        var b = NFTablesBuilder(map: map)
        b.writeSetup()
        for port in map.ports { b.writeService(port) }
        return b.build()
    }
}

/// A base chain: `${type}-${hook}` hooked at a priority (v1.34's layout: filtering that must
/// see pre-DNAT addresses runs at dstnat-10, the rest at filter priority).
private struct BaseChain {
    let name: String, type: String, hook: String, priority: Int
}

private let baseChains = [
    BaseChain(name: "filter-prerouting-pre-dnat", type: "filter", hook: "prerouting", priority: -110),
    BaseChain(name: "filter-output-pre-dnat", type: "filter", hook: "output", priority: -110),
    BaseChain(name: "filter-input", type: "filter", hook: "input", priority: 0),
    BaseChain(name: "filter-forward", type: "filter", hook: "forward", priority: 0),
    BaseChain(name: "filter-output", type: "filter", hook: "output", priority: 0),
    BaseChain(name: "nat-prerouting", type: "nat", hook: "prerouting", priority: -100),
    BaseChain(name: "nat-output", type: "nat", hook: "output", priority: -100),
    BaseChain(name: "nat-postrouting", type: "nat", hook: "postrouting", priority: 100),
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

private struct NFTablesBuilder {
    let map: ServiceMap
    let ipX: String
    let addrType: String
    let mark: String
    var baseOrder: [String] = []
    var chains: [String: NFTablesRuleset.Chain] = [:]
    var containers: [String: NFTablesRuleset.Container] = [:]

    init(map: ServiceMap) {
        self.map = map
        ipX = map.family == .ipv4 ? "ip" : "ip6"
        addrType = map.family == .ipv4 ? "ipv4_addr" : "ipv6_addr"
        mark = map.options.masqueradeMark
    }

    mutating func chain(_ name: String, comment: String? = nil) {
        if chains[name] == nil { chains[name] = .init(name: name, base: nil, comment: comment, rules: []) }
    }

    mutating func rule(_ chainName: String, _ rule: String, comment: String? = nil) {
        chain(chainName)
        chains[chainName]!.rules.append(comment.map { "\(rule) comment \"\($0)\"" } ?? rule)
    }

    mutating func container(_ name: String, isMap: Bool, spec: String) {
        if containers[name] == nil { containers[name] = .init(isMap: isMap, name: name, spec: spec, elements: []) }
    }

    mutating func element(_ container: String, _ key: String, _ value: String? = nil, comment: String? = nil) {
        containers[container]!.elements.append(.init(key: key, value: value, comment: comment))
    }

    mutating func writeSetup() {
        let noLocalhost = map.family == .ipv4 ? "ip daddr != 127.0.0.0/8" : "ip6 daddr != ::1"
        for bc in baseChains {
            chains[bc.name] = .init(name: bc.name, base: "type \(bc.type) hook \(bc.hook) priority \(bc.priority)",
                                    comment: nil, rules: [])
            baseOrder.append(bc.name)
        }
        for j in jumps {
            chain(j.to)
            rule(j.from, j.match.isEmpty ? "jump \(j.to)" : "\(j.match) jump \(j.to)")
        }
        for name in [NFTablesName.services, NFTablesName.clusterIPsCheck, NFTablesName.masquerading, NFTablesName.markMasq] {
            chain(name)
        }
        rule(NFTablesName.markMasq, "mark set mark or \(mark)")
        rule(NFTablesName.masquerading, "mark and \(mark) == 0 return")
        rule(NFTablesName.masquerading, "mark set mark xor \(mark)")
        rule(NFTablesName.masquerading, "masquerade fully-random")

        container(NFTablesName.clusterIPs, isMap: false, spec: "type \(addrType) ; comment \"Active ClusterIPs\" ;")
        rule(NFTablesName.clusterIPsCheck, "\(ipX) daddr @\(NFTablesName.clusterIPs) reject",
             comment: "Reject traffic to invalid ports of ClusterIPs")
        let serviceCIDRs = map.options.serviceCIDRs.filter { $0.family == map.family }
        if !serviceCIDRs.isEmpty {
            let list = serviceCIDRs.map(\.description).joined(separator: ",")
            rule(NFTablesName.clusterIPsCheck, "\(ipX) daddr { \(list) } drop", comment: "Drop traffic to unallocated ClusterIPs")
        }

        let matchAll = map.nodePortAddresses.matchAll
        if !matchAll {
            container(NFTablesName.nodePortIPs, isMap: false, spec: "type \(addrType) ; comment \"IPs that accept NodePort traffic\" ;")
            // Localhost NodePorts are not supported in nftables mode.
            for ip in map.nodePortAddresses.nodeIPs(interfaceAddresses: map.options.interfaceAddresses) where !ip.isLoopback {
                element(NFTablesName.nodePortIPs, ip.description)
            }
        }

        let vmapSpec = "type \(addrType) . inet_proto . inet_service : verdict"
        container(NFTablesName.noEndpointServices, isMap: true,
                  spec: "\(vmapSpec) ; comment \"vmap to drop or reject packets to services with no endpoints\" ;")
        container(NFTablesName.noEndpointNodePorts, isMap: true,
                  spec: "type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service nodeports with no endpoints\" ;")
        chain(NFTablesName.rejectChain, comment: "helper for @no-endpoint-services / @no-endpoint-nodeports")
        rule(NFTablesName.rejectChain, "reject")
        rule(NFTablesName.serviceEndpointsCheck, "\(ipX) daddr . meta l4proto . th dport vmap @\(NFTablesName.noEndpointServices)")
        let nodePortMatch = matchAll ? noLocalhost : "\(ipX) daddr @\(NFTablesName.nodePortIPs)"
        rule(NFTablesName.nodePortEndpointsCheck, "\(nodePortMatch) meta l4proto . th dport vmap @\(NFTablesName.noEndpointNodePorts)")

        container(NFTablesName.firewallIPs, isMap: true,
                  spec: "\(vmapSpec) ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ;")
        rule(NFTablesName.firewallCheck, "\(ipX) daddr . meta l4proto . th dport vmap @\(NFTablesName.firewallIPs)")

        container(NFTablesName.serviceIPs, isMap: true, spec: "\(vmapSpec) ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ;")
        container(NFTablesName.serviceNodePorts, isMap: true, spec: "type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ;")
        rule(NFTablesName.services, "\(ipX) daddr . meta l4proto . th dport vmap @\(NFTablesName.serviceIPs)")
        if matchAll {
            rule(NFTablesName.services, "fib daddr type local \(noLocalhost) meta l4proto . th dport vmap @\(NFTablesName.serviceNodePorts)")
        } else {
            rule(NFTablesName.services, "\(ipX) daddr @\(NFTablesName.nodePortIPs) meta l4proto . th dport vmap @\(NFTablesName.serviceNodePorts)")
        }
    }

    mutating func writeService(_ sp: ProxyServicePort) {
        let info = sp.info
        let name = info.name
        let nameString = name.description
        let proto = info.proto.lowercased
        let clusterChain = NFTablesName.cluster(name)
        let localChain = NFTablesName.local(name)
        let externalChain = NFTablesName.external(name)
        let fwChain = NFTablesName.firewall(name)
        let hasEndpoints = sp.endpoints.hasAnyEndpoints
        let hasInternal = sp.hasInternalEndpoints
        let hasExternal = sp.hasExternalEndpoints
        let internalChain = info.internalPolicyLocal ? localChain : clusterChain
        let externalPolicyChain = info.externalPolicyLocal ? localChain : clusterChain

        for ep in sp.endpoints.allReachable { chain(NFTablesName.endpoint(name, ep)) }
        if sp.usesClusterPolicyChain { chain(clusterChain) }
        if sp.usesLocalPolicyChain { chain(localChain) }
        if sp.usesExternalTrafficChain { chain(externalChain) }

        var internalVerdict = "", externalVerdict = ""
        if !hasEndpoints {
            internalVerdict = "goto \(NFTablesName.rejectChain)"
            externalVerdict = internalVerdict
        } else {
            if !hasInternal { internalVerdict = "drop" }
            if !hasExternal { externalVerdict = "drop" }
        }

        let portKey = "\(proto) . \(info.port)"
        element(NFTablesName.clusterIPs, info.clusterIP.description)
        if hasInternal {
            element(NFTablesName.serviceIPs, "\(info.clusterIP) . \(portKey)", "goto \(internalChain)")
        } else {
            element(NFTablesName.noEndpointServices, "\(info.clusterIP) . \(portKey)", internalVerdict, comment: nameString)
        }
        for ip in info.externalIPs {
            if hasEndpoints {
                element(NFTablesName.serviceIPs, "\(ip) . \(portKey)", "goto \(externalChain)")
            }
            if !hasExternal {
                element(NFTablesName.noEndpointServices, "\(ip) . \(portKey)", externalVerdict, comment: nameString)
            }
        }

        // Unlike iptables mode, the firewall chain does not depend on having endpoints.
        let usesFW = !info.loadBalancerVIPs.isEmpty && !info.loadBalancerSourceRanges.isEmpty
        if usesFW { chain(fwChain) }
        for ip in info.loadBalancerVIPs {
            if hasEndpoints {
                element(NFTablesName.serviceIPs, "\(ip) . \(portKey)", "goto \(externalChain)")
            }
            if usesFW {
                element(NFTablesName.firewallIPs, "\(ip) . \(portKey)", "goto \(fwChain)")
            }
        }
        if !hasExternal {
            for ip in info.loadBalancerVIPs {
                element(NFTablesName.noEndpointServices, "\(ip) . \(portKey)", externalVerdict, comment: nameString)
            }
        }
        if info.nodePort != 0 {
            if hasEndpoints {
                element(NFTablesName.serviceNodePorts, "\(proto) . \(info.nodePort)", "goto \(externalChain)")
            }
            if !hasExternal {
                element(NFTablesName.noEndpointNodePorts, "\(proto) . \(info.nodePort)", externalVerdict, comment: nameString)
            }
        }

        if hasInternal {
            // v1.34 matches the ClusterIP only: any port of it reaches this chain via @service-ips.
            let match = "\(ipX) daddr \(info.clusterIP)"
            if map.options.masqueradeAll {
                rule(internalChain, "\(match) jump \(NFTablesName.markMasq)")
            } else if let notLocal = map.localDetector.ifNotLocalNFT {
                rule(internalChain, "\(match) \(notLocal) jump \(NFTablesName.markMasq)")
            }
        }

        if sp.usesExternalTrafficChain {
            if !info.externalPolicyLocal {
                rule(externalChain, "jump \(NFTablesName.markMasq)")
            } else {
                if let local = map.localDetector.ifLocalNFT {
                    rule(externalChain, "\(local) goto \(clusterChain)", comment: "short-circuit pod traffic")
                }
                rule(externalChain, "fib saddr type local jump \(NFTablesName.markMasq)", comment: "masquerade local traffic")
                rule(externalChain, "fib saddr type local goto \(clusterChain)", comment: "short-circuit local traffic")
            }
            if hasExternal {
                rule(externalChain, "goto \(externalPolicyChain)")
            }
        }

        if usesFW {
            var sources = info.loadBalancerSourceRanges.map(\.description)
            if let nodeIP = map.options.primaryIP(map.family),
               info.loadBalancerSourceRanges.contains(where: { $0.contains(nodeIP) }) {
                sources += info.loadBalancerVIPs.map(\.description)
            }
            rule(fwChain, "\(ipX) saddr != { \(sources.joined(separator: " , ")) } drop")
        }

        if info.sessionAffinityClientIP {
            for ep in sp.endpoints.allReachable {
                container(NFTablesName.affinity(name, ep), isMap: false,
                          spec: "type \(addrType) ; flags dynamic,timeout ; timeout \(info.stickyMaxAgeSeconds)s ;")
            }
        }
        if sp.usesClusterPolicyChain { writeServiceToEndpointRules(sp, chain: clusterChain, endpoints: sp.endpoints.cluster) }
        if sp.usesLocalPolicyChain { writeServiceToEndpointRules(sp, chain: localChain, endpoints: sp.endpoints.local) }

        for ep in sp.endpoints.allReachable {
            let epChain = NFTablesName.endpoint(name, ep)
            rule(epChain, "\(ipX) saddr \(ep.ip) jump \(NFTablesName.markMasq)")
            if info.sessionAffinityClientIP {
                rule(epChain, "update @\(NFTablesName.affinity(name, ep)) { \(ipX) saddr }")
            }
            rule(epChain, "meta l4proto \(proto) dnat to \(ep.description)")
        }
    }

    mutating func writeServiceToEndpointRules(_ sp: ProxyServicePort, chain svcChain: String, endpoints: [EndpointInfo]) {
        let name = sp.info.name
        if sp.info.sessionAffinityClientIP {
            for ep in endpoints {
                rule(svcChain, "\(ipX) saddr @\(NFTablesName.affinity(name, ep)) goto \(NFTablesName.endpoint(name, ep))")
            }
        }
        var vmap = ""
        for (i, ep) in endpoints.enumerated() {
            if i > 0 { vmap += " , " }
            vmap += "\(i) : goto \(NFTablesName.endpoint(name, ep))"
        }
        rule(svcChain, "numgen random mod \(endpoints.count) vmap { \(vmap) }")
    }

    func build() -> NFTablesRuleset {
        let base = Set(baseOrder)
        let others = chains.keys.filter { !base.contains($0) }.sorted()
        return NFTablesRuleset(
            family: map.family,
            chains: (baseOrder + others).map { chains[$0]! },
            containers: containers.keys.sorted().map { containers[$0]! })
    }
}
