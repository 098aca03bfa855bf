import SeawayModel

extension PolicyEvaluator {
    /// Admin policies: a subject or pod peer that matches nothing, a named port no pod it could
    /// apply to declares, and a rule an earlier rule of the same policy always decides first.
    func adminPolicyFindings() -> [LintFinding] {
        var findings: [LintFinding] = []
        for (p, policy) in index.admin.policies.enumerated() {
            let ref = PolicyRef(kind: policy.ref.kind, namespace: "", name: policy.ref.name, source: policy.ref.source)
            let subject = index.admin.subjectPods[p]
            if subject.isEmpty {
                findings.append(LintFinding(policy: ref, check: .selectsNothing, field: "spec.subject", message: "selects no pod"))
            }
            for direction in [NetworkPolicy.PolicyType.ingress, .egress] {
                let (list, peersKey) = fieldNames(direction)
                let rules = policy.rules(direction)
                for (r, rule) in rules.enumerated() {
                    let ruleField = "spec.\(list)[\(r)]"
                    for (i, pods) in rule.peerPods.enumerated() where pods?.isEmpty == true {
                        findings.append(LintFinding(policy: ref, check: .peerMatchesNothing, field: "\(ruleField).\(peersKey)[\(i)]",
                                                    message: "this peer matches no pod"))
                    }
                    let candidates = direction == .ingress ? subject
                        : PodSet(unionOf: rule.peerPods, count: index.pods.count)
                    for (i, port) in (rule.rule.ports ?? []).enumerated() {
                        guard case let .named(name) = port else { continue }
                        let declared = candidates.members.contains { id in index.pods[id].containerPorts.contains { $0.name == name } }
                        if !declared {
                            findings.append(LintFinding(policy: ref, check: .unknownNamedPort, field: "\(ruleField).ports[\(i)]",
                                                        message: "no pod this rule can apply to declares a container port named '\(name)'"))
                        }
                    }
                    if let earlier = rules[..<r].firstIndex(where: { coversAdmin($0, rule) }) {
                        findings.append(LintFinding(policy: ref, check: .shadowedRule, field: ruleField,
                                                    message: "never decides anything: \(list)[\(earlier)] matches every connection it matches, first (for the pods in these manifests)"))
                    }
                }
            }
        }
        return findings
    }

    /// Whether admin rule `a` matches every connection `b` matches: its pod peers hold b's,
    /// its address peers b's ranges, and its ports b's.
    private func coversAdmin(_ a: AdminTierIndex.IndexedRule, _ b: AdminTierIndex.IndexedRule) -> Bool {
        let aPods = PodSet(unionOf: a.peerPods, count: index.pods.count)
        let aRanges = a.peerNetworks.compactMap { $0 }.flatMap { $0 }
        for i in b.peerPods.indices {
            if let pods = b.peerPods[i] {
                if !pods.isSubset(of: aPods) { return false }
            } else if let ranges = b.peerNetworks[i] {
                if !ranges.allSatisfy({ r in aRanges.contains { $0.contains(r) } }) { return false }
            }
        }
        guard let aPorts = a.rule.ports else { return true }
        guard let bPorts = b.rule.ports else { return false }
        return bPorts.allSatisfy { entry in
            aPorts.contains { other in
                switch (other, entry) {
                case let (.number(p, n), .number(q, m)): return p == q && n == m
                case let (.range(p, r), .number(q, m)): return p == q && r.contains(m)
                case let (.range(p, r), .range(q, s)): return p == q && r.lowerBound <= s.lowerBound && s.upperBound <= r.upperBound
                case let (.named(x), .named(y)): return x == y
                default: return false
                }
            }
        }
    }
}
