import Foundation
import SeawayModel
import SeawayProxyCore

/// Renders a ServiceMap as kube-proxy's iptables mode (v1.34) writes it with iptables-restore.
///
/// Follows `pkg/proxy/iptables/proxier.go` `syncProxyRules` rule for rule: the same chains,
/// hashes, comments (quoted exactly where kube-proxy quotes them), match order and
/// probabilities. Each service port renders on its own into a fragment (in parallel); the
/// fragments are then joined in service order, so the output is deterministic where
/// kube-proxy walks a Go map.
public struct IPTablesRenderer: Sendable {
    public init() {}

    public func render(_ map: ServiceMap) -> IPTablesRuleset {
        IPTablesSync(map).ruleset
    }
}

/// The rules one service port contributes: lines for the shared top-level chains and the
/// chains it owns, in the order kube-proxy creates them (EXT, FW, SVC, SVL, SEP...).
struct IPTablesFragment: ServicePortFragment {
    var filterServices = LineBlock()
    var filterExternalServices = LineBlock()
    var filterNodePorts = LineBlock()
    var filterProxyFirewall = LineBlock()
    var natServices = LineBlock()
    var natNodePorts = LineBlock()
    /// The nat chains the port owns.
    var chains: ChainBlock

    static let topLevelCount = 6

    /// The lines for the shared chains: filter KUBE-SERVICES, KUBE-EXTERNAL-SERVICES,
    /// KUBE-NODEPORTS, KUBE-PROXY-FIREWALL, then nat KUBE-SERVICES and KUBE-NODEPORTS.
    var topLevel: [LineBlock] { (0..<Self.topLevelCount).map(topLevel) }

    func topLevel(_ part: Int) -> LineBlock {
        switch part {
        case 0: return filterServices
        case 1: return filterExternalServices
        case 2: return filterNodePorts
        case 3: return filterProxyFirewall
        case 4: return natServices
        default: return natNodePorts
        }
    }

