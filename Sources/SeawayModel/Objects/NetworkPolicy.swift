/// A networking.k8s.io/v1 NetworkPolicy, validated as the API server validates it.
public struct NetworkPolicy: Sendable, Hashable {
    public struct IPBlock: Sendable, Hashable {
        public var cidr: CIDR
        public var except: [CIDR]
    }

    public struct Peer: Sendable, Hashable {
        public var podSelector: LabelSelector?
        public var namespaceSelector: LabelSelector?
        public var ipBlock: IPBlock?
    }

    public struct PolicyPort: Sendable, Hashable {
        public var proto: L4Protocol
        /// nil means every port.
        public var port: IntOrString?
        public var endPort: Int?
    }

    public struct Rule: Sendable, Hashable {
        /// `from` (ingress) or `to` (egress). Absent or empty matches every peer, as the API
        /// documents ("If this field is empty or missing, this rule matches all sources").
        public var peers: [Peer]?
        /// Absent or empty matches every port.
        public var ports: [PolicyPort]?

        public var matchesAllPeers: Bool { peers?.isEmpty ?? true }
        public var matchesAllPorts: Bool { ports?.isEmpty ?? true }
    }

    public enum PolicyType: String, Sendable, Hashable {
        case ingress = "Ingress"
        case egress = "Egress"
    }

    public var metadata: ObjectMeta
    public var podSelector: LabelSelector
    public var policyTypes: [PolicyType]
    public var ingress: [Rule]
    public var egress: [Rule]

    static func decode(_ f: Field) throws -> NetworkPolicy {
        let meta = try ObjectMeta.decode(f, namespaced: true)
        guard let spec = f["spec"] else { throw f.error("spec is required") }
        let selector = try spec["podSelector"].map(LabelSelector.decode) ?? LabelSelector()
        let ingress = try (spec["ingress"]?.list() ?? []).map { try decodeRule($0, peersKey: "from") }
        let egress = try (spec["egress"]?.list() ?? []).map { try decodeRule($0, peersKey: "to") }
        var types: [PolicyType] = []
        if let t = spec["policyTypes"] {
            for item in try t.list() {
                let text = try item.string()
                guard let type = PolicyType(rawValue: text) else {
                    throw item.error("unsupported policy type '\(text)' (must be Ingress or Egress)")
                }
                types.append(type)
            }
        } else {
            // The API server's defaulting: Ingress always, Egress only when egress rules exist.
            types = [.ingress]
            if !egress.isEmpty { types.append(.egress) }
        }
        return NetworkPolicy(metadata: meta, podSelector: selector, policyTypes: types,
                             ingress: ingress, egress: egress)
    }

    private static func decodeRule(_ f: Field, peersKey: String) throws -> Rule {
        var rule = Rule(peers: nil, ports: nil)
        if let peers = f[peersKey] {
            rule.peers = try peers.list().map(decodePeer)
        }
        if let ports = f["ports"] {
            rule.ports = try ports.list().map(decodePort)
        }
        return rule
    }

    private static func decodePeer(_ f: Field) throws -> Peer {
        var peer = Peer()
        peer.podSelector = try f["podSelector"].map(LabelSelector.decode)
        peer.namespaceSelector = try f["namespaceSelector"].map(LabelSelector.decode)
        if let b = f["ipBlock"] {
            guard peer.podSelector == nil && peer.namespaceSelector == nil else {
                throw b.error("may not be combined with podSelector or namespaceSelector")
            }
            guard let c = b["cidr"] else { throw b.error("cidr is required") }
            let text = try c.string()
            guard let cidr = CIDR(text) else { throw c.error("'\(text)' is not a valid CIDR") }
            var block = IPBlock(cidr: cidr, except: [])
            for e in try b["except"]?.list() ?? [] {
                let et = try e.string()
                guard let ex = CIDR(et) else { throw e.error("'\(et)' is not a valid CIDR") }
                guard ex.family == cidr.family, cidr.contains(ex.network), ex.prefixLength > cidr.prefixLength else {
                    throw e.error("'\(et)' must be strictly within cidr \(cidr)")
                }
                block.except.append(ex)
            }
            peer.ipBlock = block
        }
        if peer.podSelector == nil && peer.namespaceSelector == nil && peer.ipBlock == nil {
            throw f.error("must specify podSelector, namespaceSelector or ipBlock")
        }
        return peer
    }

    private static func decodePort(_ f: Field) throws -> PolicyPort {
        var port = PolicyPort(proto: try L4Protocol.decode(f["protocol"]), port: nil, endPort: nil)
        if let p = f["port"] {
            let value = try IntOrString.decode(p)
            switch value {
            case let .int(n):
                guard (1...65535).contains(n) else { throw p.error("\(n) is out of range (1-65535)") }
            case let .string(s):
                guard isDNSLabel(s, maxLength: 15) else { throw p.error("'\(s)' is not a valid port name") }
            }
            port.port = value
        }
        if let e = f["endPort"] {
            let end = try e.int(in: 1...65535)
            guard case let .int(start)? = port.port else {
                throw e.error("endPort may only be used with a numeric port")
            }
            guard end >= start else { throw e.error("endPort \(end) must be greater than or equal to port \(start)") }
            port.endPort = end
        }
        return port
    }
}
