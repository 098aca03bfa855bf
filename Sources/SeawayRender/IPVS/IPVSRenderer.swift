import SeawayModel
import SeawayProxyCore

/// Renders a ServiceMap as kube-proxy's IPVS mode (v1.34) programs a node: virtual servers
/// and their real servers, the addresses on `kube-ipvs0`, the ipsets, and the iptables rules
/// that match them (`pkg/proxy/ipvs/proxier.go` `syncProxyRules` and `writeIptablesRules`).
public struct IPVSRenderer: Sendable {
    public init() {}

    public func render(_ map: ServiceMap) -> IPVSRuleset {
        let family = map.family
        let o = map.options
        let scheduler = o.ipvsScheduler.isEmpty ? "rr" : o.ipvsScheduler
        var entries: [IPVSSet: Set<String>] = [:]
        func add(_ set: IPVSSet, _ entry: String) { entries[set, default: []].insert(entry) }
        var virtualServers: [IPVSRuleset.VirtualServer] = []
        var bound: Set<IPAddress> = []
        var lbNoNodeAccess: [(ip: IPAddress, proto: String, port: Int)] = []

        // The node's own addresses: never bound to the dummy device; NodePort servers listen on them.
        let localAddresses = map.options.interfaceAddresses.filter { ip in
            ip.family == family && !ip.isLoopback && !(family == .ipv6 && ip.high >> 54 == 0x3fa)  // not fe80::/10
        }
        var nodePortIPs: [IPAddress] = []
        if map.ports.contains(where: { $0.info.nodePort != 0 }) {
            nodePortIPs = map.nodePortAddresses.matchAll
                ? Array(Set(localAddresses)).sorted()
                : map.nodePortAddresses.nodeIPs(interfaceAddresses: o.interfaceAddresses).filter { !$0.isLoopback }
        }
        let nodeIP = o.primaryIP(family)

        for sp in map.ports {
            let info = sp.info
            let proto = info.proto.lowercased.description
            let serviceName = info.name.description

            // Hairpin: a local endpoint reaching itself through the service (every local
            // endpoint, whatever its condition, as kube-proxy does).
            for ep in sp.allEndpoints where ep.isLocal {
                add(.loopBack, IPSetEntry.ipPortIP(ep.ip, proto, ep.port, ep.ip))
            }

            func virtualServer(_ address: IPAddress, _ port: Int, onlyLocal: Bool) -> IPVSRuleset.VirtualServer {
                // IPVS has no DROP for "Local policy but no local endpoint": it falls back to
                // cluster endpoints (kubernetes PR 97081) so local pods keep working.
                let endpoints = onlyLocal && !sp.endpoints.local.isEmpty ? sp.endpoints.local : sp.endpoints.cluster
                return IPVSRuleset.VirtualServer(
                    address: address, port: port, proto: info.proto, scheduler: scheduler,
                    persistenceTimeout: info.sessionAffinityClientIP ? info.stickyMaxAgeSeconds : nil,
                    sourceHashPort: scheduler == "mh",
                    realServers: endpoints.map { .init(address: $0.ip, port: $0.port, weight: 1) },
                    service: serviceName)
            }

            add(.clusterIP, IPSetEntry.ipPort(info.clusterIP, proto, info.port))
            virtualServers.append(virtualServer(info.clusterIP, info.port, onlyLocal: info.internalPolicyLocal))
            bound.insert(info.clusterIP)

            for ip in info.externalIPs {
                add(info.externalPolicyLocal ? .externalIPLocal : .externalIP, IPSetEntry.ipPort(ip, proto, info.port))
                virtualServers.append(virtualServer(ip, info.port, onlyLocal: info.externalPolicyLocal))
                // Never take over an address another interface already has.
                if !localAddresses.contains(ip) { bound.insert(ip) }
            }

            for ip in info.loadBalancerVIPs {
                let entry = IPSetEntry.ipPort(ip, proto, info.port)
                add(.loadBalancer, entry)
                if info.externalPolicyLocal { add(.loadBalancerLocal, entry) }
                if !info.loadBalancerSourceRanges.isEmpty {
                    add(.loadBalancerFW, entry)
                    var allowFromNode = false
                    for cidr in info.loadBalancerSourceRanges {
                        add(.loadBalancerSourceCIDR, IPSetEntry.ipPortNet(ip, proto, info.port, cidr))
                        if let nodeIP, cidr.contains(nodeIP) { allowFromNode = true }
                    }
                    if allowFromNode {
                        // The VIP is often local too; node-to-VIP traffic then comes from the VIP.
                        add(.loadBalancerSourceIP, IPSetEntry.ipPortIP(ip, proto, info.port, ip))
                    } else {
                        // The node is not in any source range: block its own access (issue 119656).
                        lbNoNodeAccess.append((ip, proto, info.port))
                    }
                }
                virtualServers.append(virtualServer(ip, info.port, onlyLocal: info.externalPolicyLocal))
                if !localAddresses.contains(ip) { bound.insert(ip) }
            }

            if info.nodePort != 0 && !nodePortIPs.isEmpty {
                let (set, localSet): (IPVSSet, IPVSSet)
                switch info.proto {
                case .tcp: (set, localSet) = (.nodePortTCP, .nodePortLocalTCP)
                case .udp: (set, localSet) = (.nodePortUDP, .nodePortLocalUDP)
                case .sctp: (set, localSet) = (.nodePortSCTP, .nodePortLocalSCTP)
                }
                // bitmap:port sets hold the port; SCTP's hash:ip,port set one entry per node IP.
                let portEntries = info.proto == .sctp
                    ? nodePortIPs.map { IPSetEntry.ipPort($0, proto, info.nodePort) } : [String(info.nodePort)]
                for e in portEntries {
                    add(set, e)
                    if info.externalPolicyLocal { add(localSet, e) }
                }
                for ip in nodePortIPs {
                    virtualServers.append(virtualServer(ip, info.nodePort, onlyLocal: info.externalPolicyLocal))
                }
            }

            if info.healthCheckNodePort != 0 {
                add(.healthCheckNodePort, String(info.healthCheckNodePort))
            }
        }
        for ip in bound { add(.ipvsIPs, ip.description) }

        let ipsets = IPVSSet.allCases.map { set in
            IPVSRuleset.IPSet(name: set.name(family), type: set.type, options: set.createOptions(family),
                              entries: (entries[set] ?? []).sorted())
        }
        let iptables = IPVSIPTables(map: map, nonEmpty: Set(entries.keys), lbNoNodeAccess: lbNoNodeAccess).ruleset()
        return IPVSRuleset(family: family, virtualServers: virtualServers, dummyAddresses: bound.sorted(),
                           ipsets: ipsets, iptables: iptables)
    }
}

