import SeawayModel

/// One end of a connection: a pod, or an address that is not a pod's (outside the cluster,
/// or a node).
public enum PolicyEndpoint: Sendable, Hashable {
    case pod(Pod)
    case address(IPAddress)
}

/// A port asked about: a number, or a name resolved against the destination pod's
/// container ports.
public enum PortQuery: Sendable, Hashable {
    case number(Int)
    case name(String)
}

/// A query the evaluator cannot answer because it is malformed (unknown pod, unknown named
/// port): bad input, not a denial.
public struct PolicyQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) { self.message = message }
}

/// Evaluates networking.k8s.io/v1 NetworkPolicy, layered between the admin and baseline tiers
/// of the admin policies (see `AdminTierIndex`), for connections between pods and addresses.
///
/// NetworkPolicy semantics, per the Kubernetes API and documentation:
/// - a pod is isolated for a direction when a policy in its namespace selects it and lists
///   that direction in `policyTypes` (defaulted at decoding: Ingress always, Egress when
///   egress rules exist); an isolated pod accepts only what some selecting policy's rules
///   allow, and rules add up;
/// - a connection needs the source's egress and the destination's ingress to allow it;
/// - in a peer, `podSelector` and `namespaceSelector` together mean both (one peer), two
///   peers mean either; `podSelector` alone means the policy's namespace; empty selectors
///   match everything, and an empty or absent `from`/`to`/`ports` list matches every peer
///   or port;
/// - `ipBlock` matches the other side's address (pod addresses included) unless an `except`
///   range holds it;
/// - named ports resolve against the destination pod's container ports (name and protocol);
/// - a pod reaching itself, and a node reaching its own pods, are always allowed;
/// - host-network pods are the node: they are never selected, and their traffic is the node's.
public struct PolicyEvaluator: Sendable {
    let index: PolicyIndex

    public init(cluster: ClusterState) {
        index = PolicyIndex(cluster: cluster)
    }

    /// Resolves `ns/name` to a pod, or an address to the pod that has it (or the address).
    public func endpoint(_ text: String) throws -> PolicyEndpoint {
        if let ip = IPAddress(text) { return index.idByIP[ip].map { .pod(index.pods[$0]) } ?? .address(ip) }
        guard let id = index.idByKey[text] else {
            throw PolicyQueryError(message: "no pod '\(text)' in the manifests (expected NAMESPACE/POD or an IP address)")
        }
        return .pod(index.pods[id])
    }

    public func check(from: PolicyEndpoint, to: PolicyEndpoint, port query: PortQuery,
                      proto: L4Protocol) throws -> PolicyVerdict {
        let port: Int
        switch query {
        case let .number(n):
            guard (1...65535).contains(n) else { throw PolicyQueryError(message: "port \(n) is out of range (1-65535)") }
            port = n
        case let .name(name):
            guard case let .pod(pod) = to,
                  let cp = pod.containerPorts.first(where: { $0.name == name && $0.proto == proto }) else {
                throw PolicyQueryError(message: "the destination has no container port named '\(name)' (\(proto.rawValue))")
            }
            port = cp.port
        }
        // The connection's addresses: the destination's first, the source's of the same family.
        let destinationIP = address(of: to, family: nil)
        let sourceIP = address(of: from, family: destinationIP?.family)
        let samePod = { () -> Bool in
            if case let (.pod(a), .pod(b)) = (from, to) { return a == b }
            return false
        }()

        var egress = DirectionVerdict(direction: .egress, pod: nil, isolatingPolicies: [],
                                      outcome: .notApplicable("the source is not a pod"))
        if case let .pod(source) = from {
            egress = samePod
                ? DirectionVerdict(direction: .egress, pod: source.key, isolatingPolicies: [],
                                   outcome: .alwaysAllowed("a pod may always reach itself"))
                : evaluate(.egress, pod: source, peer: to, peerIP: destinationIP, port: port, proto: proto, destination: to)
        }
        var ingress = DirectionVerdict(direction: .ingress, pod: nil, isolatingPolicies: [],
                                       outcome: .notApplicable("the destination is not a pod"))
        if case let .pod(destination) = to {
            if samePod {
                ingress = DirectionVerdict(direction: .ingress, pod: destination.key, isolatingPolicies: [],
                                           outcome: .alwaysAllowed("a pod may always reach itself"))
            } else if isOwnNode(from, of: destination) {
                ingress = DirectionVerdict(direction: .ingress, pod: destination.key, isolatingPolicies: [],
                                           outcome: .alwaysAllowed("traffic from the pod's own node is always allowed"))
            } else {
                ingress = evaluate(.ingress, pod: destination, peer: from, peerIP: sourceIP, port: port, proto: proto, destination: to)
            }
        }
        return PolicyVerdict(from: describe(from), to: describe(to), port: port, proto: proto,
                             egress: egress, ingress: ingress)
    }

    // MARK: one direction

