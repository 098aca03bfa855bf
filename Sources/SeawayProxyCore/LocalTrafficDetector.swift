import SeawayModel

/// How kube-proxy tells pod-originated traffic from other traffic (`--detect-local-mode`),
/// resolved for one IP family into the match fragments each backend writes.
public struct LocalTrafficDetector: Sendable, Hashable {
    /// iptables arguments matching local (pod) traffic, e.g. `-s 10.0.0.0/8`; nil if not implemented.
    public let ifLocal: String?
    public let ifNotLocal: String?
    /// nftables expressions, e.g. `ip saddr 10.0.0.0/8`.
    public let ifLocalNFT: String?
    public let ifNotLocalNFT: String?

    public var isImplemented: Bool { ifLocal != nil }

    public static let none = LocalTrafficDetector(ifLocal: nil, ifNotLocal: nil, ifLocalNFT: nil, ifNotLocalNFT: nil)

    /// `ClusterCIDR` and `NodeCIDR` modes: traffic from the (cluster or node) pod CIDR.
    public static func byCIDR(_ cidr: CIDR) -> LocalTrafficDetector {
        let ipX = cidr.family == .ipv4 ? "ip" : "ip6"
        return LocalTrafficDetector(ifLocal: "-s \(cidr)", ifNotLocal: "! -s \(cidr)",
                                    ifLocalNFT: "\(ipX) saddr \(cidr)", ifNotLocalNFT: "\(ipX) saddr != \(cidr)")
    }

    // nftables matches interfaces by name (`iifname`): `iif` resolves an index at load time,
    // so it fails for a bridge that does not exist yet and for any wildcard. kube-proxy
    // shipped `iif` until kubernetes PR 134024 (backported to 1.34).

    /// `BridgeInterface` mode: traffic arriving on the pod bridge.
    public static func byBridgeInterface(_ name: String) -> LocalTrafficDetector {
        LocalTrafficDetector(ifLocal: "-i \(name)", ifNotLocal: "! -i \(name)",
                             ifLocalNFT: "iifname \(name)", ifNotLocalNFT: "iifname != \(name)")
    }

    /// `InterfaceNamePrefix` mode: traffic arriving on any interface with the prefix (veths).
    public static func byInterfaceNamePrefix(_ prefix: String) -> LocalTrafficDetector {
        LocalTrafficDetector(ifLocal: "-i \(prefix)+", ifNotLocal: "! -i \(prefix)+",
                             ifLocalNFT: "iifname \(prefix)*", ifNotLocalNFT: "iifname != \(prefix)*")
    }
}

/// `--detect-local-mode` and its parameters.
public enum DetectLocalMode: Sendable, Hashable {
    case clusterCIDR([CIDR])
    case nodeCIDR([CIDR])
    case bridgeInterface(String)
    case interfaceNamePrefix(String)
    case none

    /// The detector for one family; not implemented when the mode has no CIDR of that family.
    public func detector(for family: IPFamily) -> LocalTrafficDetector {
        switch self {
        case let .clusterCIDR(cidrs), let .nodeCIDR(cidrs):
            guard let cidr = cidrs.first(where: { $0.family == family }) else { return .none }
            return .byCIDR(cidr)
        case let .bridgeInterface(name): return .byBridgeInterface(name)
        case let .interfaceNamePrefix(prefix): return .byInterfaceNamePrefix(prefix)
        case .none: return .none
        }
    }
}
