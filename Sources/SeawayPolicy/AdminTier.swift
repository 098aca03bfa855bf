import SeawayModel

/// An AdminNetworkPolicy or BaselineAdminNetworkPolicy, as verdicts name it.
public struct AdminPolicyRef: Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    public var name: String
    public var tier: AdminNetworkPolicy.Tier
    public var priority: Int
    public var source: ManifestLocation?

    public var description: String {
        var details: [String] = []
        if kind == "ClusterNetworkPolicy" { details.append("\(tier.rawValue) tier") }
        if kind != "BaselineAdminNetworkPolicy" { details.append("priority \(priority)") }
        if let source { details.append(source.description) }
        return "\(kind) \(name)" + (details.isEmpty ? "" : " (\(details.joined(separator: ", ")))")
    }
}

/// The admin-tier or baseline-tier rule that decided (or passed) a connection.
public struct AdminRuleMatch: Sendable, Hashable, CustomStringConvertible {
    public var policy: AdminPolicyRef
    public var direction: NetworkPolicy.PolicyType
    public var ruleIndex: Int
    public var ruleName: String?
    public var action: AdminNetworkPolicy.Action
    /// The action as the policy spells it (`Accept` in a ClusterNetworkPolicy).
    public var actionName: String
    public var peerIndex: Int

    public var description: String {
        let list = direction == .ingress ? "ingress" : "egress"
        let peers = direction == .ingress ? "from" : "to"
        let name = ruleName.map { " \"\($0)\"" } ?? ""
        return "\(policy): \(list)[\(ruleIndex)]\(name) \(actionName), \(peers)[\(peerIndex)]"
    }
}

/// The admin and baseline tiers, indexed: each policy's subject and pod peers as `PodSet`s,
/// node peers resolved to their addresses, and per pod the policies that select it in
/// evaluation order: by priority, then name (equal priorities have no defined order).
struct AdminTierIndex: Sendable {
    struct IndexedRule: Sendable {
        var rule: AdminNetworkPolicy.Rule
        /// Per peer: the pods of a pods/namespaces peer, or nil for an address peer.
        var peerPods: [PodSet?]
        /// Per peer: the ranges of a nodes (their addresses) or networks peer, or nil.
        var peerNetworks: [[CIDR]?]
    }

    struct IndexedPolicy: Sendable {
        var ref: AdminPolicyRef
        var ingress: [IndexedRule]
        var egress: [IndexedRule]

        func rules(_ direction: NetworkPolicy.PolicyType) -> [IndexedRule] {
            direction == .ingress ? ingress : egress
        }
    }

    let policies: [IndexedPolicy]
    /// Per policy: the pods its subject selects.
    let subjectPods: [PodSet]
    /// Per pod: indices into `policies` of the admin-tier / baseline-tier policies selecting it.
    let adminFor: [[Int]]
    let baselineFor: [[Int]]

    init(policies: [AdminNetworkPolicy], labels: LabelIndex, nodes: [ClusterNode]) {
        let ordered = policies.sorted {
            ($0.tier == .admin ? 0 : 1, $0.priority, $0.metadata.name, $0.kind)
                < ($1.tier == .admin ? 0 : 1, $1.priority, $1.metadata.name, $1.kind)
        }
        func selected(_ selection: AdminNetworkPolicy.PodSelection) -> PodSet {
            let universe = labels.pods(inNamespacesMatching: selection.namespaceSelector)
            return selection.podSelector.map { labels.select($0, from: universe) } ?? universe
        }
        func index(_ rules: [AdminNetworkPolicy.Rule]) -> [IndexedRule] {
            rules.map { rule in
                var peerPods: [PodSet?] = [], peerNetworks: [[CIDR]?] = []
                for peer in rule.peers {
                    switch peer {
                    case let .pods(selection):
                        peerPods.append(selected(selection)); peerNetworks.append(nil)
                    case let .nodes(selector):
                        let addresses = nodes.filter { selector.matches($0.metadata.labels) }
                            .flatMap { $0.internalIPs + $0.externalIPs }
                        peerPods.append(nil); peerNetworks.append(addresses.map(CIDR.init(host:)))
                    case let .networks(cidrs):
                        peerPods.append(nil); peerNetworks.append(cidrs)
                    }
                }
                return IndexedRule(rule: rule, peerPods: peerPods, peerNetworks: peerNetworks)
            }
        }
        var admin = Array(repeating: [Int](), count: labels.count)
        var baseline = Array(repeating: [Int](), count: labels.count)
        var indexed: [IndexedPolicy] = []
        var subjects: [PodSet] = []
        for (p, policy) in ordered.enumerated() {
            let subject = selected(policy.subject)
            subjects.append(subject)
            for id in subject.members {
                if policy.tier == .admin { admin[id].append(p) } else { baseline[id].append(p) }
            }
            indexed.append(IndexedPolicy(
                ref: AdminPolicyRef(kind: policy.kind, name: policy.metadata.name, tier: policy.tier,
                                    priority: policy.priority, source: policy.metadata.source),
                ingress: index(policy.ingress), egress: index(policy.egress)))
        }
        self.policies = indexed
        subjectPods = subjects
        adminFor = admin
        baselineFor = baseline
    }

    /// The first rule, in evaluation order over `candidates`, that matches the connection.
    func firstMatch(_ candidates: [Int], direction: NetworkPolicy.PolicyType, peerID: Int?, peerIP: IPAddress?,
                    port: Int, proto: L4Protocol, destinationPorts: [Pod.ContainerPort]?) -> AdminRuleMatch? {
        for p in candidates {
            let policy = policies[p]
            for (r, rule) in policy.rules(direction).enumerated() {
                guard rule.rule.ports?.contains(where: {
                    $0.admits(port: port, proto: proto, destinationPorts: destinationPorts)
                }) ?? true else { continue }
                for i in rule.peerPods.indices {
                    let matches: Bool
                    if let pods = rule.peerPods[i] {
                        matches = peerID.map(pods.contains) ?? false
                    } else {
                        matches = peerIP.map { ip in rule.peerNetworks[i]!.contains { $0.contains(ip) } } ?? false
                    }
                    if matches {
                        return AdminRuleMatch(policy: policy.ref, direction: direction, ruleIndex: r,
                                              ruleName: rule.rule.name, action: rule.rule.action,
                                              actionName: rule.rule.actionName, peerIndex: i)
                    }
                }
            }
        }
        return nil
    }
}
