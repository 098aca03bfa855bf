import SeawayModel
import SeawayProxyCore

/// kube-proxy's nftables names: fixed chains/sets/maps, and per-service chains named
/// `prefix-HASH8-namespace/name/proto/port` (readable, with a hash for uniqueness).
public enum NFTablesName {
    public static let table = "kube-proxy"

    /// Seaway's shard table `i` (`kube-proxy-00`...), see ProxyOptions.nftablesShards.
    public static func shardTable(_ i: Int) -> String {
        i < 10 ? "\(table)-0\(i)" : "\(table)-\(i)"
    }

    /// The shard of a service port: FNV-1a of `namespace/name`, so all of a service's
    /// ports share one table; the same for a name whatever else the cluster holds.
    static func shard(of name: ServicePortName, among count: Int) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in "\(name.namespace)/\(name.name)".utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return Int(hash % UInt32(count))
    }

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
    public static let markMasq = markMasqText.description
    /// The masquerade chain as rule text, written into a rule or two per endpoint.
    static let markMasqText: StaticString = "mark-for-masquerade"
    public static let masquerading = "masquerading"

    /// nftables names are at most 256 bytes; kube-proxy keeps 16 for the prefix.
    static let baseLengthMax = 256 - 16

    /// `HASH8-name`, truncated with "..." if it would not fit (it never does for valid names).
    static func hashAndTruncate(_ name: String) -> String {
        var name = name
        return name.withUTF8 { hashAndTruncate($0) }
    }

    /// `HASH8-` and `readable`, hashed and cut on the stack.
    private static func hashAndTruncate(_ readable: UnsafeBufferPointer<UInt8>) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 9 + readable.count) { buffer in
            if let base = readable.baseAddress { (buffer.baseAddress! + 9).update(from: base, count: readable.count) }
            return String(decoding: buffer[..<hashAndTruncate(buffer, nameEnd: 9 + readable.count)], as: UTF8.self)
        }
    }

    /// `HASH-ns/name/proto/port`.
    static func serviceBase(_ n: ServicePortName) -> String {
        // The endpoints' shared prefix without its "__": formatting a string for it cost more
        // than the hash, once per service port of every render.
        let prefix = endpointPrefix(n)
        return prefix.withUnsafeBufferPointer { hashAndTruncate(UnsafeBufferPointer(rebasing: $0.dropLast(2))) }
    }

    /// `HASH-ns/name/proto/port__ip/port`, IPv6 colons turned into dots (not allowed in names).
    static func endpointBase(_ n: ServicePortName, _ ep: EndpointInfo) -> String {
        var out: [UInt8] = []
        appendEndpointBase(n, ep, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the endpoint base to `out`.
    static func appendEndpointBase(_ n: ServicePortName, _ ep: EndpointInfo, to out: inout [UInt8]) {
        appendEndpointBase(endpointPrefix(n), ep, to: &out)
    }

    /// `ns/name/proto/port__`, what every endpoint base of a service port starts with.
    static func endpointPrefix(_ n: ServicePortName) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n.namespace.utf8.count + n.name.utf8.count + n.port.utf8.count + 12)
        out.appendUTF8(n.namespace)
        out.append(UInt8(ascii: "/"))
        out.appendUTF8(n.name)
        out.append(UInt8(ascii: "/"))
        out.appendText(n.proto.lowercased)
        out.append(UInt8(ascii: "/"))
        out.appendUTF8(n.port)
        out.append(UInt8(ascii: "_"))
        out.append(UInt8(ascii: "_"))
        return out
    }

    /// Appends the endpoint base to `out`, its service port's part already written
    /// (`endpointPrefix`): a port's endpoints share it. Written on the stack and appended
    /// once: appending piece by piece to the array cost three times the hash itself.
    static func appendEndpointBase(_ prefix: [UInt8], _ ep: EndpointInfo, to out: inout [UInt8]) {
        // Room for the hash, the prefix, an IPv6 address (39), "/" and any port.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 9 + prefix.count + 64) { buffer in
            let base = buffer.baseAddress!
            var at = 9
            prefix.withUnsafeBufferPointer { (base + at).update(from: $0.baseAddress!, count: $0.count) }
            at += prefix.count
            if ep.ip.family == .ipv4 {
                at += IPAddress.writeV4(UInt32(truncatingIfNeeded: ep.ip.low), port: nil, into: UnsafeMutableBufferPointer(rebasing: buffer[at...]))
            } else {
                // Colons are not allowed in names: dots instead.
                for byte in ep.ip.description.utf8 {
                    base[at] = byte == UInt8(ascii: ":") ? UInt8(ascii: ".") : byte
                    at += 1
                }
            }
            base[at] = UInt8(ascii: "/")
            at += 1
            at += UnsafeMutableBufferPointer(rebasing: buffer[at...]).writeDecimal(ep.port)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<hashAndTruncate(buffer, nameEnd: at)]))
        }
    }

    /// Turns `buffer`'s name (after nine bytes left for `HASH8-`, up to `nameEnd`) into
    /// `HASH8-name`, cut to `baseLengthMax` with "..." if it is longer; returns the length.
    private static func hashAndTruncate(_ buffer: UnsafeMutableBufferPointer<UInt8>, nameEnd: Int) -> Int {
        _ = ChainHash.writeBase32SHA256(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[9..<nameEnd])), length: 8,
                                        into: UnsafeMutableBufferPointer(rebasing: buffer[0..<8]))
        buffer[8] = UInt8(ascii: "-")
        guard nameEnd > baseLengthMax else { return nameEnd }
        for i in (baseLengthMax - 3)..<baseLengthMax { buffer[i] = UInt8(ascii: ".") }
        return baseLengthMax
    }

    public static func cluster(_ n: ServicePortName) -> String { "service-" + serviceBase(n) }
    public static func local(_ n: ServicePortName) -> String { "local-" + serviceBase(n) }
    public static func external(_ n: ServicePortName) -> String { "external-" + serviceBase(n) }
    public static func firewall(_ n: ServicePortName) -> String { "firewall-" + serviceBase(n) }
    public static func endpoint(_ n: ServicePortName, _ ep: EndpointInfo) -> String { "endpoint-" + endpointBase(n, ep) }
    public static func affinity(_ n: ServicePortName, _ ep: EndpointInfo) -> String { "affinity-" + endpointBase(n, ep) }
}