    init(_ sp: ProxyServicePort, _ s: IPTablesSettings) {
        let info = sp.info
        let names = IPTablesChain.ServiceChains(info.name)
        // Per endpoint: its chain's two rules and its rule in the service chain, about 250
        // bytes (400 with the comments small clusters get).
        let endpointCount = sp.endpoints.allReachable.count
        var chains = ChainBlockWriter(rulesStartWith: "-A ", reservingChains: endpointCount + 4, nameBytes: 25 * (endpointCount + 4),
                                      ruleBytes: (s.largeCluster ? 260 : 400) * (endpointCount + 2))
        let name = names.portName
        let proto = info.proto.lowercased
        let matchProto: RuleLine = "-m \(proto) -p \(proto)"
        let markMasq = IPTablesChain.markMasqText

        let hasEndpoints = sp.endpoints.hasAnyEndpoints
        let hasInternal = sp.hasInternalEndpoints
        let hasExternal = sp.hasExternalEndpoints
        let internalChain = info.internalPolicyLocal ? names.local : names.cluster
        let externalPolicyChain = info.externalPolicyLocal ? names.local : names.cluster
        let usesFW = hasEndpoints && !info.loadBalancerVIPs.isEmpty && !info.loadBalancerSourceRanges.isEmpty
        let lbChain = usesFW ? names.firewall : names.external

        // What happens to traffic with nowhere to go: REJECT without any endpoint, DROP when
        // a Local policy finds none on this node.
        let internalFilter: (target: String, comment: String)
        let externalFilter: (target: String, comment: String)
        if !hasEndpoints {
            internalFilter = ("REJECT", "\"\(name) has no endpoints\"")
            externalFilter = internalFilter
        } else {
            internalFilter = ("DROP", "\"\(name) has no local endpoints\"")
            externalFilter = internalFilter
        }

        let services = IPTablesChain.services
        let clusterIPMatch: RuleLine = "-m comment --comment \"\(name) cluster IP\" \(matchProto) -d \(info.clusterIP) --dport \(info.port)"
        if hasInternal {
            natServices.append("-A \(services) \(clusterIPMatch) -j \(internalChain)")
        } else {
            filterServices.append("-A \(services) -m comment --comment \(internalFilter.comment) \(matchProto) -d \(info.clusterIP) --dport \(info.port) -j \(internalFilter.target)")
        }

        let extServices = IPTablesChain.externalServices
        for ip in info.externalIPs {
            if hasEndpoints {
                natServices.append("-A \(services) -m comment --comment \"\(name) external IP\" \(matchProto) -d \(ip) --dport \(info.port) -j \(names.external)")
            }
            if !hasExternal {
                filterExternalServices.append("-A \(extServices) -m comment --comment \(externalFilter.comment) \(matchProto) -d \(ip) --dport \(info.port) -j \(externalFilter.target)")
            }
        }
        for ip in info.loadBalancerVIPs {
            if hasEndpoints {
                natServices.append("-A \(services) -m comment --comment \"\(name) loadbalancer IP\" \(matchProto) -d \(ip) --dport \(info.port) -j \(lbChain)")
            }
            if usesFW {
                filterProxyFirewall.append("-A \(IPTablesChain.proxyFirewall) -m comment --comment \"\(name) traffic not accepted by \(names.firewall)\" \(matchProto) -d \(ip) --dport \(info.port) -j DROP")
            }
        }
        if !hasExternal {
            for ip in info.loadBalancerVIPs {
                filterExternalServices.append("-A \(extServices) -m comment --comment \(externalFilter.comment) \(matchProto) -d \(ip) --dport \(info.port) -j \(externalFilter.target)")
            }
        }

        let nodePorts = IPTablesChain.nodePorts
        if info.nodePort != 0 {
            if hasEndpoints {
                if s.localhostNodePortsCounted {
                    natNodePorts.append("-A \(nodePorts) -m comment --comment \(name) \(matchProto) -d 127.0.0.0/8 --dport \(info.nodePort) -m nfacct --nfacct-name \(NFAcctCounter.localhostNodePortAccepted) -j \(names.external)")
                }
                natNodePorts.append("-A \(nodePorts) -m comment --comment \(name) \(matchProto) --dport \(info.nodePort) -j \(names.external)")
            }
            if !hasExternal {
                filterExternalServices.append("-A \(extServices) -m comment --comment \(externalFilter.comment) -m addrtype --dst-type LOCAL \(matchProto) --dport \(info.nodePort) -j \(externalFilter.target)")
            }
        }
        if info.healthCheckNodePort != 0 {
            // Accepted whether or not this node has local endpoints: the LB probes every node.
            filterNodePorts.append("-A \(nodePorts) -m comment --comment \"\(name) health check node port\" -m tcp -p tcp --dport \(info.healthCheckNodePort) -j ACCEPT")
        }

        // Internal traffic: masquerade what did not come from a pod (everything, with
        // masqueradeAll), so replies come back through this node.
        var internalRules = LineBlock()
        if hasInternal {
            if s.options.masqueradeAll {
                internalRules.append("-A \(internalChain) \(clusterIPMatch) -j \(markMasq)")
            } else if let notLocal = s.detector.ifNotLocal {
                internalRules.append("-A \(internalChain) \(clusterIPMatch) \(notLocal) -j \(markMasq)")
            }
        }

        if sp.usesExternalTrafficChain {
            let ext = names.external
            var rules = LineBlock()
            if !info.externalPolicyLocal {
                rules.append("-A \(ext) -m comment --comment \"masquerade traffic for \(name) external destinations\" -j \(markMasq)")
            } else {
                if let local = s.detector.ifLocal {
                    // Pod -> external IP is treated as if it went out to the LB and back in:
                    // neither traffic policy applies.
                    rules.append("-A \(ext) -m comment --comment \"pod traffic for \(name) external destinations\" \(local) -j \(names.cluster)")
                }
                // The node itself: the LB IP is local, so it becomes the source; masquerade.
                rules.append("-A \(ext) -m comment --comment \"masquerade LOCAL traffic for \(name) external destinations\" -m addrtype --src-type LOCAL -j \(markMasq)")
                rules.append("-A \(ext) -m comment --comment \"route LOCAL traffic for \(name) external destinations\" -m addrtype --src-type LOCAL -j \(names.cluster)")
            }
            if hasExternal {
                rules.append("-A \(ext) -j \(externalPolicyChain)")
            }
            chains.startChain(ext)
            chains.append(rules)
        }

        if usesFW {
            let fw = names.firewall
            chains.startChain(fw)
            let head: RuleLine = "-A \(fw) -m comment --comment \"\(name) loadbalancer IP\""
            for cidr in info.loadBalancerSourceRanges {
                chains.append("\(head) -s \(cidr) -j \(names.external)")
            }
            if info.sourceRangesAdmitVIPs(nodeIP: s.nodeIP) {
                for ip in info.loadBalancerVIPs { chains.append("\(head) -s \(ip) -j \(names.external)") }
            }
            chains.append("-A \(fw) -m comment --comment \"other traffic to \(name) will be dropped by KUBE-PROXY-FIREWALL\"")
        }

        // Endpoint chain names are needed by the policy chains and the endpoint chains alike.
        let reachable = sp.endpoints.allReachable
        let endpointChains = EndpointChainNames(reachable, names)

        if sp.usesClusterPolicyChain {
            chains.startChain(names.cluster)
            if !info.internalPolicyLocal { chains.append(internalRules) }
            writeServiceToEndpointRules(&chains, sp, names.cluster, sp.endpoints.cluster,
                                        reachable.indexes(of: sp.endpoints.cluster), endpointChains, s.largeCluster)
        }
        if sp.usesLocalPolicyChain {
            chains.startChain(names.local)
            if info.internalPolicyLocal { chains.append(internalRules) }
            writeServiceToEndpointRules(&chains, sp, names.local, sp.endpoints.local,
                                        reachable.indexes(of: sp.endpoints.local), endpointChains, s.largeCluster)
        }

        for (i, ep) in reachable.enumerated() {
            let chain = endpointChains[i]
            chains.startChain(bytes: chain)
            // Large clusters drop these comments: 40% less text for iptables-restore. Their
            // rules start `-A CHAIN`, as the writer starts a rule.
            let head: RuleLine? = s.largeCluster ? nil : "-A \(chain) -m comment --comment \(name)"
            // Hairpin: an endpoint reaching itself through the service must be masqueraded.
            chains.rule(head: head, "-s \(ep.ip) -j \(markMasq)")
            if info.sessionAffinityClientIP {
                chains.rule(head: head, "-m recent --name \(chain) --set \(matchProto) -j DNAT --to-destination \(ep.ip, port: ep.port)")
            } else {
                chains.rule(head: head, "\(matchProto) -j DNAT --to-destination \(ep.ip, port: ep.port)")
            }
        }
        self.chains = chains.finish()
    }
}

