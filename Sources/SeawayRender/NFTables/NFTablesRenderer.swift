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
