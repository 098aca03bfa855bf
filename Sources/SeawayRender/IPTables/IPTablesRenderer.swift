import Foundation
import SeawayModel
import SeawayProxyCore

/// Renders a ServiceMap as kube-proxy's iptables mode (v1.34) writes it with iptables-restore.
///
/// Follows `pkg/proxy/iptables/proxier.go` `syncProxyRules` rule for rule: the same chains,
/// hashes, comments (quoted exactly where kube-proxy quotes them), match order and
/// probabilities. Service ports are visited in sorted order, where kube-proxy walks a Go
/// map, so the output is deterministic.
public struct IPTablesRenderer {
    public init() {}

    public func render(_ map: ServiceMap) -> IPTablesRuleset {
        var state = RenderState(map: map)
        state.writeFixedRules()
        for port in map.ports { state.writeService(port) }
        state.writeTrailingRules()
        return IPTablesRuleset(family: map.family, filter: state.filter.build(), nat: state.nat.build())
    }
}

private struct RenderState {
    let map: ServiceMap
    let mark: String
    let isIPv6: Bool
    let localhostNodePorts: Bool
    let largeCluster: Bool
    var filter = IPTablesTableBuilder(name: "filter")
    var nat = IPTablesTableBuilder(name: "nat")

    init(map: ServiceMap) {
        self.map = map
        mark = map.options.masqueradeMark
        isIPv6 = map.family == .ipv6
        // kube-proxy disables localhost NodePorts for IPv6, and when nodePortAddresses
        // excludes 127.0.0.1.
        localhostNodePorts = map.family == .ipv4 && map.options.localhostNodePorts
            && map.nodePortAddresses.containsIPv4Loopback
        largeCluster = map.largeClusterMode
    }

