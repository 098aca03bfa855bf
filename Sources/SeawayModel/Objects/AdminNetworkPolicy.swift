/// A cluster-scoped admin policy from sigs.k8s.io/network-policy-api: an AdminNetworkPolicy
/// (admin tier) or a BaselineAdminNetworkPolicy (baseline tier), policy.networking.k8s.io/v1alpha1,
/// validated as their CRDs validate them.
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
        /// Skips the rest of the tier: the NetworkPolicy tier (then the baseline) decides.
        case pass = "Pass"
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
        public var peers: [Peer]
        /// nil: every port.
        public var ports: [Port]?
    }

    public var metadata: ObjectMeta
    /// The API kind, for messages: `AdminNetworkPolicy` or `BaselineAdminNetworkPolicy`.
    public var kind: String
    public var tier: Tier
    /// 0-1000 for the admin tier, lower first; the baseline tier has one policy.
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
        }
        guard let s = spec["subject"] else { throw spec.error("subject is required") }
        let subject = try decodeSelection(s, namespacesKey: "namespaces")
        let allowed: [Action] = tier == .admin ? [.allow, .deny, .pass] : [.allow, .deny]
        let ingress = try decodeRules(spec["ingress"], peersKey: "from", actions: allowed, peerKinds: ["namespaces", "pods"])
        let egress = try decodeRules(spec["egress"], peersKey: "to", actions: allowed,
                                     peerKinds: ["namespaces", "pods", "nodes", "networks"])
        return AdminNetworkPolicy(metadata: meta, kind: kind, tier: tier, priority: priority, subject: subject,
                                  ingress: ingress, egress: egress)
    }

    /// `{namespaces: selector}` or `{pods: {namespaceSelector, podSelector}}`, exactly one.
    private static func decodeSelection(_ f: Field, namespacesKey: String) throws -> PodSelection {
        let (key, value) = try f.oneOf([namespacesKey, "pods"])
        if key == namespacesKey { return PodSelection(namespaceSelector: try LabelSelector.decode(value), podSelector: nil) }
        guard let ns = value["namespaceSelector"] else { throw value.error("namespaceSelector is required") }
        guard let pod = value["podSelector"] else { throw value.error("podSelector is required") }
        return PodSelection(namespaceSelector: try LabelSelector.decode(ns), podSelector: try LabelSelector.decode(pod))
    }

    private static func decodeRules(_ f: Field?, peersKey: String, actions: [Action], peerKinds: [String]) throws -> [Rule] {
        guard let f else { return [] }
        let items = try f.list()
        if items.count > 100 { throw f.error("at most 100 rules are allowed, found \(items.count)") }
        return try items.map { r in
            guard let a = r["action"] else { throw r.error("action is required") }
            let text = try a.string()
            guard let action = Action(rawValue: text), actions.contains(action) else {
                throw a.error("unsupported action '\(text)' (must be \(actions.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let peersField = r[peersKey] else { throw r.error("\(peersKey) is required") }
            let peerItems = try peersField.list()
            guard (1...100).contains(peerItems.count) else { throw peersField.error("must have 1 to 100 peers") }
            let peers = try peerItems.map { try decodePeer($0, kinds: peerKinds) }
            var ports: [Port]?
            if let p = r["ports"] {
                let list = try p.list()
                guard (1...100).contains(list.count) else { throw p.error("must have 1 to 100 ports when set") }
                ports = try list.map(decodePort)
            }
            if let ports, ports.contains(where: { if case .named = $0 { return true }; return false }),
               peers.contains(where: { if case .pods = $0 { return false }; return true }) {
                throw r.error("named ports cannot be used with nodes or networks peers (they have no named ports)")
            }
            return Rule(name: try r["name"]?.string(), action: action, peers: peers, ports: ports)
        }
    }

    private static func decodePeer(_ f: Field, kinds: [String]) throws -> Peer {
        let (key, value) = try f.oneOf(kinds)
        switch key {
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