    /// One direction through the tiers: admin (first matching rule of the policies by
    /// priority; Pass skips to NetworkPolicy), NetworkPolicy (decides for isolated pods),
    /// baseline (first matching rule), then the default: allowed.
    private func evaluate(_ direction: NetworkPolicy.PolicyType, pod: Pod, peer: PolicyEndpoint, peerIP: IPAddress?,
                          port: Int, proto: L4Protocol, destination: PolicyEndpoint) -> DirectionVerdict {
        if pod.hostNetwork {
            return DirectionVerdict(direction: direction, pod: pod.key, isolatingPolicies: [],
                                    outcome: .notApplicable("host-network pods are not subject to NetworkPolicy"))
        }
        guard let id = index.idByKey[pod.key] else {
            return DirectionVerdict(direction: direction, pod: pod.key, isolatingPolicies: [], outcome: .notIsolated)
        }
        let peerID: Int? = {
            if case let .pod(p) = peer, !p.hostNetwork { return index.idByKey[p.key] }
            return nil
        }()
        let destinationPorts = containerPorts(of: destination)
        func firstAdminMatch(_ candidates: [Int]) -> AdminRuleMatch? {
            index.admin.firstMatch(candidates, direction: direction, peerID: peerID, peerIP: peerIP, port: port,
                                   proto: proto, destinationPorts: destinationPorts)
        }
        let isolating = index.isolating(direction, pod: id).map { index.policies[$0] }
        let refs = isolating.map(\.ref)
        var passedBy: AdminRuleMatch?
        if let m = firstAdminMatch(index.admin.adminFor[id]) {
            guard m.action == .pass else {
                return DirectionVerdict(direction: direction, pod: pod.key, isolatingPolicies: refs, outcome: .admin(m))
            }
            passedBy = m
        }
        if isolating.isEmpty {
            let outcome = firstAdminMatch(index.admin.baselineFor[id]).map(DirectionVerdict.Outcome.baseline) ?? .notIsolated
            return DirectionVerdict(direction: direction, pod: pod.key, isolatingPolicies: [], outcome: outcome,
                                    passedBy: passedBy)
        }
        var matches: [RuleMatch] = []
        for policy in isolating {
            for (r, rule) in policy.rules(direction).enumerated() {
                guard let peerIndex = matchingPeer(rule, peerID: peerID, peerIP: peerIP),
                      let portIndex = matchingPort(rule.rule, port: port, proto: proto, destinationPorts: destinationPorts)
                else { continue }
                matches.append(RuleMatch(policy: policy.ref, direction: direction, ruleIndex: r,
                                         peerIndex: peerIndex.index, portIndex: portIndex.index))
            }
        }
        return DirectionVerdict(direction: direction, pod: pod.key, isolatingPolicies: refs,
                                outcome: matches.isEmpty ? .denied : .allowed(by: matches), passedBy: passedBy)
    }

    /// The first peer of `rule` that matches (index nil: the rule matches every peer).
    /// Selector peers are precomputed pod sets; ipBlock peers compare the peer's address.
    private func matchingPeer(_ rule: PolicyIndex.IndexedRule, peerID: Int?, peerIP: IPAddress?) -> EntryMatch? {
        if rule.rule.matchesAllPeers { return .init(index: nil) }
        for (i, peer) in rule.rule.peers!.enumerated() {
            if let block = peer.ipBlock {
                if let ip = peerIP, block.admits(ip) { return .init(index: i) }
            } else if let id = peerID, rule.peerPods[i]!.contains(id) {
                return .init(index: i)
            }
        }
        return nil
    }

    /// The first port entry of `rule` that matches (index nil: the rule matches every port).
    private func matchingPort(_ rule: NetworkPolicy.Rule, port: Int, proto: L4Protocol,
                              destinationPorts: [Pod.ContainerPort]?) -> EntryMatch? {
        if rule.matchesAllPorts { return .init(index: nil) }
        for (i, entry) in rule.ports!.enumerated()
        where entry.admits(port: port, proto: proto, destinationPorts: destinationPorts) {
            return .init(index: i)
        }
        return nil
    }

    // MARK: helpers

    private func isOwnNode(_ source: PolicyEndpoint, of pod: Pod) -> Bool {
        guard let node = pod.nodeName else { return false }
        switch source {
        case let .pod(p): return p.hostNetwork && p.nodeName == node
        case let .address(ip): return index.nodeIPs[node]?.contains(ip) ?? false
        }
    }

    private func address(of e: PolicyEndpoint, family: IPFamily?) -> IPAddress? {
        switch e {
        case let .address(ip): return ip
        case let .pod(pod): return index.idByKey[pod.key].flatMap { index.address(ofPod: $0, family: family) }
        }
    }

    /// A destination's named ports: a pod's container ports; nil for an address.
    private func containerPorts(of e: PolicyEndpoint) -> [Pod.ContainerPort]? {
        if case let .pod(pod) = e { return pod.containerPorts }
        return nil
    }

    private func describe(_ e: PolicyEndpoint) -> String {
        switch e {
        case let .pod(pod): return pod.key
        case let .address(ip): return ip.description
        }
    }
}

/// A matched rule entry: its index, or nil when the rule has no list (so matches everything).
private struct EntryMatch {
    var index: Int?
}