    mutating func writeFixedRules() {
        for chain in [IPTablesChain.services, IPTablesChain.externalServices, IPTablesChain.forward,
                      IPTablesChain.nodePorts, IPTablesChain.proxyFirewall] {
            filter.declare(chain)
        }
        for chain in [IPTablesChain.services, IPTablesChain.nodePorts, IPTablesChain.postrouting,
                      IPTablesChain.markMasq] {
            nat.declare(chain)
        }
        let post = IPTablesChain.postrouting
        nat.append(post, "-A \(post) -m mark ! --mark \(mark)/\(mark) -j RETURN")
        // Clear the mark so a packet that re-traverses the stack is not masqueraded twice.
        nat.append(post, "-A \(post) -j MARK --xor-mark \(mark)")
        let randomFully = map.options.iptablesRandomFully ? " --random-fully" : ""
        nat.append(post, "-A \(post) -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE\(randomFully)")
        nat.append(IPTablesChain.markMasq, "-A \(IPTablesChain.markMasq) -j MARK --or-mark \(mark)")

        if !isIPv6 && localhostNodePorts {
            // route_localnet opens 127.0.0.0/8 to the network (issue 90259); kube-proxy
            // (and kubelet, identically) close it again here.
            let fw = IPTablesChain.kubeletFirewall
            filter.declare(fw)
            filter.append(fw, "-A \(fw) -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
        }
    }

    mutating func writeService(_ sp: ProxyServicePort) {
        let info = sp.info
        let name = info.name
        let nameString = name.description
        let proto = info.proto.lowercased
        let matchProto = "-m \(proto) -p \(proto)"
        let clusterChain = IPTablesChain.cluster(name)
        let localChain = IPTablesChain.local(name)
        let externalChain = IPTablesChain.external(name)
        let fwChain = IPTablesChain.firewall(name)

        let hasEndpoints = sp.endpoints.hasAnyEndpoints
        let hasInternal = sp.hasInternalEndpoints
        let hasExternal = sp.hasExternalEndpoints
        let internalChain = info.internalPolicyLocal ? localChain : clusterChain
        let externalPolicyChain = info.externalPolicyLocal ? localChain : clusterChain
        let usesFW = hasEndpoints && !info.loadBalancerVIPs.isEmpty && !info.loadBalancerSourceRanges.isEmpty
        let lbChain = usesFW ? fwChain : externalChain

        var internalTarget = "", internalComment = "", externalTarget = "", externalComment = ""
        if !hasEndpoints {
            internalTarget = "REJECT"
            internalComment = "\"\(nameString) has no endpoints\""
            externalTarget = "REJECT"
            externalComment = internalComment
        } else {
            if !hasInternal {
                internalTarget = "DROP"
                internalComment = "\"\(nameString) has no local endpoints\""
            }
            if !hasExternal {
                externalTarget = "DROP"
                externalComment = "\"\(nameString) has no local endpoints\""
            }
        }

        let services = IPTablesChain.services
        let clusterIPMatch = "-m comment --comment \"\(nameString) cluster IP\" \(matchProto) -d \(info.clusterIP) --dport \(info.port)"
        if hasInternal {
            nat.append(services, "-A \(services) \(clusterIPMatch) -j \(internalChain)")
        } else {
            filter.append(services, "-A \(services) -m comment --comment \(internalComment) \(matchProto) -d \(info.clusterIP) --dport \(info.port) -j \(internalTarget)")
        }

        let extServices = IPTablesChain.externalServices
        for ip in info.externalIPs {
            if hasEndpoints {
                nat.append(services, "-A \(services) -m comment --comment \"\(nameString) external IP\" \(matchProto) -d \(ip) --dport \(info.port) -j \(externalChain)")
            }
            if !hasExternal {
                filter.append(extServices, "-A \(extServices) -m comment --comment \(externalComment) \(matchProto) -d \(ip) --dport \(info.port) -j \(externalTarget)")
            }
        }

        for ip in info.loadBalancerVIPs {
            if hasEndpoints {
                nat.append(services, "-A \(services) -m comment --comment \"\(nameString) loadbalancer IP\" \(matchProto) -d \(ip) --dport \(info.port) -j \(lbChain)")
            }
            if usesFW {
                let pfw = IPTablesChain.proxyFirewall
                filter.append(pfw, "-A \(pfw) -m comment --comment \"\(nameString) traffic not accepted by \(fwChain)\" \(matchProto) -d \(ip) --dport \(info.port) -j DROP")
            }
        }
        if !hasExternal {
            for ip in info.loadBalancerVIPs {
                filter.append(extServices, "-A \(extServices) -m comment --comment \(externalComment) \(matchProto) -d \(ip) --dport \(info.port) -j \(externalTarget)")
            }
        }

        let nodePorts = IPTablesChain.nodePorts
        if info.nodePort != 0 {
            if hasEndpoints {
                if localhostNodePorts && map.options.nfacctCounters.contains(NFAcctCounter.localhostNodePortAccepted) {
                    nat.append(nodePorts, "-A \(nodePorts) -m comment --comment \(nameString) \(matchProto) -d 127.0.0.0/8 --dport \(info.nodePort) -m nfacct --nfacct-name \(NFAcctCounter.localhostNodePortAccepted) -j \(externalChain)")
                }
                nat.append(nodePorts, "-A \(nodePorts) -m comment --comment \(nameString) \(matchProto) --dport \(info.nodePort) -j \(externalChain)")
            }
            if !hasExternal {
                filter.append(extServices, "-A \(extServices) -m comment --comment \(externalComment) -m addrtype --dst-type LOCAL \(matchProto) --dport \(info.nodePort) -j \(externalTarget)")
            }
        }

        if info.healthCheckNodePort != 0 {
            // Accepted whether or not this node has local endpoints: the LB probes every node.
            filter.append(nodePorts, "-A \(nodePorts) -m comment --comment \"\(nameString) health check node port\" -m tcp -p tcp --dport \(info.healthCheckNodePort) -j ACCEPT")
        }

        // Internal traffic: masquerade what did not come from a pod (or everything, with
        // masqueradeAll), so replies route back through this node.
        if hasInternal {
            if map.options.masqueradeAll {
                nat.append(internalChain, "-A \(internalChain) \(clusterIPMatch) -j \(IPTablesChain.markMasq)")
            } else if let notLocal = map.localDetector.ifNotLocal {
                nat.append(internalChain, "-A \(internalChain) \(clusterIPMatch) \(notLocal) -j \(IPTablesChain.markMasq)")
            }
        }

        if sp.usesExternalTrafficChain {
            nat.declare(externalChain)
            if !info.externalPolicyLocal {
                nat.append(externalChain, "-A \(externalChain) -m comment --comment \"masquerade traffic for \(nameString) external destinations\" -j \(IPTablesChain.markMasq)")
            } else {
                if let local = map.localDetector.ifLocal {
                    // Pod -> external IP is treated as if it went out to the LB and back in:
                    // neither traffic policy applies.
                    nat.append(externalChain, "-A \(externalChain) -m comment --comment \"pod traffic for \(nameString) external destinations\" \(local) -j \(clusterChain)")
                }
                // The node itself: the LB IP is local, so it becomes the source; masquerade.
                nat.append(externalChain, "-A \(externalChain) -m comment --comment \"masquerade LOCAL traffic for \(nameString) external destinations\" -m addrtype --src-type LOCAL -j \(IPTablesChain.markMasq)")
                nat.append(externalChain, "-A \(externalChain) -m comment --comment \"route LOCAL traffic for \(nameString) external destinations\" -m addrtype --src-type LOCAL -j \(clusterChain)")
            }
            if hasExternal {
                nat.append(externalChain, "-A \(externalChain) -j \(externalPolicyChain)")
            }
        }

        if usesFW {
            nat.declare(fwChain)
            let prefix = "-A \(fwChain) -m comment --comment \"\(nameString) loadbalancer IP\""
            var allowFromNode = false
            let nodeIP = map.options.primaryIP(map.family)
            for cidr in info.loadBalancerSourceRanges {
                nat.append(fwChain, "\(prefix) -s \(cidr) -j \(externalChain)")
                if let nodeIP, cidr.contains(nodeIP) { allowFromNode = true }
            }
            // A VIP bound locally makes node-to-VIP traffic loop back with the VIP as its
            // source; let it through.
            if allowFromNode {
                for ip in info.loadBalancerVIPs {
                    nat.append(fwChain, "\(prefix) -s \(ip) -j \(externalChain)")
                }
            }
            nat.append(fwChain, "-A \(fwChain) -m comment --comment \"other traffic to \(nameString) will be dropped by KUBE-PROXY-FIREWALL\"")
        }

        if sp.usesClusterPolicyChain {
            nat.declare(clusterChain)
            writeServiceToEndpointRules(sp, chain: clusterChain, endpoints: sp.endpoints.cluster)
        }
        if sp.usesLocalPolicyChain {
            nat.declare(localChain)
            writeServiceToEndpointRules(sp, chain: localChain, endpoints: sp.endpoints.local)
        }

        for ep in sp.endpoints.allReachable {
            let chain = IPTablesChain.endpoint(name, ep)
            nat.declare(chain)
            let head = largeCluster ? "-A \(chain)" : "-A \(chain) -m comment --comment \(nameString)"
            // Hairpin: an endpoint reaching itself through the service must be masqueraded.
            nat.append(chain, "\(head) -s \(ep.ip) -j \(IPTablesChain.markMasq)")
            let affinity = info.sessionAffinityClientIP ? " -m recent --name \(chain) --set" : ""
            nat.append(chain, "\(head)\(affinity) \(matchProto) -j DNAT --to-destination \(ep.description)")
        }
    }

    mutating func writeServiceToEndpointRules(_ sp: ProxyServicePort, chain: String, endpoints: [EndpointInfo]) {
        let name = sp.info.name
        func head(_ ep: EndpointInfo) -> String {
            largeCluster ? "-A \(chain)" : "-A \(chain) -m comment --comment \"\(name) -> \(ep.description)\""
        }
        if sp.info.sessionAffinityClientIP {
            for ep in endpoints {
                let epChain = IPTablesChain.endpoint(name, ep)
                nat.append(chain, "\(head(ep)) -m recent --name \(epChain) --rcheck --seconds \(sp.info.stickyMaxAgeSeconds) --reap -j \(epChain)")
            }
        }
        let n = endpoints.count
        for (i, ep) in endpoints.enumerated() {
            let epChain = IPTablesChain.endpoint(name, ep)
            if i < n - 1 {
                nat.append(chain, "\(head(ep)) -m statistic --mode random --probability \(Probability.string(n - i)) -j \(epChain)")
            } else {
                nat.append(chain, "\(head(ep)) -j \(epChain)")
            }
        }
    }

    mutating func writeTrailingRules() {
        let services = IPTablesChain.services
        let comment = "-m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\""
        if map.nodePortAddresses.matchAll {
            var destinations = "-m addrtype --dst-type LOCAL"
            // Localhost NodePorts never work on IPv6, and on IPv4 only with route_localnet.
            if isIPv6 {
                destinations += " ! -d ::1/128"
            } else if !localhostNodePorts {
                destinations += " ! -d 127.0.0.0/8"
            }
            nat.append(services, "-A \(services) \(comment) \(destinations) -j \(IPTablesChain.nodePorts)")
        } else {
            for ip in map.nodePortAddresses.nodeIPs(interfaceAddresses: map.options.interfaceAddresses) {
                if ip.isLoopback && (isIPv6 || !localhostNodePorts) { continue }
                nat.append(services, "-A \(services) \(comment) -d \(ip) -j \(IPTablesChain.nodePorts)")
            }
        }

        let forward = IPTablesChain.forward
        if !map.options.tcpBeLiberal {
            // INVALID packets would otherwise reset connections (issues 74839, 117924).
            let acct = map.options.nfacctCounters.contains(NFAcctCounter.invalidDropped)
                ? " -m nfacct --nfacct-name \(NFAcctCounter.invalidDropped)" : ""
            filter.append(forward, "-A \(forward) -m conntrack --ctstate INVALID\(acct) -j DROP")
        }
        filter.append(forward, "-A \(forward) -m comment --comment \"kubernetes forwarding rules\" -m mark --mark \(mark)/\(mark) -j ACCEPT")
        filter.append(forward, "-A \(forward) -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    }
}

/// `1/n` with ten decimals (`%0.10f`), as kube-proxy writes statistic probabilities.
/// C's printf rounds the exact binary value, as Go's strconv does, so the digits agree.
enum Probability {
    /// kube-proxy precomputes the first thousand too; beyond that we format on demand.
    private static let cache: [String] = (0...1000).map { $0 == 0 ? "<bad value>" : format($0) }

    static func string(_ n: Int) -> String { n < cache.count ? cache[n] : format(n) }

    private static func format(_ n: Int) -> String { String(format: "%0.10f", 1.0 / Double(n)) }
}