/// Session-affinity checks, then one rule per endpoint with probability 1/(n-i), into the
/// chain started last. `indexes` place `endpoints` among the names in `endpointChains`.
private func writeServiceToEndpointRules(_ rules: inout ChainBlockWriter, _ sp: ProxyServicePort, _ chain: RuleLine,
                                         _ endpoints: [EndpointInfo], _ indexes: [Int],
                                         _ endpointChains: EndpointChainNames, _ largeCluster: Bool) {
    // Without comments (large clusters) every rule starts `-A CHAIN`, as the writer starts
    // a rule; with them, each names its endpoint.
    let name = largeCluster ? "" : sp.info.name.description
    func head(_ ep: EndpointInfo) -> RuleLine? {
        largeCluster ? nil : "-A \(chain) -m comment --comment \"\(name) -> \(ep.ip, port: ep.port)\""
    }
    if sp.info.sessionAffinityClientIP {
        for (ep, i) in zip(endpoints, indexes) {
            let epChain = endpointChains[i]
            rules.rule(head: head(ep), "-m recent --name \(epChain) --rcheck --seconds \(sp.info.stickyMaxAgeSeconds) --reap -j \(epChain)")
        }
    }
    let n = endpoints.count
    for (k, (ep, i)) in zip(endpoints, indexes).enumerated() {
        if k < n - 1 {
            rules.rule(head: head(ep), "-m statistic --mode random --probability \(probabilityOneIn: n - k) -j \(endpointChains[i])")
        } else {
            rules.rule(head: head(ep), "-j \(endpointChains[i])")
        }
    }
}

/// `1/n` with ten decimals (`%0.10f`), as kube-proxy writes statistic probabilities.
/// C's printf rounds the exact binary value, as Go's strconv does, so the digits agree.
enum Probability {
    /// Every text of `1/n` is this long (`0.3333333333`, `1.0000000000`).
    static let width = 12
    static let cached = 1...1000

    /// kube-proxy precomputes the first thousand too; beyond that we format on demand.
    /// Kept where it is never freed, so both cores read it with no reference counting (a
    /// shared array of strings had its counts contended between them). Written once, by the
    /// lazy initializer, and only read after.
    nonisolated(unsafe) private static let table: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: (cached.upperBound + 1) * width)
        for n in cached {
            var text = format(n)
            text.withUTF8 { (table + n * width).update(from: $0.baseAddress!, count: width) }
        }
        return UnsafePointer(table)
    }()

    /// Calls `body` with the text of `1/n` (n > 0).
    static func withText<R>(_ n: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if cached.contains(n) { return body(UnsafeBufferPointer(start: table + n * width, count: width)) }
        var text = format(n)
        return text.withUTF8(body)
    }

    static func format(_ n: Int) -> String { String(format: "%0.10f", 1.0 / Double(n)) }
}

extension RuleLine.Interpolation {
    /// `1/n` as kube-proxy writes a statistic probability (see `Probability`).
    mutating func appendInterpolation(probabilityOneIn n: Int) {
        Probability.withText(n) { line.append($0) }
    }
}

/// KUBE-SEP chain names of a service port's reachable endpoints, hashed once each and kept
/// back to back in one buffer (they all have the same length).
private struct EndpointChainNames {
    private let bytes: [UInt8]

    init(_ endpoints: [EndpointInfo], _ names: IPTablesChain.ServiceChains) {
        let length = IPTablesChain.ServiceChains.endpointNameLength
        bytes = [UInt8](unsafeUninitializedCapacity: endpoints.count * length) { out, initialized in
            for (i, ep) in endpoints.enumerated() {
                names.writeEndpoint(ep, into: UnsafeMutableBufferPointer(rebasing: out[(i * length)...]))
            }
            initialized = endpoints.count * length
        }
    }

    subscript(i: Int) -> ArraySlice<UInt8> {
        let length = IPTablesChain.ServiceChains.endpointNameLength
        return bytes[(i * length)..<((i + 1) * length)]
    }
}
