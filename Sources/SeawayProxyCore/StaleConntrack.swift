import SeawayModel

/// UDP conntrack entries that would keep sending a flow to an endpoint that is gone (UDP has
/// no connection to break, so a DNS client reusing its source port is blackholed until the
/// entry times out), as kube-proxy clears them after a sync (pkg/proxy/conntrack):
/// entries DNATed to an endpoint a UDP service port no longer uses, for each of its
/// addresses and its NodePort; and when a port gains its first endpoints, entries for it
/// that were never DNATed (made while it had nowhere to send them).
public enum StaleConntrack: Sendable, Hashable, CustomStringConvertible {
    /// `--orig-dst ADDRESS --orig-port-dst PORT --reply-src ENDPOINT`.
    case natToEndpoint(address: IPAddress, port: Int, endpoint: IPAddress)
    /// `--orig-port-dst NODEPORT --reply-src ENDPOINT` (any node address).
    case nodePortToEndpoint(nodePort: Int, endpoint: IPAddress)
    /// `--orig-dst ADDRESS --orig-port-dst PORT --reply-src ADDRESS`: not DNATed.
    case notTranslated(address: IPAddress, port: Int)

    /// The `conntrack -D` arguments that delete these entries.
    public var conntrackArguments: [String] {
        var args = ["-D", "-p", "udp"]
        switch self {
        case let .natToEndpoint(address, port, endpoint):
            args += ["--orig-dst", address.description, "--orig-port-dst", String(port), "--reply-src", endpoint.description]
        case let .nodePortToEndpoint(nodePort, endpoint):
            args += ["--orig-port-dst", String(nodePort), "--reply-src", endpoint.description]
        case let .notTranslated(address, port):
            args += ["--orig-dst", address.description, "--orig-port-dst", String(port), "--reply-src", address.description]
        }
        if family == .ipv6 { args += ["-f", "ipv6"] }
        return args
    }

    public var family: IPFamily {
        switch self {
        case let .natToEndpoint(address, _, _): address.family
        case let .nodePortToEndpoint(_, endpoint): endpoint.family
        case let .notTranslated(address, _): address.family
        }
    }

    public var description: String { "conntrack " + conntrackArguments.joined(separator: " ") }

    /// What a change of one service port from `old` to `new` (nil: absent) leaves stale.
    public static func entries(old: ProxyServicePort?, new: ProxyServicePort?) -> [StaleConntrack] {
        guard let old, old.info.proto == .udp else {
            // A new UDP port: nothing could have been DNATed for it yet, but traffic to its
            // address may have been tracked untranslated.
            guard let new, new.info.proto == .udp, new.endpoints.hasAnyEndpoints else { return [] }
            return addresses(new.info).map { .notTranslated(address: $0, port: new.info.port) }
        }
        let kept = Set((new?.info.proto == .udp ? new?.endpoints.allReachable : nil)?.map(\.ip) ?? [])
        let gone = Set(old.endpoints.allReachable.map(\.ip)).subtracting(kept).sorted()
        var out: [StaleConntrack] = []
        for endpoint in gone {
            for address in addresses(old.info) { out.append(.natToEndpoint(address: address, port: old.info.port, endpoint: endpoint)) }
            if old.info.nodePort != 0 { out.append(.nodePortToEndpoint(nodePort: old.info.nodePort, endpoint: endpoint)) }
        }
        if let new, new.info.proto == .udp, !old.endpoints.hasAnyEndpoints, new.endpoints.hasAnyEndpoints {
            out += addresses(new.info).map { .notTranslated(address: $0, port: new.info.port) }
        }
        return out
    }

    static func addresses(_ info: ServicePortInfo) -> [IPAddress] {
        [info.clusterIP] + info.externalIPs + info.loadBalancerVIPs
    }
}
