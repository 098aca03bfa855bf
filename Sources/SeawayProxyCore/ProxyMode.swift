/// A kube-proxy backend.
public enum ProxyMode: String, Sendable, Hashable, CaseIterable {
    case iptables
    case nftables
    case ipvs
}