/// The iptables rules IPVS mode installs around its ipsets (`writeIptablesRules`).
private struct IPVSIPTables {
    let map: ServiceMap
    let nonEmpty: Set<IPVSSet>
    let lbNoNodeAccess: [(ip: IPAddress, proto: String, port: Int)]

    private typealias C = IPVSChain

    /// Sets whose non-emptiness adds one jump rule, in kube-proxy's order
    /// (`ipsetWithIptablesChain`): (set, nat table?, from, to, match, protocol).
    static let setJumps: [(IPVSSet, Bool, String, String, String, String?)] = [
        (.loopBack, true, C.postrouting, "MASQUERADE", "dst,dst,src", nil),
        (.loadBalancer, true, C.services, C.loadBalancer, "dst,dst", nil),
        (.loadBalancerLocal, true, C.loadBalancer, "RETURN", "dst,dst", nil),
        (.nodePortLocalTCP, true, C.nodePort, "RETURN", "dst", "tcp"),
        (.nodePortTCP, true, C.nodePort, C.markMasq, "dst", "tcp"),
        (.nodePortLocalUDP, true, C.nodePort, "RETURN", "dst", "udp"),
        (.nodePortUDP, true, C.nodePort, C.markMasq, "dst", "udp"),
        (.nodePortLocalSCTP, true, C.nodePort, "RETURN", "dst,dst", "sctp"),
        (.nodePortSCTP, true, C.nodePort, C.markMasq, "dst,dst", "sctp"),
        (.loadBalancerFW, false, C.proxyFirewall, C.sourceRangesFirewall, "dst,dst", nil),
        (.loadBalancerSourceCIDR, false, C.sourceRangesFirewall, "RETURN", "dst,dst,src", nil),
        (.loadBalancerSourceIP, false, C.sourceRangesFirewall, "RETURN", "dst,dst,src", nil),
    ]

