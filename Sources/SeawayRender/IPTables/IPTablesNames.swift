import SeawayProxyCore

/// kube-proxy's iptables chain names. Fixed chains, then per-service chains named with a
/// 16-character hash of the service port name and protocol (iptables allows 28 characters).
public enum IPTablesChain {
    public static let services = "KUBE-SERVICES"
    public static let externalServices = "KUBE-EXTERNAL-SERVICES"
    public static let nodePorts = "KUBE-NODEPORTS"
    public static let postrouting = "KUBE-POSTROUTING"
    public static let markMasq = "KUBE-MARK-MASQ"
    public static let forward = "KUBE-FORWARD"
    public static let proxyFirewall = "KUBE-PROXY-FIREWALL"
    public static let kubeletFirewall = "KUBE-FIREWALL"

    static func portProtoHash(_ name: ServicePortName) -> String {
        ChainHash.base32SHA256(name.description + name.proto.lowercased, length: 16)
    }

    public static func cluster(_ name: ServicePortName) -> String { "KUBE-SVC-" + portProtoHash(name) }
    public static func local(_ name: ServicePortName) -> String { "KUBE-SVL-" + portProtoHash(name) }
    public static func external(_ name: ServicePortName) -> String { "KUBE-EXT-" + portProtoHash(name) }
    public static func firewall(_ name: ServicePortName) -> String { "KUBE-FW-" + portProtoHash(name) }

    public static func endpoint(_ name: ServicePortName, _ endpoint: EndpointInfo) -> String {
        "KUBE-SEP-" + ChainHash.base32SHA256(name.description + name.proto.lowercased + endpoint.description, length: 16)
    }

    /// Chains kube-proxy owns per service (and deletes when stale).
    public static func isServiceChain(_ chain: String) -> Bool {
        ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"].contains { chain.hasPrefix($0) }
    }
}
