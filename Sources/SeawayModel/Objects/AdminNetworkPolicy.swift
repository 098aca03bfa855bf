/// A cluster-scoped admin policy from sigs.k8s.io/network-policy-api, validated as its CRD
/// validates it: an AdminNetworkPolicy (admin tier) or BaselineAdminNetworkPolicy (baseline
/// tier) of policy.networking.k8s.io/v1alpha1, or a ClusterNetworkPolicy of
/// policy.networking.k8s.io/v1alpha2 (either tier; its Accept is Allow here).
///
/// Unlike NetworkPolicy, rules have actions and an order: within a tier, policies are taken
/// by priority (lower first) and rules in the order written; the first rule matching a
/// connection decides it (Allow, Deny, or Pass to the next tier).
public struct AdminNetworkPolicy: Sendable, Hashable {
    public enum Tier: String, Sendable, Hashable {
        case admin = "Admin"
        case baseline = "Baseline"
    }

    public enum Action: String, Sendable, Hashable {
        case allow = "Allow"
        case deny = "Deny"
        /// Skips the rest of the tier: the next tier decides.
        case pass = "Pass"

        var order: Int { self == .allow ? 0 : self == .deny ? 1 : 2 }
    }

    /// Pods selected by namespace, or by namespace and pod labels. Host-network pods are never
    /// selected.
    public struct PodSelection: Sendable, Hashable {
        public var namespaceSelector: LabelSelector
        /// nil: every pod of the selected namespaces.
        public var podSelector: LabelSelector?
    }

    public enum Peer: Sendable, Hashable {
        case pods(PodSelection)
        /// Egress only: the addresses of nodes whose labels match.
        case nodes(LabelSelector)
        /// Egress only: addresses in these ranges, pod addresses included.
        case networks([CIDR])
    }

    public enum Port: Sendable, Hashable {
        case number(L4Protocol, Int)
        case range(L4Protocol, ClosedRange<Int>)
        /// A container port name of the destination pod.
        case named(String)
    }

    public struct Rule: Sendable, Hashable {
        public var name: String?
        public var action: Action
        /// The action as the API spells it (`Accept` for ClusterNetworkPolicy).
        public var actionName: String
        public var peers: [Peer]
        /// nil: every port.
        public var ports: [Port]?
    }

    public var metadata: ObjectMeta
    /// The API kind, for messages: `AdminNetworkPolicy`, `BaselineAdminNetworkPolicy` or `ClusterNetworkPolicy`.
    public var kind: String
    public var tier: Tier
    /// 0-1000, lower first. A BaselineAdminNetworkPolicy has none; it sorts as 1001, after
    /// baseline-tier ClusterNetworkPolicies (the two API versions are not meant to coexist).
    public var priority: Int
    public var subject: PodSelection
    public var ingress: [Rule]
    public var egress: [Rule]

    public func rules(_ direction: NetworkPolicy.PolicyType) -> [Rule] {
        direction == .ingress ? ingress : egress
    }

    static func decode(_ f: Field, tier: Tier) throws -> AdminNetworkPolicy {
        let kind = tier == .admin ? "AdminNetworkPolicy" : "BaselineAdminNetworkPolicy"
        let meta = try ObjectMeta.decode(f, namespaced: false)
        guard let spec = f["spec"] else { throw f.error("spec is required") }
        var priority = 0
        if tier == .admin {
            guard let p = spec["priority"] else { throw spec.error("priority is required") }
            priority = try p.int(in: 0...1000)
        } else if meta.name != "default" {
            // The CRD allows exactly one baseline policy, named "default".
            throw FieldError(path: "metadata.name", line: f["metadata"]?.line,
                             message: "a BaselineAdminNetworkPolicy must be named 'default', not '\(meta.name)'")
        } else {
            priority = 1001
        }
        guard let s = spec["subject"] else { throw spec.error("subject is required") }
        let subject = try decodeSelection(s, namespacesKey: "namespaces")
        let actions: [String: Action] = tier == .admin ? ["Allow": .allow, "Deny": .deny, "Pass": .pass]
            : ["Allow": .allow, "Deny": .deny]
        let syntax = RuleSyntax(actions: actions, maxRules: 100, maxPeers: 100, portsKey: "ports", decodePorts: decodePorts)
        let ingress = try decodeRules(spec["ingress"], peersKey: "from", syntax: syntax, peerKinds: ["namespaces", "pods"])
        let egress = try decodeRules(spec["egress"], peersKey: "to", syntax: syntax,
                                     peerKinds: ["namespaces", "pods", "nodes", "networks"])
        return AdminNetworkPolicy(metadata: meta, kind: kind, tier: tier, priority: priority, subject: subject,
                                  ingress: ingress, egress: egress)
    }

