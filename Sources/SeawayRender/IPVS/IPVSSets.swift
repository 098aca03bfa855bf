import SeawayModel

/// The iptables chains kube-proxy's IPVS mode makes (`iptablesChains` in pkg/proxy/ipvs).
public enum IPVSChain {
    public static let services = "KUBE-SERVICES", postrouting = "KUBE-POSTROUTING", nodePort = "KUBE-NODE-PORT"
    public static let loadBalancer = "KUBE-LOAD-BALANCER", markMasq = "KUBE-MARK-MASQ", forward = "KUBE-FORWARD"
    public static let proxyFirewall = "KUBE-PROXY-FIREWALL", sourceRangesFirewall = "KUBE-SOURCE-RANGES-FIREWALL"
    public static let ipvsFilter = "KUBE-IPVS-FILTER", ipvsOutFilter = "KUBE-IPVS-OUT-FILTER"
}

/// The ipsets kube-proxy's IPVS mode maintains, with its names, types and the comments its
/// iptables rules carry.
public enum IPVSSet: String, CaseIterable, Sendable {
    case loopBack = "KUBE-LOOP-BACK"
    case clusterIP = "KUBE-CLUSTER-IP"
    case externalIP = "KUBE-EXTERNAL-IP"
    case externalIPLocal = "KUBE-EXTERNAL-IP-LOCAL"
    case loadBalancer = "KUBE-LOAD-BALANCER"
    case loadBalancerFW = "KUBE-LOAD-BALANCER-FW"
    case loadBalancerLocal = "KUBE-LOAD-BALANCER-LOCAL"
    case loadBalancerSourceIP = "KUBE-LOAD-BALANCER-SOURCE-IP"
    case loadBalancerSourceCIDR = "KUBE-LOAD-BALANCER-SOURCE-CIDR"
    case nodePortTCP = "KUBE-NODE-PORT-TCP"
    case nodePortLocalTCP = "KUBE-NODE-PORT-LOCAL-TCP"
    case nodePortUDP = "KUBE-NODE-PORT-UDP"
    case nodePortLocalUDP = "KUBE-NODE-PORT-LOCAL-UDP"
    case nodePortSCTP = "KUBE-NODE-PORT-SCTP-HASH"
    case nodePortLocalSCTP = "KUBE-NODE-PORT-LOCAL-SCTP-HASH"
    case healthCheckNodePort = "KUBE-HEALTH-CHECK-NODE-PORT"
    case ipvsIPs = "KUBE-IPVS-IPS"

    /// The ipset type (`ipset create NAME TYPE`).
    public var type: String {
        switch self {
        case .loopBack, .loadBalancerSourceIP: return "hash:ip,port,ip"
        case .loadBalancerSourceCIDR: return "hash:ip,port,net"
        case .nodePortTCP, .nodePortLocalTCP, .nodePortUDP, .nodePortLocalUDP, .healthCheckNodePort: return "bitmap:port"
        case .ipvsIPs: return "hash:ip"
        default: return "hash:ip,port"
        }
    }

    public var comment: String {
        switch self {
        case .loopBack: return "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"
        case .clusterIP: return "Kubernetes service cluster ip + port for masquerade purpose"
        case .externalIP: return "Kubernetes service external ip + port for masquerade and filter purpose"
        case .externalIPLocal: return "Kubernetes service external ip + port with externalTrafficPolicy=local"
        case .loadBalancer: return "Kubernetes service lb portal"
        case .loadBalancerFW: return "Kubernetes service load balancer ip + port for load balancer with sourceRange"
        case .loadBalancerLocal: return "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"
        case .loadBalancerSourceIP: return "Kubernetes service load balancer ip + port + source IP for packet filter purpose"
        case .loadBalancerSourceCIDR: return "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"
        case .nodePortTCP: return "Kubernetes nodeport TCP port for masquerade purpose"
        case .nodePortLocalTCP: return "Kubernetes nodeport TCP port with externalTrafficPolicy=local"
        case .nodePortUDP: return "Kubernetes nodeport UDP port for masquerade purpose"
        case .nodePortLocalUDP: return "Kubernetes nodeport UDP port with externalTrafficPolicy=local"
        case .nodePortSCTP: return "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"
        case .nodePortLocalSCTP: return "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"
        case .healthCheckNodePort: return "Kubernetes health check node port"
        case .ipvsIPs: return "Addresses on the ipvs interface"
        }
    }

    /// The set's name for a family: IPv6 sets are `KUBE-6-...`, cut to ipset's 31 characters.
    public func name(_ family: IPFamily) -> String {
        guard family == .ipv6 else { return rawValue }
        return String(("KUBE-6-" + rawValue.dropFirst("KUBE-".count)).prefix(31))
    }

    /// `ipset create` options after the type, as kube-proxy's ipset runner passes them.
    func createOptions(_ family: IPFamily) -> String {
        type == "bitmap:port" ? "range 0-65535" : "family \(family == .ipv4 ? "inet" : "inet6") hashsize 1024 maxelem 65536"
    }
}

/// Entry text as kube-proxy's ipset `Entry.String()` writes it.
enum IPSetEntry {
    /// `ip,proto:port`
    static func ipPort(_ ip: IPAddress, _ proto: String, _ port: Int) -> String { "\(ip),\(proto):\(port)" }
    /// `ip,proto:port,ip2`
    static func ipPortIP(_ ip: IPAddress, _ proto: String, _ port: Int, _ ip2: IPAddress) -> String { "\(ip),\(proto):\(port),\(ip2)" }
    /// `ip,proto:port,net`
    static func ipPortNet(_ ip: IPAddress, _ proto: String, _ port: Int, _ net: CIDR) -> String { "\(ip),\(proto):\(port),\(net)" }
}
