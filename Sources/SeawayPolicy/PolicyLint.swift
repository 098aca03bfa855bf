import SeawayModel

/// Something in a policy that is legal but probably not what its author meant.
public struct LintFinding: Sendable, Hashable, CustomStringConvertible {
    public enum Check: String, Sendable, Hashable, CaseIterable {
        /// The policy's podSelector matches no pod.
        case selectsNothing = "selects-nothing"
        /// A selector peer matches no pod.
        case peerMatchesNothing = "peer-matches-nothing"
        /// Everything a rule allows, another rule already allows.
        case shadowedRule = "shadowed-rule"
        /// A named port that no pod it could apply to declares.
        case unknownNamedPort = "unknown-named-port"
        /// Adjacent peers with only namespaceSelector and only podSelector: two peers (OR),
        /// where one peer with both (AND) was probably meant.
        case splitPeer = "split-peer"
    }

    public var policy: PolicyRef
    public var check: Check
    /// Where in the policy, e.g. `spec.ingress[0].from[1]`.
    public var field: String
    public var message: String

    /// `file:line: Kind ns/name: field: warning: message [check]` (`Kind name` when cluster-scoped)
    public var description: String {
        let place = policy.source.map { "\($0): " } ?? ""
        return "\(place)\(policy.object): \(field): warning: \(message) [\(check.rawValue)]"
    }
}

extension PolicyEvaluator {
    /// Lints every policy against the pods and namespaces in the manifests. Findings come in
    /// policy order (NetworkPolicies by namespace and name, then admin policies in evaluation
    /// order), then field order.
    public func lint() -> [LintFinding] {
        networkPolicyFindings() + adminPolicyFindings()
    }

    /// `spec.ingress` / `from`, or `spec.egress` / `to`: the field names findings use.
    func fieldNames(_ direction: NetworkPolicy.PolicyType) -> (list: String, peers: String) {
        direction == .ingress ? ("ingress", "from") : ("egress", "to")
    }

    private func networkPolicyFindings() -> [LintFinding] {
        var findings: [LintFinding] = []
        for (p, indexed) in index.policies.enumerated() {
            let ref = indexed.ref
            let selected = index.selectedPods[p]
            if selected.isEmpty {
                findings.append(LintFinding(policy: ref, check: .selectsNothing, field: "spec.podSelector",
                                            message: "selects no pod in namespace \(ref.namespace)"))
            }
            for direction in [NetworkPolicy.PolicyType.ingress, .egress] {
                let (list, peersKey) = fieldNames(direction)
                for (r, rule) in indexed.rules(direction).enumerated() {
                    let ruleField = "spec.\(list)[\(r)]"
                    for (i, peer) in (rule.rule.peers ?? []).enumerated() where rule.peerPods[i]?.isEmpty == true {
                        findings.append(LintFinding(policy: ref, check: .peerMatchesNothing, field: "\(ruleField).\(peersKey)[\(i)]",
                                                    message: "\(peer.selectorSummary) matches no pod"))
                    }
                    findings += splitPeers(rule.rule, ref: ref, field: "\(ruleField).\(peersKey)")
                    findings += unknownNamedPorts(rule, direction: direction, selected: selected, ref: ref, field: ruleField)
                    if let shadow = shadowingRule(policy: p, direction: direction, rule: r) {
                        let other = index.policies[shadow.policy]
                        let by = shadow.policy == p ? "\(list)[\(shadow.rule)] of this policy"
                            : "\(other.ref) \(list)[\(shadow.rule)]"
                        findings.append(LintFinding(policy: ref, check: .shadowedRule, field: ruleField,
                                                    message: "allows nothing that \(by) does not already allow (for the pods in these manifests)"))
                    }
                }
            }
        }
        return findings
    }

    /// The classic YAML trap: `- namespaceSelector: …` followed by `- podSelector: …` is two
    /// peers (any pod in those namespaces, or those pods in the policy's namespace), when
    /// `podSelector` indented under the same dash (both at once) was usually meant.
    private func splitPeers(_ rule: NetworkPolicy.Rule, ref: PolicyRef, field: String) -> [LintFinding] {
        guard let peers = rule.peers, peers.count > 1 else { return [] }
        var findings: [LintFinding] = []
        for i in 0..<(peers.count - 1) {
            let a = peers[i], b = peers[i + 1]
            let namespaceOnly = { (p: NetworkPolicy.Peer) in p.namespaceSelector != nil && p.podSelector == nil && p.ipBlock == nil }
            let podOnly = { (p: NetworkPolicy.Peer) in p.podSelector != nil && p.namespaceSelector == nil && p.ipBlock == nil }
            guard (namespaceOnly(a) && podOnly(b)) || (podOnly(a) && namespaceOnly(b)) else { continue }
            // A pod selector that is empty anyway means "all pods of my namespace": OR is then deliberate.
            guard !(a.podSelector ?? b.podSelector!).isEmpty else { continue }
            findings.append(LintFinding(
                policy: ref, check: .splitPeer, field: "\(field)[\(i)], \(field)[\(i + 1)]",
                message: "two peers (either matches): every pod in the selected namespaces, or the selected pods of namespace \(ref.namespace); for pods matching both, put namespaceSelector and podSelector in one peer (drop the second '-')"))
        }
        return findings
    }

