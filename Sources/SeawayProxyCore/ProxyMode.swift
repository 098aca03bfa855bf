/// A kube-proxy backend.
public enum ProxyMode: String, Sendable, Hashable, CaseIterable {
    case iptables
    case nftables
    case ipvs
    /// A live L4 proxy in the agent, with nftables rules redirecting service traffic to it.
    case userspace
}
