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

    /// The chains of one service port, computed once per port.
    public struct ServiceChains: Sendable {
        /// `ns/name:port`, as written in comments.
        public let portName: String
        /// What endpoint hashes start with: `ns/name:port` + `tcp`.
        let hashPrefix: String
        public let cluster: String
        public let local: String
        public let external: String
        public let firewall: String

        public init(_ name: ServicePortName) {
            portName = name.description
            hashPrefix = portName + name.proto.lowercased
            let hash = ChainHash.base32SHA256(hashPrefix, length: 16)
            cluster = "KUBE-SVC-" + hash
            local = "KUBE-SVL-" + hash
            external = "KUBE-EXT-" + hash
            firewall = "KUBE-FW-" + hash
        }

        /// The length of every endpoint chain name.
        static let endpointNameLength = 9 + 16

        /// Writes `KUBE-SEP-` + hash of port name, protocol and `ip:port` (`endpointNameLength`
        /// bytes) into `out`.
        func writeEndpoint(_ endpoint: EndpointInfo, into out: UnsafeMutableBufferPointer<UInt8>) {
            endpoint.withText { _ = ChainHash.writeName("KUBE-SEP-", hashing: hashPrefix, $0, length: 16, into: out) }
        }
    }
}