    /// A policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy.
    static func decodeClusterNetworkPolicy(_ f: Field) throws -> AdminNetworkPolicy {
        let meta = try ObjectMeta.decode(f, namespaced: false)
        guard let spec = f["spec"] else { throw f.error("spec is required") }
        guard let t = spec["tier"] else { throw spec.error("tier is required") }
        let tierText = try t.string()
        guard let tier = Tier(rawValue: tierText) else { throw t.error("unsupported tier '\(tierText)' (must be Admin or Baseline)") }
        guard let p = spec["priority"] else { throw spec.error("priority is required") }
        let priority = try p.int(in: 0...1000)
        guard let s = spec["subject"] else { throw spec.error("subject is required") }
        let subject = try decodeSelection(s, namespacesKey: "namespaces")
        let syntax = RuleSyntax(actions: ["Accept": .allow, "Deny": .deny, "Pass": .pass], maxRules: 25, maxPeers: 25,
                                portsKey: "protocols", decodePorts: decodeProtocols)
        let ingress = try decodeRules(spec["ingress"], peersKey: "from", syntax: syntax, peerKinds: ["namespaces", "pods"])
        let egress = try decodeRules(spec["egress"], peersKey: "to", syntax: syntax,
                                     peerKinds: ["namespaces", "pods", "nodes", "networks", "domainNames"])
        return AdminNetworkPolicy(metadata: meta, kind: "ClusterNetworkPolicy", tier: tier, priority: priority,
                                  subject: subject, ingress: ingress, egress: egress)
    }

    /// What differs between the two API versions' rules.
    private struct RuleSyntax {
        var actions: [String: Action]
        var maxRules: Int
        var maxPeers: Int
        var portsKey: String
        var decodePorts: (Field) throws -> [Port]
    }

    /// `{namespaces: selector}` or `{pods: {namespaceSelector, podSelector}}`, exactly one.
    private static func decodeSelection(_ f: Field, namespacesKey: String) throws -> PodSelection {
        let (key, value) = try f.oneOf([namespacesKey, "pods"])
        if key == namespacesKey { return PodSelection(namespaceSelector: try LabelSelector.decode(value), podSelector: nil) }
        guard let ns = value["namespaceSelector"] else { throw value.error("namespaceSelector is required") }
        guard let pod = value["podSelector"] else { throw value.error("podSelector is required") }
        return PodSelection(namespaceSelector: try LabelSelector.decode(ns), podSelector: try LabelSelector.decode(pod))
    }

    private static func decodeRules(_ f: Field?, peersKey: String, syntax: RuleSyntax, peerKinds: [String]) throws -> [Rule] {
        guard let f else { return [] }
        let items = try f.list()
        if items.count > syntax.maxRules { throw f.error("at most \(syntax.maxRules) rules are allowed, found \(items.count)") }
        return try items.map { r in
            guard let a = r["action"] else { throw r.error("action is required") }
            let text = try a.string()
            guard let action = syntax.actions[text] else {
                let names = syntax.actions.sorted { $0.value.order < $1.value.order }.map(\.key)
                throw a.error("unsupported action '\(text)' (must be \(names.joined(separator: ", ")))")
            }
            guard let peersField = r[peersKey] else { throw r.error("\(peersKey) is required") }
            let peerItems = try peersField.list()
            guard (1...syntax.maxPeers).contains(peerItems.count) else {
                throw peersField.error("must have 1 to \(syntax.maxPeers) peers")
            }
            var peers: [Peer] = []
            for item in peerItems {
                if let peer = try decodePeer(item, kinds: peerKinds) {
                    peers.append(peer)
                } else if action != .allow {
                    throw item.error("domainNames peers are only allowed in Accept rules")
                }
            }
            var ports: [Port]?
            if let p = r[syntax.portsKey] {
                guard (1...syntax.maxPeers).contains(try p.list().count) else {
                    throw p.error("must have 1 to \(syntax.maxPeers) entries when set")
                }
                ports = try syntax.decodePorts(p)
            }
            let hasAddressPeer = peerItems.contains { item in !item.keys.contains("namespaces") && !item.keys.contains("pods") }
            if let ports, hasAddressPeer, ports.contains(where: { if case .named = $0 { return true }; return false }) {
                throw r.error("named ports cannot be used with nodes, networks or domainNames peers (they have no named ports)")
            }
            return Rule(name: try r["name"]?.string(), action: action, actionName: text, peers: peers, ports: ports)
        }
    }

