/// A v1 Service: the fields kube-proxy and cluster DNS read.
public struct Service: Sendable, Hashable {
    public enum ServiceType: String, Sendable, Hashable {
        case clusterIP = "ClusterIP"
        case nodePort = "NodePort"
        case loadBalancer = "LoadBalancer"
        case externalName = "ExternalName"
    }

    public enum TrafficPolicy: String, Sendable, Hashable {
        case cluster = "Cluster"
        case local = "Local"
    }

    public struct Port: Sendable, Hashable {
        public var name: String
        public var proto: L4Protocol
        public var port: Int
        public var targetPort: IntOrString?
        public var nodePort: Int
        public var appProtocol: String?

        public init(name: String = "", proto: L4Protocol = .tcp, port: Int,
                    targetPort: IntOrString? = nil, nodePort: Int = 0, appProtocol: String? = nil) {
            self.name = name
            self.proto = proto
            self.port = port
            self.targetPort = targetPort
            self.nodePort = nodePort
            self.appProtocol = appProtocol
        }
    }

    /// One `status.loadBalancer.ingress` entry.
    public struct LoadBalancerIngress: Sendable, Hashable {
        public var ip: IPAddress?
        public var hostname: String?
        /// `VIP` (default) or `Proxy`; kube-proxy only captures VIP-mode addresses.
        public var ipMode: String?

        public init(ip: IPAddress?, hostname: String? = nil, ipMode: String? = nil) {
            self.ip = ip
            self.hostname = hostname
            self.ipMode = ipMode
        }

        public var isVIPMode: Bool { ipMode == nil || ipMode == "VIP" }
    }

    public var metadata: ObjectMeta
    public var type: ServiceType
    /// `spec.clusterIPs` (or `[clusterIP]`); empty for headless and ExternalName services.
    public var clusterIPs: [IPAddress]
    /// True when `clusterIP: None`.
    public var isHeadless: Bool
    public var ports: [Port]
    public var selector: [String: String]?
    public var externalIPs: [IPAddress]
    public var sessionAffinityClientIP: Bool
    /// `sessionAffinityConfig.clientIP.timeoutSeconds`, defaulted to 10800 as the API server does.
    public var sessionAffinityTimeout: Int
    public var loadBalancerSourceRanges: [CIDR]
    public var externalName: String?
    public var externalTrafficPolicy: TrafficPolicy
    public var internalTrafficPolicy: TrafficPolicy
    public var healthCheckNodePort: Int
    public var publishNotReadyAddresses: Bool
    public var trafficDistribution: String?
    public var loadBalancerIngress: [LoadBalancerIngress]

    public init(metadata: ObjectMeta, type: ServiceType = .clusterIP, clusterIPs: [IPAddress] = [],
                isHeadless: Bool = false, ports: [Port] = [], selector: [String: String]? = nil,
                externalIPs: [IPAddress] = [], sessionAffinityClientIP: Bool = false,
                sessionAffinityTimeout: Int = 10800, loadBalancerSourceRanges: [CIDR] = [],
                externalName: String? = nil, externalTrafficPolicy: TrafficPolicy = .cluster,
                internalTrafficPolicy: TrafficPolicy = .cluster, healthCheckNodePort: Int = 0,
                publishNotReadyAddresses: Bool = false, trafficDistribution: String? = nil,
                loadBalancerIngress: [LoadBalancerIngress] = []) {
        self.metadata = metadata
        self.type = type
        self.clusterIPs = clusterIPs
        self.isHeadless = isHeadless
        self.ports = ports
        self.selector = selector
        self.externalIPs = externalIPs
        self.sessionAffinityClientIP = sessionAffinityClientIP
        self.sessionAffinityTimeout = sessionAffinityTimeout
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.externalName = externalName
        self.externalTrafficPolicy = externalTrafficPolicy
        self.internalTrafficPolicy = internalTrafficPolicy
        self.healthCheckNodePort = healthCheckNodePort
        self.publishNotReadyAddresses = publishNotReadyAddresses
        self.trafficDistribution = trafficDistribution
        self.loadBalancerIngress = loadBalancerIngress
    }

    /// The ClusterIP of `family`, as kube-proxy's `GetClusterIPByFamily` picks it.
    public func clusterIP(for family: IPFamily) -> IPAddress? {
        clusterIPs.first { $0.family == family }
    }
}

