import SeawayModel

/// What a Corefile's `kubernetes` block configures (CoreDNS's plugin options), with the
/// plugin's defaults.
public struct KubernetesDNSOptions: Sendable, Hashable {
    /// How `a-b-c-d.ns.pod.zone` names are answered.
    public enum PodMode: String, Sendable, Hashable, CaseIterable {
        /// Always NXDOMAIN (the plugin's default).
        case disabled
        /// An A/AAAA record for any well-formed address, in any namespace that exists.
        case insecure
        /// Only if a pod with that IP exists in that namespace.
        case verified
    }

    /// Zones answered authoritatively: forward zones and reverse zones alike. The first
    /// forward zone is the one PTR targets are written in.
    public var zones: [DNSName]
    public var pods: PodMode = .disabled
    /// TTL of every answer (CoreDNS: default 5, at most 3600).
    public var ttl: UInt32 = 5
    /// Only these namespaces are exposed; empty exposes all.
    public var namespaces: Set<String> = []
    /// NXDOMAIN for ClusterIP services without a ready endpoint (`ignore empty_service`).
    public var ignoreEmptyService = false
    /// Endpoints without a hostname are named after their pod (`endpoint_pod_names`).
    public var endpointPodNames = false
    /// Zones whose NXDOMAIN answers go on to the next handler (the forwarder) instead;
    /// nil: none; empty: every zone (`fallthrough` without arguments).
    public var fallthroughZones: [DNSName]? = nil
    /// The server's own addresses: what `ns.dns.<zone>` and the zone's NS records point to
    /// when no Service's endpoints carry them (CoreDNS's local IPs).
    public var localIPs: [IPAddress] = []
    /// SOA serial (CoreDNS: when the cluster state last changed, in Unix seconds).
    public var serial: UInt32 = 0

    /// CoreDNS's kubernetes schema version, served as `dns-version.<zone>` TXT.
    public static let schemaVersion = "1.1.0"
    public static let defaultZones = ["cluster.local.", "in-addr.arpa.", "ip6.arpa."].map { DNSName($0)! }
    public static let maximumTTL: UInt32 = 3600

    public init(zones: [DNSName] = KubernetesDNSOptions.defaultZones) {
        self.zones = zones
    }

    /// The zone PTR targets are named in: the first zone that is not a reverse zone.
    public var primaryZone: DNSName {
        zones.first { !$0.isReverseZone } ?? DNSName("cluster.local.")!
    }

    /// The longest configured zone `name` is in (CoreDNS's `plugin.Zones.Matches`).
    public func zone(of name: DNSName) -> DNSName? {
        zones.filter { name.isSubdomain(of: $0) }.max { $0.labels.count < $1.labels.count }
    }

    func fallsThrough(_ name: DNSName) -> Bool {
        guard let zones = fallthroughZones else { return false }
        return zones.isEmpty || zones.contains { name.isSubdomain(of: $0) }
    }

    func exposes(namespace: String) -> Bool { namespaces.isEmpty || namespaces.contains(namespace) }
}

extension DNSName {
    static let inAddrArpa = DNSName("in-addr.arpa.")!
    static let ip6Arpa = DNSName("ip6.arpa.")!

    /// In in-addr.arpa or ip6.arpa.
    public var isReverseZone: Bool { isSubdomain(of: .inAddrArpa) || isSubdomain(of: .ip6Arpa) }

    /// The address a full reverse name stands for (`4.3.2.1.in-addr.arpa` is 1.2.3.4; 32
    /// nibbles under ip6.arpa); nil for anything else.
    public var reverseAddress: IPAddress? {
        if isSubdomain(of: .inAddrArpa), labels.count == 6 {
            var v: UInt32 = 0
            for label in labels.prefix(4).reversed() {
                // Decimal octets without leading zeros, as Go's net.ParseIP wants them.
                guard label.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                      label.count == 1 || label.first != UInt8(ascii: "0"),
                      let octet = UInt8(String(decoding: label, as: UTF8.self)) else { return nil }
                v = v << 8 | UInt32(octet)
            }
            return IPAddress(v4: v)
        }
        if isSubdomain(of: .ip6Arpa), labels.count == 34 {
            var high: UInt64 = 0, low: UInt64 = 0
            for (i, label) in labels.prefix(32).reversed().enumerated() {
                guard label.count == 1, let nibble = UInt8(String(decoding: label, as: UTF8.self), radix: 16) else { return nil }
                if i < 16 { high = high << 4 | UInt64(nibble) } else { low = low << 4 | UInt64(nibble) }
            }
            return IPAddress(v6High: high, low: low)
        }
        return nil
    }

    /// The reverse name of an address (`1.2.3.4` -> `4.3.2.1.in-addr.arpa.`).
    public init(reverseOf ip: IPAddress) {
        if ip.family == .ipv4 {
            let v = UInt32(truncatingIfNeeded: ip.low)
            let octets = (0..<4).map { String((v >> (8 * $0)) & 0xFF) }
            self = DNSName(octets.joined(separator: ".") + ".in-addr.arpa.")!
        } else {
            var nibbles: [String] = []
            for word in [ip.low, ip.high] {
                for i in 0..<16 { nibbles.append(String((word >> (4 * UInt64(i))) & 0xF, radix: 16)) }
            }
            self = DNSName(nibbles.joined(separator: ".") + ".ip6.arpa.")!
        }
    }
}