    /// A peer; nil for a domainNames peer, which names no address Seaway can know offline.
    private static func decodePeer(_ f: Field, kinds: [String]) throws -> Peer? {
        let (key, value) = try f.oneOf(kinds)
        switch key {
        case "domainNames":
            _ = try value.stringList()
            return nil
        case "namespaces":
            return .pods(PodSelection(namespaceSelector: try LabelSelector.decode(value), podSelector: nil))
        case "pods":
            return .pods(try decodeSelection(f, namespacesKey: "namespaces"))
        case "nodes":
            return .nodes(try LabelSelector.decode(value))
        default:
            let items = try value.list()
            guard (1...25).contains(items.count) else { throw value.error("must have 1 to 25 CIDRs") }
            return .networks(try items.map { item in
                let text = try item.string()
                guard let cidr = CIDR(text) else { throw item.error("'\(text)' is not a valid CIDR") }
                return cidr
            })
        }
    }

    private static func decodePorts(_ f: Field) throws -> [Port] { try f.list().map(decodePort) }

    /// v1alpha2 `protocols`: `{tcp|udp|sctp: {destinationPort: {number | range: {start, end}}}}`
    /// or `{destinationNamedPort: name}`.
    private static func decodeProtocols(_ f: Field) throws -> [Port] {
        try f.list().map { item in
            let (key, value) = try item.oneOf(["tcp", "udp", "sctp", "destinationNamedPort"])
            if key == "destinationNamedPort" {
                let name = try value.string()
                guard isDNSLabel(name, maxLength: 15) else { throw value.error("'\(name)' is not a valid port name") }
                return .named(name)
            }
            let proto: L4Protocol = key == "tcp" ? .tcp : key == "udp" ? .udp : .sctp
            guard let d = value["destinationPort"] else { throw value.error("destinationPort is required") }
            let (kind, port) = try d.oneOf(["number", "range"])
            if kind == "number" { return .number(proto, try port.int(in: 1...65535)) }
            guard let s = port["start"] else { throw port.error("start is required") }
            guard let e = port["end"] else { throw port.error("end is required") }
            let start = try s.int(in: 1...65535), end = try e.int(in: 1...65535)
            guard start < end else { throw e.error("end \(end) must be greater than start \(start)") }
            return .range(proto, start...end)
        }
    }

    private static func decodePort(_ f: Field) throws -> Port {
        let (key, value) = try f.oneOf(["portNumber", "namedPort", "portRange"])
        switch key {
        case "portNumber":
            guard let p = value["port"] else { throw value.error("port is required") }
            return .number(try L4Protocol.decode(value["protocol"]), try p.int(in: 1...65535))
        case "namedPort":
            let name = try value.string()
            guard isDNSLabel(name, maxLength: 15) else { throw value.error("'\(name)' is not a valid port name") }
            return .named(name)
        default:
            guard let s = value["start"] else { throw value.error("start is required") }
            guard let e = value["end"] else { throw value.error("end is required") }
            let start = try s.int(in: 1...65535), end = try e.int(in: 1...65535)
            guard start < end else { throw e.error("end \(end) must be greater than start \(start)") }
            return .range(try L4Protocol.decode(value["protocol"]), start...end)
        }
    }
}
