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

        // Each rule goes to its chain's block: the service port's own chains by slot, endpoint
        // chains by the endpoint's index (no lookups by chain name: this runs per rule).
        let endpoints = sp.endpoints.allReachable
        let endpointBases = endpoints.map { NFTablesName.endpointBase(name, $0) }
        let endpointChains = endpointBases.map { "endpoint-" + $0 }
        var endpointIndex: [String: Int] = [:]
        for (i, ep) in endpoints.enumerated() { endpointIndex[ep.description] = i }
        enum Slot { case cluster, local, external, firewall, endpoint(Int) }
        var serviceRules = [LineBlock](repeating: LineBlock(), count: 4)
        var endpointRules = [LineBlock](repeating: LineBlock(), count: endpoints.count)
        func rule(_ slot: Slot, _ text: RuleLine, comment: String? = nil) {
            let chain: String
            switch slot {
            case .cluster: chain = clusterChain
            case .local: chain = localChain
            case .external: chain = externalChain
            case .firewall: chain = fwChain
            case let .endpoint(i): chain = endpointChains[i]
            }
            let line: RuleLine = comment.map { "add rule \(prefix) \(chain) \(text) comment \"\($0)\"" }
                ?? "add rule \(prefix) \(chain) \(text)"
            switch slot {
            case .cluster: serviceRules[0].append(line)
            case .local: serviceRules[1].append(line)
            case .external: serviceRules[2].append(line)
            case .firewall: serviceRules[3].append(line)
            case let .endpoint(i): endpointRules[i].append(line)
            }
        }
        let internalSlot: Slot = info.internalPolicyLocal ? .local : .cluster
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
                rule(internalSlot, "\(ipX) daddr \(info.clusterIP) jump \(markMasq)")
            } else if let notLocal = s.detector.ifNotLocalNFT {
                rule(internalSlot, "\(ipX) daddr \(info.clusterIP) \(notLocal) jump \(markMasq)")
            }
        }

        if sp.usesExternalTrafficChain {
            if !info.externalPolicyLocal {
                rule(.external, "jump \(markMasq)")
            } else {
                if let local = s.detector.ifLocalNFT {
                    rule(.external, "\(local) goto \(clusterChain)", comment: "short-circuit pod traffic")
                }
                rule(.external, "fib saddr type local jump \(markMasq)", comment: "masquerade local traffic")
                rule(.external, "fib saddr type local goto \(clusterChain)", comment: "short-circuit local traffic")
            }
            if hasExternal { rule(.external, "goto \(externalPolicyChain)") }
        }

        if usesFW {
            var sources = info.loadBalancerSourceRanges.map(\.description)
            if info.sourceRangesAdmitVIPs(nodeIP: s.options.primaryIP(s.family)) {
                sources += info.loadBalancerVIPs.map(\.description)
            }
            rule(.firewall, "\(ipX) saddr != { \(sources.joined(separator: " , ")) } drop")
        }

        if info.sessionAffinityClientIP {
            for epBase in endpointBases {
                affinitySets.append(.init(isMap: false, name: "affinity-" + epBase,
                                          spec: "type \(s.addrType) ; flags dynamic,timeout ; timeout \(info.stickyMaxAgeSeconds)s ;",
                                          elementLines: LineBlock()))
            }
        }

        func writeServiceToEndpointRules(_ svc: Slot, _ targets: [EndpointInfo]) {
            let indexes = targets.map { endpointIndex[$0.description]! }
            if info.sessionAffinityClientIP {
                for i in indexes {
                    rule(svc, "\(ipX) saddr @affinity-\(endpointBases[i]) goto \(endpointChains[i])")
                }
            }
            if s.options.nftablesCompactEndpointSelection {
                // Endpoint n of K is taken with probability 1/(K-n) of what is left: 1/K each.
                for (n, i) in indexes.enumerated() {
                    let left = targets.count - n
                    rule(svc, left == 1 ? "goto \(endpointChains[i])" : "numgen random mod \(left) 0 goto \(endpointChains[i])")
                }
                return
            }
            var vmap: RuleLine = ""
            for (n, i) in indexes.enumerated() {
                if n > 0 { vmap.bytes.appendUTF8(" , ") }
                vmap.bytes.appendDecimal(n)
                vmap.bytes.appendUTF8(" : goto ")
                vmap.bytes.appendUTF8(endpointChains[i])
            }
            rule(svc, "numgen random mod \(targets.count) vmap { \(vmap) }")
        }
        if sp.usesClusterPolicyChain { writeServiceToEndpointRules(.cluster, sp.endpoints.cluster) }
        if sp.usesLocalPolicyChain { writeServiceToEndpointRules(.local, sp.endpoints.local) }

        for (i, ep) in endpoints.enumerated() {
            rule(.endpoint(i), "\(ipX) saddr \(ep.ip) jump \(markMasq)")
            if info.sessionAffinityClientIP { rule(.endpoint(i), "update @affinity-\(endpointBases[i]) { \(ipX) saddr }") }
            rule(.endpoint(i), "meta l4proto \(proto) dnat to \(ep.description)")
        }

        chains = endpointChains.indices.map { .init(name: endpointChains[$0], base: nil, comment: nil, ruleLines: endpointRules[$0]) }
        if sp.usesClusterPolicyChain { chains.append(.init(name: clusterChain, base: nil, comment: nil, ruleLines: serviceRules[0])) }
        if sp.usesLocalPolicyChain { chains.append(.init(name: localChain, base: nil, comment: nil, ruleLines: serviceRules[1])) }
        if sp.usesExternalTrafficChain { chains.append(.init(name: externalChain, base: nil, comment: nil, ruleLines: serviceRules[2])) }
        if usesFW { chains.append(.init(name: fwChain, base: nil, comment: nil, ruleLines: serviceRules[3])) }
        elements = elementOrder.map { ($0, elementBlocks[$0]!, elementKeys[$0]!) }
    }
}
