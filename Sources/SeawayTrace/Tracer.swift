import SeawayDNS
import SeawayModel
import SeawayPolicy
import SeawayProxyCore

/// A trace the inputs cannot describe (no such pod, a malformed target): bad input.
public struct TraceInputError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Follows one connection through every layer Seaway models: the pod's DNS lookup (search
/// path, ndots), the service port the answer and port name, the endpoints the source node's
/// rules select (traffic policies, topology, terminating), the rules themselves in the chosen
/// mode, and NetworkPolicy (with the admin tiers) for each endpoint. Pure.
public struct Tracer: Sendable {
    let cluster: ClusterState
    /// The source pod's node's proxy options (its node name, IPs, local-traffic detection).
    let options: ProxyOptions
    let dns: KubernetesDNSOptions
    /// Indexed once for every endpoint the trace checks.
    let policy: PolicyEvaluator

    public init(cluster: ClusterState, options: ProxyOptions, dns: KubernetesDNSOptions) {
        self.cluster = cluster
        self.options = options
        self.dns = dns
        policy = PolicyEvaluator(cluster: cluster)
    }

    /// The pod `ns/name` the trace starts from.
    public static func sourcePod(_ key: String, in cluster: ClusterState) throws(TraceInputError) -> Pod {
        guard let pod = cluster.pods.first(where: { $0.key == key }) else {
            throw TraceInputError("--from: no pod '\(key)' in the manifests (expected NAMESPACE/POD)")
        }
        guard pod.nodeName != nil else { throw TraceInputError("--from: pod \(key) has no spec.nodeName (not scheduled)") }
        guard !pod.podIPs.isEmpty else { throw TraceInputError("--from: pod \(key) has no status.podIP") }
        return pod
    }

