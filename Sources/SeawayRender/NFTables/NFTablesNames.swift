import SeawayProxyCore

/// kube-proxy's nftables names: fixed chains/sets/maps, and per-service chains named
/// `prefix-HASH8-namespace/name/proto/port` (readable, with a hash for uniqueness).
public enum NFTablesName {
    public static let table = "kube-proxy"

    public static let services = "services"
    public static let serviceIPs = "service-ips"
    public static let serviceNodePorts = "service-nodeports"
    public static let nodePortIPs = "nodeport-ips"
    public static let clusterIPs = "cluster-ips"
    public static let serviceEndpointsCheck = "service-endpoints-check"
    public static let nodePortEndpointsCheck = "nodeport-endpoints-check"
    public static let noEndpointServices = "no-endpoint-services"
    public static let noEndpointNodePorts = "no-endpoint-nodeports"
    public static let rejectChain = "reject-chain"
    public static let clusterIPsCheck = "cluster-ips-check"
    public static let firewallIPs = "firewall-ips"
    public static let firewallCheck = "firewall-check"
    public static let markMasq = "mark-for-masquerade"
    public static let masquerading = "masquerading"

    /// nftables names are at most 256 bytes; kube-proxy keeps 16 for the prefix.
    static let baseLengthMax = 256 - 16

    /// `HASH8-name`, truncated with "..." if it would not fit (it never does for valid names).
    static func hashAndTruncate(_ name: String) -> String {
        var out = ChainHash.base32SHA256(name, length: 8) + "-" + name
        if out.utf8.count > baseLengthMax {
            out = String(decoding: Array(out.utf8.prefix(baseLengthMax - 3)), as: UTF8.self) + "..."
        }
        return out
    }

    /// `HASH-ns/name/proto/port`.
    static func serviceBase(_ n: ServicePortName) -> String {
        hashAndTruncate("\(n.namespace)/\(n.name)/\(n.proto.lowercased)/\(n.port)")
    }

    /// `HASH-ns/name/proto/port__ip/port`, IPv6 colons turned into dots (not allowed in names).
    static func endpointBase(_ n: ServicePortName, _ ep: EndpointInfo) -> String {
        let ip = ep.ip.description.replacingColonsWithDots()
        return hashAndTruncate("\(n.namespace)/\(n.name)/\(n.proto.lowercased)/\(n.port)__\(ip)/\(ep.port)")
    }

    public static func cluster(_ n: ServicePortName) -> String { "service-" + serviceBase(n) }
    public static func local(_ n: ServicePortName) -> String { "local-" + serviceBase(n) }
    public static func external(_ n: ServicePortName) -> String { "external-" + serviceBase(n) }
    public static func firewall(_ n: ServicePortName) -> String { "firewall-" + serviceBase(n) }
    public static func endpoint(_ n: ServicePortName, _ ep: EndpointInfo) -> String { "endpoint-" + endpointBase(n, ep) }
    public static func affinity(_ n: ServicePortName, _ ep: EndpointInfo) -> String { "affinity-" + endpointBase(n, ep) }
}

private extension String {
    func replacingColonsWithDots() -> String { String(map { $0 == ":" ? "." : $0 }) }
}
