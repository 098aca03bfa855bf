import SeawayModel
import SeawayProxyCore

/// What every service port's rules depend on, computed once per render.
// A class, not a struct: every service port's render reads it from a closure, and a value
// this size would be copied there (a retain and release per field) once per port.
final class IPTablesSettings: Sendable {
    let family: IPFamily
    let options: ProxyOptions
    let detector: LocalTrafficDetector
    let nodeIP: IPAddress?
    let localhostNodePorts: Bool
    let localhostNodePortsCounted: Bool
    let largeCluster: Bool
    let forwardRules: LineBlock
    let postroutingRules: LineBlock
    let markMasqRules: LineBlock
    let kubeletFirewall: IPTablesRuleset.Chain?
    /// The jump to KUBE-NODEPORTS that must end KUBE-SERVICES.
    let nodePortsJump: LineBlock

    init(_ map: ServiceMap) {
        let o = map.options
        family = map.family
        options = o
        detector = map.localDetector
        nodeIP = o.primaryIP(map.family)
        // kube-proxy disables localhost NodePorts for IPv6, and when nodePortAddresses
        // excludes 127.0.0.1.
        localhostNodePorts = map.family == .ipv4 && o.localhostNodePorts && map.nodePortAddresses.containsIPv4Loopback
        localhostNodePortsCounted = localhostNodePorts && o.nfacctCounters.contains(NFAcctCounter.localhostNodePortAccepted)
        largeCluster = map.largeClusterMode
        let mark = o.masqueradeMark

        var post = LineBlock()
        let p = IPTablesChain.postrouting
        post.append("-A \(p) -m mark ! --mark \(mark)/\(mark) -j RETURN")
        // Clear the mark so a packet that re-traverses the stack is not masqueraded twice.
        post.append("-A \(p) -j MARK --xor-mark \(mark)")
        post.append("-A \(p) -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE\(o.iptablesRandomFully ? " --random-fully" : "")")
        postroutingRules = post

        var masq = LineBlock()
        masq.append("-A \(IPTablesChain.markMasq) -j MARK --or-mark \(mark)")
        markMasqRules = masq

        if localhostNodePorts {
            // route_localnet opens 127.0.0.0/8 to the network (issue 90259); kube-proxy
            // (and kubelet, identically) close it again here.
            var fw = LineBlock()
            let c = IPTablesChain.kubeletFirewall
            fw.append("-A \(c) -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
            kubeletFirewall = .init(name: c, rules: fw)
        } else {
            kubeletFirewall = nil
        }

        var forward = LineBlock()
        let f = IPTablesChain.forward
        if !o.tcpBeLiberal {
            // INVALID packets would otherwise reset connections (issues 74839, 117924).
            let acct = o.nfacctCounters.contains(NFAcctCounter.invalidDropped)
                ? " -m nfacct --nfacct-name \(NFAcctCounter.invalidDropped)" : ""
            forward.append("-A \(f) -m conntrack --ctstate INVALID\(acct) -j DROP")
        }
        forward.append("-A \(f) -m comment --comment \"kubernetes forwarding rules\" -m mark --mark \(mark)/\(mark) -j ACCEPT")
        forward.append("-A \(f) -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        forwardRules = forward

        var jump = LineBlock()
        let s = IPTablesChain.services
        let comment = "-m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\""
        if map.nodePortAddresses.matchAll {
            // Localhost NodePorts never work on IPv6, and on IPv4 only with route_localnet.
            let exclude = map.family == .ipv6 ? " ! -d ::1/128" : (localhostNodePorts ? "" : " ! -d 127.0.0.0/8")
            jump.append("-A \(s) \(comment) -m addrtype --dst-type LOCAL\(exclude) -j \(IPTablesChain.nodePorts)")
        } else {
            for ip in map.nodePortAddresses.nodeIPs(interfaceAddresses: o.interfaceAddresses) {
                if ip.isLoopback && (map.family == .ipv6 || !localhostNodePorts) { continue }
                jump.append("-A \(s) \(comment) -d \(ip) -j \(IPTablesChain.nodePorts)")
            }
        }
        nodePortsJump = jump
    }
}