    /// `NAME`, `NAME:PORT`, `IP:PORT` or `[IPv6]:PORT`; PORT a number or a service port name.
    public static func target(_ text: String) throws(TraceInputError) -> (host: String, port: String?) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw TraceInputError("--to: unclosed '[' in '\(text)'") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { throw TraceInputError("--to: expected ':PORT' after ']' in '\(text)'") }
            return (host, rest.isEmpty ? nil : String(rest.dropFirst()))
        }
        if IPAddress(text)?.family == .ipv6 { return (text, nil) }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty else { throw TraceInputError("--to: no name in '\(text)'") }
        if parts.count == 2 && parts[1].isEmpty { throw TraceInputError("--to: empty port in '\(text)'") }
        return (String(host), parts.count == 2 ? String(parts[1]) : nil)
    }

    public func trace(from source: Pod, to target: String, proto: L4Protocol, mode: ProxyMode) throws(TraceInputError) -> Trace {
        let (host, portText) = try Self.target(target)
        var trace = Trace(source: source.key, target: target, sourceNode: source.nodeName ?? "", mode: mode, proto: proto)

        // 1. The name, as the pod's resolver would ask for it.
        var addresses: [IPAddress]
        if let ip = IPAddress(host) {
            addresses = [ip]
        } else {
            let zone = KubernetesZone(options: dns, cluster: cluster)
            let search = SearchPath.pod(namespace: source.metadata.namespace, zone: dns.primaryZone)
            let wanted: DNSType = source.podIPs.contains { $0.family == .ipv4 } ? .a : .aaaa
            let lookup = DNSLookup(host, type: wanted, searchPath: search, zone: zone)
            let records = lookup.attempts.last?.answer?.answers ?? []
            addresses = records.compactMap { if case let .address(ip) = $0.data { ip } else { nil } }
            let cname = records.lazy.compactMap { r -> DNSName? in if r.type == .cname, case let .name(n) = r.data { n } else { nil } }.first
            trace.resolution = Trace.Resolution(query: host, lookup: lookup, addresses: addresses, externalName: cname)
            if lookup.attempts.last?.answer == nil {
                trace.stopped = "\(host) is outside the cluster zones: the cluster DNS forwards it upstream, and no service rules apply"
                trace.leavesCluster = true
                return trace
            }
            if let cname {
                trace.stopped = "\(host) is an ExternalName service: a CNAME to \(cname), resolved outside the cluster; no service rules apply"
                trace.leavesCluster = true
                return trace
            }
            if addresses.isEmpty {
                let rcode = lookup.rcode.map { "\($0)" } ?? "no answer"
                trace.stopped = "\(host) does not resolve (\(lookup.attempts.last?.answer?.answers.isEmpty == true && lookup.rcode == .noError ? "NODATA" : rcode)): the pod gets no address to connect to"
                return trace
            }
        }
        let address = addresses[0]

        // 2. What the address is on the source's node.
        let map = ServiceMap(cluster: cluster, options: options, family: address.family)
        let onIP = map.ports.filter { p in
            p.info.proto == proto && (p.info.clusterIP == address || p.info.externalIPs.contains(address) || p.info.loadBalancerVIPs.contains(address))
        }
        guard !onIP.isEmpty else {
            let port = try Self.number(portText, for: host)
            let pod = cluster.pods.first { $0.podIPs.contains(address) }
            trace.destination = pod == nil ? .outside(address, port: port) : .pod(address, port: port)
            if pod == nil, cluster.services.contains(where: { $0.clusterIP(for: address.family) == address }) {
                trace.stopped = "\(address) is a ClusterIP with no \(proto.rawValue) port: the node's rules reject the packet"
                return trace
            }
            trace.reaches = [try reach(source, address, port, proto)]
            if pod == nil {
                trace.stopped = "\(address) is not a pod or service address of the cluster: the packet leaves the pod network by the node's routes"
                trace.leavesCluster = true
            }
            return trace
        }
        guard let sp = try servicePort(onIP, portText, host: host) else {
            let ports = onIP.map { $0.info.name.port.isEmpty ? "\($0.info.port)" : "\($0.info.port) (\($0.info.name.port))" }
            trace.destination = nil
            trace.stopped = "\(address) has no \(proto.rawValue) port \(portText ?? "?"); its ports: \(ports.joined(separator: ", ")): the node's rules reject the packet"
            return trace
        }
        trace.destination = .service(sp.info, address: address)

        // 3. The endpoints the rules use for traffic from a pod to this address.
        let external = address != sp.info.clusterIP
        let local = external ? sp.info.externalPolicyLocal : sp.info.internalPolicyLocal
        let used = local ? sp.endpoints.local : sp.endpoints.cluster
        let usedKeys = Set(used.map(\.description))
        trace.candidates = sp.allEndpoints.map { e in
            let pod = cluster.pods.first { $0.podIPs.contains(e.ip) }
            var reason: String? = nil
            if !usedKeys.contains(e.description) {
                if !e.ready && !e.serving { reason = "not ready" }
                else if e.terminating { reason = "terminating (used only while no endpoint is ready)" }
                else if !e.ready { reason = "not ready" }
                else if local && !e.isLocal { reason = "on another node, and the \(external ? "external" : "internal")TrafficPolicy is Local" }
                else { reason = "outside this node's topology (hints for another zone or node)" }
            }
            return Trace.Candidate(endpoint: e, pod: pod?.key, node: pod?.nodeName, unusedBecause: reason)
        }

        // 4. The rules on the way, rendered for this service port alone.
        trace.rules = TraceRules.path(for: sp, address: address, options: options, mode: mode)
        if used.isEmpty {
            trace.stopped = sp.endpoints.hasAnyEndpoints
                ? "no endpoint on \(options.nodeName) and the traffic policy is Local: the node's rules drop the packet"
                : "the service has no ready endpoints: the node's rules reject the connection"
            return trace
        }

        // 5. Policy, for each endpoint the rules may pick.
        trace.reaches = try used.map { e throws(TraceInputError) in try reach(source, e.ip, e.port, proto) }
        return trace
    }

    private func reach(_ source: Pod, _ ip: IPAddress, _ port: Int, _ proto: L4Protocol) throws(TraceInputError) -> Trace.Reach {
        do {
            let to = try policy.endpoint(ip.description)
            let verdict = try policy.check(from: .pod(source), to: to, port: .number(port), proto: proto)
            var pod: String? = nil
            if case let .pod(p) = to { pod = p.key }
            return Trace.Reach(address: ip, port: port, pod: pod, policy: verdict)
        } catch {
            throw TraceInputError("policy: \(error)")
        }
    }

    /// The service port `portText` names among the ports on the address (the only one when
    /// none is given).
    private func servicePort(_ ports: [ProxyServicePort], _ portText: String?, host: String) throws(TraceInputError) -> ProxyServicePort? {
        guard let portText else {
            guard ports.count == 1 else {
                let list = ports.map { "\($0.info.port)" + ($0.info.name.port.isEmpty ? "" : " (\($0.info.name.port))") }
                throw TraceInputError("--to: \(host) has several ports (\(list.joined(separator: ", "))); give one as \(host):PORT")
            }
            return ports[0]
        }
        if let n = Int(portText) { return ports.first { $0.info.port == n } }
        return ports.first { $0.info.name.port == portText }
    }

    private static func number(_ text: String?, for host: String) throws(TraceInputError) -> Int {
        guard let text else { throw TraceInputError("--to: \(host) is not a service: give the port as \(host):PORT") }
        guard let n = Int(text), (1...65535).contains(n) else { throw TraceInputError("--to: '\(text)' is not a port number (1-65535)") }
        return n
    }
}
