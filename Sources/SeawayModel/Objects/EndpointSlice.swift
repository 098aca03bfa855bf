/// A discovery.k8s.io/v1 EndpointSlice.
public struct EndpointSlice: Sendable, Hashable {
    public enum AddressType: String, Sendable, Hashable {
        case ipv4 = "IPv4"
        case ipv6 = "IPv6"
        case fqdn = "FQDN"

        public var family: IPFamily? {
            switch self {
            case .ipv4: return .ipv4
            case .ipv6: return .ipv6
            case .fqdn: return nil
            }
        }
    }

    public struct Conditions: Sendable, Hashable {
        /// nil means "unknown", which consumers read as true for ready/serving.
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?

        public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
            self.ready = ready
            self.serving = serving
            self.terminating = terminating
        }
    }

    public struct TargetRef: Sendable, Hashable {
        public var kind: String?
        public var namespace: String?
        public var name: String?

        public init(kind: String? = nil, namespace: String? = nil, name: String? = nil) {
            self.kind = kind
            self.namespace = namespace
            self.name = name
        }
    }

    public struct Endpoint: Sendable, Hashable {
        /// Normalised address text (for FQDN slices, the name as given).
        public var addresses: [String] {
            didSet { if addresses.first != oldValue.first { firstAddress = addresses.first.flatMap { IPAddress($0) } } }
        }
        /// The first address parsed, the one kube-proxy uses (nil for an FQDN): parsed when
        /// the address is set, not by every render of the cluster.
        public private(set) var firstAddress: IPAddress?
        public var conditions: Conditions
        public var hostname: String?
        public var nodeName: String?
        public var zone: String?
        public var targetRef: TargetRef?
        public var zoneHints: [String]
        public var nodeHints: [String]

        public init(addresses: [String], conditions: Conditions = Conditions(), hostname: String? = nil,
                    nodeName: String? = nil, zone: String? = nil, targetRef: TargetRef? = nil,
                    zoneHints: [String] = [], nodeHints: [String] = []) {
            self.addresses = addresses
            firstAddress = addresses.first.flatMap { IPAddress($0) }
            self.conditions = conditions
            self.hostname = hostname
            self.nodeName = nodeName
            self.zone = zone
            self.targetRef = targetRef
            self.zoneHints = zoneHints
            self.nodeHints = nodeHints
        }
    }

    public struct Port: Sendable, Hashable {
        /// nil is "all ports" in the API; kube-proxy ignores such ports.
        public var name: String?
        public var port: Int?
        public var proto: L4Protocol
        public var appProtocol: String?

        public init(name: String? = "", port: Int?, proto: L4Protocol = .tcp, appProtocol: String? = nil) {
            self.name = name
            self.port = port
            self.proto = proto
            self.appProtocol = appProtocol
        }
    }

    public static let serviceNameLabel = "kubernetes.io/service-name"

    public var metadata: ObjectMeta
    public var addressType: AddressType
    public var endpoints: [Endpoint]
    public var ports: [Port]

    public init(metadata: ObjectMeta, addressType: AddressType, endpoints: [Endpoint] = [], ports: [Port] = []) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    /// The Service this slice belongs to (`kubernetes.io/service-name`).
    public var serviceName: String? { metadata.labels[EndpointSlice.serviceNameLabel] }
}

extension EndpointSlice {
    static func decode(_ f: Field) throws -> EndpointSlice {
        let meta = try ObjectMeta.decode(f, namespaced: true)
        guard let at = f["addressType"] else { throw f.error("addressType is required") }
        let atText = try at.string()
        guard let addressType = AddressType(rawValue: atText) else {
            throw at.error("unsupported addressType '\(atText)' (must be IPv4, IPv6 or FQDN)")
        }
        var slice = EndpointSlice(metadata: meta, addressType: addressType)
        for e in try f["endpoints"]?.list() ?? [] {
            try e.requireMapping()
            guard let addrs = e["addresses"] else { throw e.error("addresses is required") }
            var endpoint = Endpoint(addresses: [])
            for a in try addrs.list() {
                let text = try a.string()
                if let family = addressType.family {
                    guard let ip = IPAddress(text), ip.family == family else {
                        throw a.error("'\(text)' is not a valid \(family.rawValue) address")
                    }
                    endpoint.addresses.append(ip.description)
                } else {
                    endpoint.addresses.append(text)
                }
            }
            if endpoint.addresses.isEmpty { throw addrs.error("must contain at least one address") }
            if let c = e["conditions"] {
                endpoint.conditions.ready = try c["ready"]?.bool()
                endpoint.conditions.serving = try c["serving"]?.bool()
                endpoint.conditions.terminating = try c["terminating"]?.bool()
            }
            endpoint.hostname = try e["hostname"]?.string()
            endpoint.nodeName = try e["nodeName"]?.string()
            endpoint.zone = try e["zone"]?.string()
            if let t = e["targetRef"] {
                endpoint.targetRef = TargetRef(kind: try t["kind"]?.string(),
                                               namespace: try t["namespace"]?.string(),
                                               name: try t["name"]?.string())
            }
            if let h = e["hints"] {
                endpoint.zoneHints = try (h["forZones"]?.list() ?? []).map { try $0["name"]?.string() ?? "" }
                endpoint.nodeHints = try (h["forNodes"]?.list() ?? []).map { try $0["name"]?.string() ?? "" }
            }
            slice.endpoints.append(endpoint)
        }
        for p in try f["ports"]?.list() ?? [] {
            try p.requireMapping()
            var port = Port(name: try p["name"]?.string(), port: nil, proto: try L4Protocol.decode(p["protocol"]))
            if let n = p["port"] { port.port = try n.int(in: 0...65535) }
            port.appProtocol = try p["appProtocol"]?.string()
            slice.ports.append(port)
        }
        return slice
    }
}