extension Service {
    static func decode(_ f: Field) throws -> Service {
        var svc = Service(metadata: try ObjectMeta.decode(f, namespaced: true))
        guard let spec = f["spec"] else { throw f.error("spec is required") }
        try spec.requireMapping()
        if let t = spec["type"] {
            let text = try t.string()
            guard let type = ServiceType(rawValue: text) else {
                throw t.error("unsupported service type '\(text)' (must be ClusterIP, NodePort, LoadBalancer or ExternalName)")
            }
            svc.type = type
        }

        // clusterIPs is authoritative when present; clusterIP must agree with its first entry.
        var ipFields: [Field] = []
        if let list = spec["clusterIPs"] { ipFields = try list.list() }
        if ipFields.isEmpty, let one = spec["clusterIP"] { ipFields = [one] }
        for ipField in ipFields {
            let text = try ipField.string()
            if text == "None" {
                svc.isHeadless = true
                continue
            }
            if text.isEmpty { continue }
            guard let ip = IPAddress(text) else { throw ipField.error("'\(text)' is not a valid IP address") }
            if svc.clusterIPs.contains(where: { $0.family == ip.family }) {
                throw ipField.error("at most one clusterIP per IP family")
            }
            svc.clusterIPs.append(ip)
        }
        if svc.type == .externalName {
            guard let en = spec["externalName"] else {
                throw FieldError(path: spec.child("externalName"), line: spec.line,
                                 message: "externalName is required for type ExternalName")
            }
            svc.externalName = try en.string()
            svc.clusterIPs = []
        }

        var seenPorts: Set<String> = []
        var seenPortProto: Set<String> = []
        let portList = try spec["ports"]?.list() ?? []
        for p in portList {
            try p.requireMapping()
            guard let portField = p["port"] else { throw p.error("port is required") }
            var port = Port(port: try portField.int(in: 1...65535))
            port.name = try p["name"]?.string() ?? ""
            if let n = p["name"] { try validateDNSLabel(port.name, n) }
            if portList.count > 1 && port.name.isEmpty {
                throw p.error("name is required when a service has more than one port")
            }
            if !seenPorts.insert(port.name).inserted {
                throw p.error("duplicate port name '\(port.name)'")
            }
            port.proto = try L4Protocol.decode(p["protocol"])
            if !seenPortProto.insert("\(port.port)/\(port.proto.rawValue)").inserted {
                throw p.error("duplicate port \(port.port)/\(port.proto.rawValue)")
            }
            if let tp = p["targetPort"] {
                let v = try IntOrString.decode(tp)
                if case let .int(n) = v, !(1...65535).contains(n) {
                    throw tp.error("\(n) is out of range (1-65535)")
                }
                port.targetPort = v
            }
            if let np = p["nodePort"] {
                port.nodePort = try np.int(in: 0...65535)
                if port.nodePort != 0 && svc.type != .nodePort && svc.type != .loadBalancer {
                    throw np.error("may not be used when type is '\(svc.type.rawValue)'")
                }
            }
            port.appProtocol = try p["appProtocol"]?.string()
            svc.ports.append(port)
        }

        svc.selector = try spec["selector"]?.stringMap()
        for ipField in try spec["externalIPs"]?.list() ?? [] {
            let text = try ipField.string()
            guard let ip = IPAddress(text) else { throw ipField.error("'\(text)' is not a valid IP address") }
            svc.externalIPs.append(ip)
        }
        if let aff = spec["sessionAffinity"] {
            switch try aff.string() {
            case "ClientIP": svc.sessionAffinityClientIP = true
            case "None": svc.sessionAffinityClientIP = false
            case let other: throw aff.error("unsupported session affinity '\(other)' (must be ClientIP or None)")
            }
        }
        if let t = spec["sessionAffinityConfig"]?["clientIP"]?["timeoutSeconds"] {
            svc.sessionAffinityTimeout = try t.int(in: 1...86400)
        }
        for r in try spec["loadBalancerSourceRanges"]?.list() ?? [] {
            // kube-proxy trims stray whitespace: old objects in etcd carry it.
            let text = try r.string().trimmingASCIIWhitespace()
            guard let cidr = CIDR(text) else { throw r.error("'\(text)' is not a valid CIDR") }
            svc.loadBalancerSourceRanges.append(cidr)
        }
        svc.externalTrafficPolicy = try decodePolicy(spec["externalTrafficPolicy"])
        svc.internalTrafficPolicy = try decodePolicy(spec["internalTrafficPolicy"])
        if let h = spec["healthCheckNodePort"] { svc.healthCheckNodePort = try h.int(in: 0...65535) }
        if let p = spec["publishNotReadyAddresses"] { svc.publishNotReadyAddresses = try p.bool() }
        svc.trafficDistribution = try spec["trafficDistribution"]?.string()

        for ing in try f["status"]?["loadBalancer"]?["ingress"]?.list() ?? [] {
            var entry = LoadBalancerIngress(ip: nil)
            if let ipField = ing["ip"] {
                let text = try ipField.string()
                guard let ip = IPAddress(text) else { throw ipField.error("'\(text)' is not a valid IP address") }
                entry.ip = ip
            }
            entry.hostname = try ing["hostname"]?.string()
            if let m = ing["ipMode"] {
                let mode = try m.string()
                guard mode == "VIP" || mode == "Proxy" else { throw m.error("ipMode must be VIP or Proxy") }
                entry.ipMode = mode
            }
            svc.loadBalancerIngress.append(entry)
        }
        return svc
    }

    private static func decodePolicy(_ f: Field?) throws -> TrafficPolicy {
        guard let f else { return .cluster }
        let text = try f.string()
        // "Local"/"Cluster"; the v1 API once also accepted "OnlyLocal"/"Global".
        switch text {
        case "Local", "OnlyLocal": return .local
        case "Cluster", "Global": return .cluster
        default: throw f.error("unsupported traffic policy '\(text)' (must be Cluster or Local)")
        }
    }
}
