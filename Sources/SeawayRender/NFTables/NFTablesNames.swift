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
        var bytes: [UInt8] = []
        bytes.appendUTF8(name)
        return hashAndTruncate(bytes)
    }

    /// The same for a name already in bytes.
    static func hashAndTruncate(_ name: [UInt8]) -> String {
        var out: [UInt8] = []
        appendHashAndTruncate(name, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `HASH8-name` (truncated as above) to `out`, with no allocation between.
    static func appendHashAndTruncate(_ name: [UInt8], to out: inout [UInt8]) {
        let total = min(9 + name.count, baseLengthMax)
        let truncated = 9 + name.count > baseLengthMax
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: total))
        name.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { all in
                let o = UnsafeMutableBufferPointer(rebasing: all[start...])
                _ = ChainHash.writeBase32SHA256(raw, length: 8, into: o)
                o[8] = UInt8(ascii: "-")
                let keep = truncated ? baseLengthMax - 3 - 9 : name.count
                for i in 0..<keep { o[9 + i] = raw[i] }
                if truncated { for i in 0..<3 { o[baseLengthMax - 3 + i] = UInt8(ascii: ".") } }
            }
        }
    }

    /// `HASH-ns/name/proto/port`.
    static func serviceBase(_ n: ServicePortName) -> String {
        hashAndTruncate("\(n.namespace)/\(n.name)/\(n.proto.lowercased)/\(n.port)")
    }

    /// `HASH-ns/name/proto/port__ip/port`, IPv6 colons turned into dots (not allowed in names).
    static func endpointBase(_ n: ServicePortName, _ ep: EndpointInfo) -> String {
        var out: [UInt8] = []
        appendEndpointBase(n, ep, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the endpoint base to `out`. Built as bytes: this runs once per endpoint,
    /// 100,000 times in a large cluster.
    static func appendEndpointBase(_ n: ServicePortName, _ ep: EndpointInfo, to out: inout [UInt8]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(n.namespace.utf8.count + n.name.utf8.count + n.port.utf8.count + 48)
        bytes.appendUTF8(n.namespace)
        bytes.append(UInt8(ascii: "/"))
        bytes.appendUTF8(n.name)
        bytes.append(UInt8(ascii: "/"))
        bytes.appendUTF8(n.proto.lowercased)
        bytes.append(UInt8(ascii: "/"))
        bytes.appendUTF8(n.port)
        bytes.append(UInt8(ascii: "_"))
        bytes.append(UInt8(ascii: "_"))
        let ipStart = bytes.count
        bytes.appendAddress(ep.ip)
        for i in ipStart..<bytes.count where bytes[i] == UInt8(ascii: ":") { bytes[i] = UInt8(ascii: ".") }
        bytes.append(UInt8(ascii: "/"))
        bytes.appendDecimal(ep.port)
        appendHashAndTruncate(bytes, to: &out)
    }

    public static func cluster(_ n: ServicePortName) -> String { "service-" + serviceBase(n) }
    public static func local(_ n: ServicePortName) -> String { "local-" + serviceBase(n) }
    public static func external(_ n: ServicePortName) -> String { "external-" + serviceBase(n) }
    public static func firewall(_ n: ServicePortName) -> String { "firewall-" + serviceBase(n) }
    public static func endpoint(_ n: ServicePortName, _ ep: EndpointInfo) -> String { "endpoint-" + endpointBase(n, ep) }
    public static func affinity(_ n: ServicePortName, _ ep: EndpointInfo) -> String { "affinity-" + endpointBase(n, ep) }
}
