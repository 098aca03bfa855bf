/// The rules kube-proxy's iptables mode (v1.34), or its IPVS mode, puts in the built-in
/// chains so traffic reaches its own: `iptablesJumpChains` and, when it creates KUBE-FIREWALL,
/// `iptablesKubeletJumpChains`. kube-proxy ensures each with `EnsureRule(Prepend, ...)`
/// (inserted first in the chain unless present), in this order. They are not part of the
/// restore payload `render` prints; `apply` adds the missing ones.
public enum IPTablesJumps {
    public struct Jump: Sendable, Hashable {
        public var table: String
        /// The built-in chain the rule is in (INPUT, FORWARD, OUTPUT, PREROUTING, POSTROUTING).
        public var chain: String
        /// The rule as iptables-save prints it after `-A <chain> `.
        public var spec: String
    }

    private static func jump(_ table: String, _ chain: String, to target: String, _ comment: String?, newOnly: Bool) -> Jump {
        var spec = newOnly ? "-m conntrack --ctstate NEW " : ""
        if let comment { spec += "-m comment --comment \"\(comment)\" " }
        spec += "-j \(target)"
        return Jump(table: table, chain: chain, spec: spec)
    }

    /// kube-proxy's own jumps (what its cleanup removes).
    public static let proxy: [Jump] = {
        typealias C = IPTablesChain
        return [
            jump("filter", "INPUT", to: C.externalServices, "kubernetes externally-visible service portals", newOnly: true),
            jump("filter", "FORWARD", to: C.externalServices, "kubernetes externally-visible service portals", newOnly: true),
            jump("filter", "INPUT", to: C.nodePorts, "kubernetes health check service ports", newOnly: false),
            jump("filter", "FORWARD", to: C.services, "kubernetes service portals", newOnly: true),
            jump("filter", "OUTPUT", to: C.services, "kubernetes service portals", newOnly: true),
            jump("filter", "FORWARD", to: C.forward, "kubernetes forwarding rules", newOnly: false),
            jump("filter", "INPUT", to: C.proxyFirewall, "kubernetes load balancer firewall", newOnly: true),
            jump("filter", "OUTPUT", to: C.proxyFirewall, "kubernetes load balancer firewall", newOnly: true),
            jump("filter", "FORWARD", to: C.proxyFirewall, "kubernetes load balancer firewall", newOnly: true),
            jump("nat", "OUTPUT", to: C.services, "kubernetes service portals", newOnly: false),
            jump("nat", "PREROUTING", to: C.services, "kubernetes service portals", newOnly: false),
            jump("nat", "POSTROUTING", to: C.postrouting, "kubernetes postrouting rules", newOnly: false),
        ]
    }()

    /// kube-proxy's IPVS mode's jumps (`iptablesJumpChain` in pkg/proxy/ipvs), ensured the
    /// same way, none of them limited to new connections.
    public static let ipvs: [Jump] = {
        typealias C = IPVSChain
        return [
            jump("nat", "OUTPUT", to: C.services, "kubernetes service portals", newOnly: false),
            jump("nat", "PREROUTING", to: C.services, "kubernetes service portals", newOnly: false),
            jump("nat", "POSTROUTING", to: C.postrouting, "kubernetes postrouting rules", newOnly: false),
            jump("filter", "FORWARD", to: C.forward, "kubernetes forwarding rules", newOnly: false),
            jump("filter", "INPUT", to: C.nodePort, "kubernetes health check rules", newOnly: false),
            jump("filter", "INPUT", to: C.proxyFirewall, "kube-proxy firewall rules", newOnly: false),
            jump("filter", "FORWARD", to: C.proxyFirewall, "kube-proxy firewall rules", newOnly: false),
            jump("filter", "INPUT", to: C.ipvsFilter, "kubernetes ipvs access filter", newOnly: false),
            jump("filter", "OUTPUT", to: C.ipvsOutFilter, "kubernetes ipvs access filter", newOnly: false),
        ]
    }()

    /// The kubelet's KUBE-FIREWALL jumps, which kube-proxy also ensures when it makes that
    /// chain (and, as the kubelet shares them, does not remove).
    public static let kubelet: [Jump] = [
        jump("filter", "INPUT", to: IPTablesChain.kubeletFirewall, nil, newOnly: false),
        jump("filter", "OUTPUT", to: IPTablesChain.kubeletFirewall, nil, newOnly: false),
    ]

    /// The jumps a ruleset needs: kube-proxy's for its mode (IPVS mode's rules are the ones
    /// with KUBE-IPVS-FILTER), and the kubelet's when it has KUBE-FIREWALL.
    public static func needed(by ruleset: IPTablesRuleset) -> [Jump] {
        (ruleset.filter.chain(named: IPVSChain.ipvsFilter) == nil ? proxy : ipvs)
            + (ruleset.filter.chain(named: IPTablesChain.kubeletFirewall) == nil ? [] : kubelet)
    }
}
