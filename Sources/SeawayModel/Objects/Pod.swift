/// A v1 Pod: labels, placement, IPs and declared container ports.
public struct Pod: Sendable, Hashable {
    public struct ContainerPort: Sendable, Hashable {
        public var name: String?
        public var port: Int
        public var proto: L4Protocol

        public init(name: String? = nil, port: Int, proto: L4Protocol = .tcp) {
            self.name = name
            self.port = port
            self.proto = proto
        }
    }

    public var metadata: ObjectMeta
    public var nodeName: String?
    public var hostNetwork: Bool
    public var hostname: String?
    public var subdomain: String?
    public var containerPorts: [ContainerPort]
    /// `status.podIPs` (or `[podIP]`).
    public var podIPs: [IPAddress]
    public var phase: String?

    public init(metadata: ObjectMeta, nodeName: String? = nil, hostNetwork: Bool = false,
                hostname: String? = nil, subdomain: String? = nil, containerPorts: [ContainerPort] = [],
                podIPs: [IPAddress] = [], phase: String? = nil) {
        self.metadata = metadata
        self.nodeName = nodeName
        self.hostNetwork = hostNetwork
        self.hostname = hostname
        self.subdomain = subdomain
        self.containerPorts = containerPorts
        self.podIPs = podIPs
        self.phase = phase
    }

    static func decode(_ f: Field) throws -> Pod {
        var pod = Pod(metadata: try ObjectMeta.decode(f, namespaced: true))
        if let spec = f["spec"] {
            pod.nodeName = try spec["nodeName"]?.string()
            pod.hostNetwork = try spec["hostNetwork"]?.bool() ?? false
            pod.hostname = try spec["hostname"]?.string()
            pod.subdomain = try spec["subdomain"]?.string()
            for key in ["initContainers", "containers"] {
                for c in try spec[key]?.list() ?? [] {
                    for p in try c["ports"]?.list() ?? [] {
                        guard let n = p["containerPort"] else { throw p.error("containerPort is required") }
                        var port = ContainerPort(port: try n.int(in: 1...65535), proto: try L4Protocol.decode(p["protocol"]))
                        if let name = p["name"] {
                            port.name = try name.string()
                            guard isDNSLabel(port.name!, maxLength: 15) else {
                                throw name.error("'\(port.name!)' is not a valid port name (IANA_SVC_NAME, at most 15 characters)")
                            }
                        }
                        pod.containerPorts.append(port)
                    }
                }
            }
        }
        if let status = f["status"] {
            pod.phase = try status["phase"]?.string()
            var ipFields = try (status["podIPs"]?.list() ?? []).compactMap { $0["ip"] }
            if ipFields.isEmpty, let one = status["podIP"] { ipFields = [one] }
            for ipField in ipFields {
                let text = try ipField.string()
                guard let ip = IPAddress(text) else { throw ipField.error("'\(text)' is not a valid IP address") }
                pod.podIPs.append(ip)
            }
        }
        return pod
    }
}
