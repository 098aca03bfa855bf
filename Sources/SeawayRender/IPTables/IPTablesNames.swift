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
        /// The 16 characters of the port's hash that its four chain names end with, kept in
        /// the value: four strings were four allocations per port, freed again each render.
        private let hash: InlineArray<16, UInt8>

        public var cluster: RuleLine { chain("KUBE-SVC-") }
        public var local: RuleLine { chain("KUBE-SVL-") }
        public var external: RuleLine { chain("KUBE-EXT-") }
        public var firewall: RuleLine { chain("KUBE-FW-") }

        public init(_ name: ServicePortName) {
            portName = name.description
            var prefix = portName + name.proto.lowercased.description
            hashPrefix = prefix
            var hash = InlineArray<16, UInt8>(repeating: 0)
            var span = hash.mutableSpan
            span.withUnsafeMutableBufferPointer { out in
                prefix.withUTF8 { _ = ChainHash.writeBase32SHA256(UnsafeRawBufferPointer($0), length: 16, into: out) }
            }
            self.hash = hash
        }

        private func chain(_ label: StaticString) -> RuleLine {
            var name: RuleLine = "\(label)"
            hash.span.withUnsafeBufferPointer { name.append($0) }
            return name
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
