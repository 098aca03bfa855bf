import SeawayProxyCore

/// kube-proxy's iptables chain names. Fixed chains, then per-service chains named with a
/// 16-character hash of the service port name and protocol (iptables allows 28 characters).
public enum IPTablesChain {
    public static let services = "KUBE-SERVICES"
    public static let externalServices = "KUBE-EXTERNAL-SERVICES"
    public static let nodePorts = "KUBE-NODEPORTS"
    public static let postrouting = "KUBE-POSTROUTING"
    public static let markMasq = markMasqText.description
    /// The masquerade chain as rule text, written into a rule per endpoint.
    static let markMasqText: StaticString = "KUBE-MARK-MASQ"
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
            var prefix = portName + name.proto.lowercased.description
            hashPrefix = prefix
            // The hash once, on the stack, then each name written at its final size: joining
            // strings made each name twice, for every service port of every render.
            let (cluster, local, external, firewall) = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { hash in
                prefix.withUTF8 { _ = ChainHash.writeBase32SHA256(UnsafeRawBufferPointer($0), length: 16, into: hash) }
                func chain(_ label: StaticString) -> String {
                    String(unsafeUninitializedCapacity: label.utf8CodeUnitCount + 16) { out in
                        let l = label.utf8CodeUnitCount
                        out.baseAddress!.update(from: label.utf8Start, count: l)
                        (out.baseAddress! + l).update(from: hash.baseAddress!, count: 16)
                        return l + 16
                    }
                }
                return (chain("KUBE-SVC-"), chain("KUBE-SVL-"), chain("KUBE-EXT-"), chain("KUBE-FW-"))
            }
            (self.cluster, self.local, self.external, self.firewall) = (cluster, local, external, firewall)
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
