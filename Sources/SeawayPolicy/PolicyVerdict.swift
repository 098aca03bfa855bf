import SeawayModel

/// A policy as verdicts and lint findings name it: a NetworkPolicy (namespaced), or for
/// lint also a cluster-scoped admin policy (empty namespace).
public struct PolicyRef: Sendable, Hashable, CustomStringConvertible {
    public var kind: String = "NetworkPolicy"
    public var namespace: String
    public var name: String
    public var source: ManifestLocation?

    /// `Kind ns/name` or `Kind name`.
    public var object: String { namespace.isEmpty ? "\(kind) \(name)" : "\(kind) \(namespace)/\(name)" }

    public var description: String {
        object + (source.map { " (\($0))" } ?? "")
    }
}

/// Which rule of which policy let a connection through: `ingress[ruleIndex]` (or egress),
/// through `from[peerIndex]` (nil: the rule has no peer list, so every peer) and
/// `ports[portIndex]` (nil: every port).
public struct RuleMatch: Sendable, Hashable, CustomStringConvertible {
    public var policy: PolicyRef
    public var direction: NetworkPolicy.PolicyType
    public var ruleIndex: Int
    public var peerIndex: Int?
    public var portIndex: Int?

    public var description: String {
        let list = direction == .ingress ? "ingress" : "egress"
        let peers = direction == .ingress ? "from" : "to"
        var text = "\(policy): \(list)[\(ruleIndex)]"
        text += peerIndex.map { ", \(peers)[\($0)]" } ?? ", any peer"
        text += portIndex.map { ", ports[\($0)]" } ?? ", any port"
        return text
    }
}

/// The verdict for one direction: the source pod's egress or the destination pod's ingress.
public struct DirectionVerdict: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// No policy applies on this side, with why (e.g. "the source is not a pod").
        case notApplicable(String)
        /// Policies exist, none isolates the pod for this direction.
        case notIsolated
        /// Always allowed, whatever the policies say, with why.
        case alwaysAllowed(String)
        case allowed(by: [RuleMatch])
        /// Isolated by these policies, and none of their rules matched.
        case denied
        /// An AdminNetworkPolicy rule decided (Allow or Deny), before any NetworkPolicy.
        case admin(AdminRuleMatch)
        /// No NetworkPolicy isolates the pod, and a baseline-tier rule decided (a Pass there
        /// leaves only the default: allowed).
        case baseline(AdminRuleMatch)
    }

    public var direction: NetworkPolicy.PolicyType
    /// The pod this side is about, as `ns/name`.
    public var pod: String?
    /// Policies selecting the pod that isolate it for this direction.
    public var isolatingPolicies: [PolicyRef]
    public var outcome: Outcome
    /// The admin-tier rule that passed the connection on to NetworkPolicy, if one did.
    public var passedBy: AdminRuleMatch?

    public init(direction: NetworkPolicy.PolicyType, pod: String?, isolatingPolicies: [PolicyRef], outcome: Outcome,
                passedBy: AdminRuleMatch? = nil) {
        self.direction = direction
        self.pod = pod
        self.isolatingPolicies = isolatingPolicies
        self.outcome = outcome
        self.passedBy = passedBy
    }

    public var allows: Bool {
        switch outcome {
        case .denied: return false
        // A baseline Pass leaves no tier after it: the default, allowed.
        case let .admin(m), let .baseline(m): return m.action != .deny
        default: return true
        }
    }
}

/// May A reach B on this port? Both directions' verdicts, and the result.
public struct PolicyVerdict: Sendable, Hashable {
    public var from: String
    public var to: String
    public var port: Int
    public var proto: L4Protocol
    public var egress: DirectionVerdict
    public var ingress: DirectionVerdict

    public var allowed: Bool { egress.allows && ingress.allows }
}