    func ruleset() -> IPTablesRuleset {
        let family = map.family
        func name(_ s: IPVSSet) -> String { s.name(family) }
        func matchSet(_ s: IPVSSet, _ match: String) -> String {
            "-m comment --comment \"\(s.comment)\" -m set --match-set \(name(s)) \(match)"
        }
        var nat = IPTablesTableBuilder(), filter = IPTablesTableBuilder()
        for c in [C.services, C.postrouting, C.nodePort, C.loadBalancer, C.markMasq] { nat.declare(c) }
        for c in [C.forward, C.nodePort, C.proxyFirewall, C.sourceRangesFirewall, C.ipvsFilter, C.ipvsOutFilter] {
            filter.declare(c)
        }
        let mark = map.options.masqueradeMark

        // Connections to localhost leave the service chain early.
        nat.append(C.services, "-A \(C.services) -s \(family == .ipv4 ? "127.0.0.0/8" : "::1/128") -j RETURN")
        for (set, isNAT, from, to, match, proto) in Self.setJumps where nonEmpty.contains(set) {
            let p = proto.map { " -p \($0)" } ?? ""
            let rule = "-A \(from)\(p) \(matchSet(set, match)) -j \(to)"
            if isNAT { nat.append(from, rule) } else { filter.append(from, rule) }
        }
        if nonEmpty.contains(.clusterIP) {
            let head = "-A \(C.services) \(matchSet(.clusterIP, ""))"
            if map.options.masqueradeAll {
                nat.append(C.services, "\(head)dst,dst -j \(C.markMasq)")
            } else if let notLocal = map.localDetector.ifNotLocal {
                nat.append(C.services, "\(head)dst,dst \(notLocal) -j \(C.markMasq)")
            } else {
                // The dummy device holds every VIP, so node-to-VIP connections pick a VIP as
                // their source: masquerade those.
                nat.append(C.services, "\(head)src,dst -j \(C.markMasq)")
            }
        }
        func externalIPRules(_ head: String) {
            // Traffic from off the machine (not bridged from a pod, not local)...
            nat.append(C.services, "\(head) -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT")
            // ...and to external IPs the node itself owns (e.g. GCE load balancers).
            nat.append(C.services, "\(head) -m addrtype --dst-type LOCAL -j ACCEPT")
        }
        if nonEmpty.contains(.externalIP) {
            let head = "-A \(C.services) \(matchSet(.externalIP, "dst,dst"))"
            nat.append(C.services, "\(head) -j \(C.markMasq)")
            externalIPRules(head)
        }
        if nonEmpty.contains(.externalIPLocal) {
            externalIPRules("-A \(C.services) \(matchSet(.externalIPLocal, "dst,dst"))")
        }
        nat.append(C.services, "-A \(C.services) -m addrtype --dst-type LOCAL -j \(C.nodePort)")
        nat.append(C.loadBalancer, "-A \(C.loadBalancer) -j \(C.markMasq)")
        filter.append(C.sourceRangesFirewall, "-A \(C.sourceRangesFirewall) -j DROP")
        for e in lbNoNodeAccess {
            filter.append(C.ipvsOutFilter, "-A \(C.ipvsOutFilter) -s \(e.ip) -m ipvs --vaddr \(e.ip) --vproto \(e.proto) --vport \(e.port) -j DROP")
        }
        // Accept what IPVS will handle, in case later rules would drop it.
        for set in [IPVSSet.clusterIP, .loadBalancer] where nonEmpty.contains(set) {
            nat.append(C.services, "-A \(C.services) -m set --match-set \(name(set)) dst,dst -j ACCEPT")
        }
        filter.append(C.forward, "-A \(C.forward) -m comment --comment \"kubernetes forwarding rules\" -m mark --mark \(mark)/\(mark) -j ACCEPT")
        filter.append(C.forward, "-A \(C.forward) -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        filter.append(C.nodePort, "-A \(C.nodePort) \(matchSet(.healthCheckNodePort, "dst")) -j ACCEPT")
        // Keep VIPs from exposing the node's own ports (issue 72236).
        for (set, match) in [(IPVSSet.loadBalancer, "dst,dst"), (.clusterIP, "dst,dst"), (.externalIP, "dst,dst"),
                             (.externalIPLocal, "dst,dst"), (.healthCheckNodePort, "dst")] {
            filter.append(C.ipvsFilter, "-A \(C.ipvsFilter) -m set --match-set \(name(set)) \(match) -j RETURN")
        }
        filter.append(C.ipvsFilter, "-A \(C.ipvsFilter) -m conntrack --ctstate NEW -m set --match-set \(name(.ipvsIPs)) dst -j REJECT")
        nat.append(C.postrouting, "-A \(C.postrouting) -m mark ! --mark \(mark)/\(mark) -j RETURN")
        nat.append(C.postrouting, "-A \(C.postrouting) -j MARK --xor-mark \(mark)")
        let randomFully = map.options.iptablesRandomFully ? " --random-fully" : ""
        nat.append(C.postrouting, "-A \(C.postrouting) -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE\(randomFully)")
        nat.append(C.markMasq, "-A \(C.markMasq) -j MARK --or-mark \(mark)")
        return IPTablesRuleset(family: family, filter: filter.table("filter"), nat: nat.table("nat"))
    }
}

/// Chains declared in order, rules appended per chain.
private struct IPTablesTableBuilder {
    private var order: [String] = []
    private var rules: [String: LineBlock] = [:]

    mutating func declare(_ chain: String) {
        if rules[chain] == nil {
            order.append(chain)
            rules[chain] = LineBlock()
        }
    }

    mutating func append(_ chain: String, _ rule: String) {
        declare(chain)
        rules[chain]!.append("\(rule)")
    }

    func table(_ name: String) -> IPTablesRuleset.Table {
        .init(name: name, chains: order.map { IPTablesRuleset.Chain(name: $0, rules: rules[$0]!) })
    }
}