    private func unknownNamedPorts(_ rule: PolicyIndex.IndexedRule, direction: NetworkPolicy.PolicyType,
                                   selected: PodSet, ref: PolicyRef, field: String) -> [LintFinding] {
        var findings: [LintFinding] = []
        for (i, entry) in (rule.rule.ports ?? []).enumerated() {
            guard case let .string(name)? = entry.port else { continue }
            // Ingress ports are the selected pods'; egress ports the destinations'.
            var candidates = selected
            if direction == .egress {
                candidates = index.networkPods
                // An ipBlock peer can reach any pod; otherwise only the selector peers' pods.
                if !rule.rule.matchesAllPeers && !rule.rule.peers!.contains(where: { $0.ipBlock != nil }) {
                    candidates = PodSet(unionOf: rule.peerPods, count: index.pods.count)
                }
            }
            let declared = candidates.members.contains { id in
                index.pods[id].containerPorts.contains { $0.name == name && $0.proto == entry.proto }
            }
            if !declared {
                let whose = direction == .ingress ? "no pod this policy selects" : "no pod this rule can reach"
                findings.append(LintFinding(policy: ref, check: .unknownNamedPort, field: "\(field).ports[\(i)]",
                                            message: "\(whose) declares a container port named '\(name)' (\(entry.proto.rawValue))"))
            }
        }
        return findings
    }

    /// Another rule, of a policy isolating at least the same pods in the same direction, that
    /// allows every peer and port this one does. Of two identical rules only the later one is
    /// reported.
    private func shadowingRule(policy p: Int, direction: NetworkPolicy.PolicyType, rule r: Int) -> (policy: Int, rule: Int)? {
        let me = index.policies[p]
        let rule = me.rules(direction)[r]
        guard me.policy.policyTypes.contains(direction) else { return nil }
        // Rules that allow nothing are reported as such, not as shadowed.
        if !rule.rule.matchesAllPeers && rule.peerPods.allSatisfy({ $0?.isEmpty ?? false }) { return nil }
        let selected = index.selectedPods[p]
        if selected.isEmpty { return nil }
        for q in index.policies.indices where index.policies[q].ref.namespace == me.ref.namespace {
            let other = index.policies[q]
            guard other.policy.policyTypes.contains(direction),
                  selected.isSubset(of: index.selectedPods[q]) else { continue }
            for (s, candidate) in other.rules(direction).enumerated() where !(q == p && s == r) {
                guard covers(candidate, rule) else { continue }
                // Equivalent rules (each covers the other, same pods): blame the later one only.
                let equivalent = covers(rule, candidate) && index.selectedPods[q].isSubset(of: selected)
                if equivalent && (q, s) > (p, r) { continue }
                return (q, s)
            }
        }
        return nil
    }

    /// Whether `a` allows every peer and port `b` allows.
    private func covers(_ a: PolicyIndex.IndexedRule, _ b: PolicyIndex.IndexedRule) -> Bool {
        coversPeers(a, b) && coversPorts(a.rule, b.rule)
    }

    private func coversPeers(_ a: PolicyIndex.IndexedRule, _ b: PolicyIndex.IndexedRule) -> Bool {
        if a.rule.matchesAllPeers { return true }
        if b.rule.matchesAllPeers { return false }
        let aPods = PodSet(unionOf: a.peerPods, count: index.pods.count)
        for (i, peer) in b.rule.peers!.enumerated() {
            if let block = peer.ipBlock {
                let covered = a.rule.peers!.contains { other in
                    guard let o = other.ipBlock else { return false }
                    return o == block || (o.except.isEmpty && o.cidr.contains(block.cidr))
                }
                if !covered { return false }
            } else if !b.peerPods[i]!.isSubset(of: aPods) {
                return false
            }
        }
        return true
    }

    private func coversPorts(_ a: NetworkPolicy.Rule, _ b: NetworkPolicy.Rule) -> Bool {
        if a.matchesAllPorts { return true }
        if b.matchesAllPorts { return false }
        return b.ports!.allSatisfy { entry in
            a.ports!.contains { other in
                guard other.proto == entry.proto else { return false }
                switch (other.port, entry.port) {
                case (nil, _): return true
                case let (.int(lo)?, .int(n)?):
                    return lo <= n && (entry.endPort ?? n) <= (other.endPort ?? lo)
                case let (.string(x)?, .string(y)?): return x == y
                default: return false
                }
            }
        }
    }
}

extension NetworkPolicy.Peer {
    /// `namespaceSelector {…} + podSelector {…}`, for messages.
    fileprivate var selectorSummary: String {
        var parts: [String] = []
        if let s = namespaceSelector { parts.append("namespaceSelector \(s.summary)") }
        if let s = podSelector { parts.append("podSelector \(s.summary)") }
        return parts.joined(separator: " + ")
    }
}

extension LabelSelector {
    /// `{app=web, tier in (a, b)}`, kubectl's selector notation.
    var summary: String {
        var parts = matchLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        for r in matchExpressions {
            switch r.op {
            case .in: parts.append("\(r.key) in (\(r.values.joined(separator: ", ")))")
            case .notIn: parts.append("\(r.key) notin (\(r.values.joined(separator: ", ")))")
            case .exists: parts.append(r.key)
            case .doesNotExist: parts.append("!\(r.key)")
            }
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

extension [LintFinding] {
    public func json() throws -> String {
        let objects = map { f -> [String: Any] in
            var o: [String: Any] = ["kind": f.policy.kind, "name": f.policy.name, "check": f.check.rawValue,
                                    "field": f.field, "message": f.message]
            if !f.policy.namespace.isEmpty { o["namespace"] = f.policy.namespace }
            if let s = f.policy.source { o["file"] = s.file; o["line"] = s.line }
            return o
        }
        return try jsonText(objects)
    }
}
