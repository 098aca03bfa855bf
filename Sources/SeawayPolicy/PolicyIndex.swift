import SeawayModel

/// A cluster's pods and NetworkPolicies, precomputed once so queries never scan every policy
/// or every pod: pods are numbered (sorted by `ns/name`) and indexed by label, each policy's
/// selected pods and each selector peer's pods are `PodSet`s, and each pod lists the policies
/// that isolate it per direction.
struct PolicyIndex: Sendable {
    struct IndexedRule: Sendable {
        var rule: NetworkPolicy.Rule
        /// Per peer: the pods its selectors match; nil for an ipBlock peer (matched by address).
        var peerPods: [PodSet?]
    }

    struct IndexedPolicy: Sendable {
        var policy: NetworkPolicy
        var ref: PolicyRef
        var ingress: [IndexedRule]
        var egress: [IndexedRule]

        func rules(_ direction: NetworkPolicy.PolicyType) -> [IndexedRule] {
            direction == .ingress ? ingress : egress
        }
    }

    let pods: [Pod]
    let keys: [String]
    let idByKey: [String: Int]
    /// Addresses of pods on the pod network (host-network pods share their node's addresses).
    let idByIP: [IPAddress: Int]
    let labels: LabelIndex
    let policies: [IndexedPolicy]
    /// Per policy: the pods its podSelector selects (pod-network pods of its namespace).
    let selectedPods: [PodSet]
    /// Per pod: the policies (indices into `policies`, by namespace then name) isolating it.
    let isolatingIngress: [[Int]]
    let isolatingEgress: [[Int]]
    let nodeIPs: [String: [IPAddress]]
    /// The admin and baseline tiers.
    let admin: AdminTierIndex

    /// Pods not on the host network: the only pods policies select or selector peers match.
    var networkPods: PodSet { labels.networkPods }

    init(cluster: ClusterState) {
        var byKey: [String: Pod] = [:]
        for pod in cluster.pods where byKey[pod.key] == nil { byKey[pod.key] = pod }
        keys = byKey.keys.sorted()
        pods = keys.map { byKey[$0]! }
        idByKey = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        let n = pods.count
        var byIP: [IPAddress: Int] = [:]
        for (id, pod) in pods.enumerated() where !pod.hostNetwork {
            for ip in pod.podIPs { byIP[ip] = id }
        }
        idByIP = byIP
        let labels = LabelIndex(pods: pods, namespaces: cluster.namespaces)
        self.labels = labels
        nodeIPs = Dictionary(cluster.nodes.map { ($0.metadata.name, $0.internalIPs + $0.externalIPs) },
                             uniquingKeysWith: { a, _ in a })

        let sorted = cluster.networkPolicies.sorted {
            ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name)
        }
        var ingressLists = Array(repeating: [Int](), count: n)
        var egressLists = Array(repeating: [Int](), count: n)
        var indexed: [IndexedPolicy] = []
        var selectedSets: [PodSet] = []
        indexed.reserveCapacity(sorted.count)
        selectedSets.reserveCapacity(sorted.count)
        for (p, policy) in sorted.enumerated() {
            let ns = policy.metadata.namespace
            let selected = labels.select(policy.podSelector, from: labels.pods(inNamespace: ns))
            selectedSets.append(selected)
            for id in selected.members {
                if policy.policyTypes.contains(.ingress) { ingressLists[id].append(p) }
                if policy.policyTypes.contains(.egress) { egressLists[id].append(p) }
            }
            func index(_ rules: [NetworkPolicy.Rule]) -> [IndexedRule] {
                rules.map { rule in
                    IndexedRule(rule: rule, peerPods: (rule.peers ?? []).map { peer in
                        Self.peerPods(peer, policyNamespace: ns, labels: labels)
                    })
                }
            }
            indexed.append(IndexedPolicy(
                policy: policy,
                ref: PolicyRef(namespace: ns, name: policy.metadata.name, source: policy.metadata.source),
                ingress: index(policy.ingress), egress: index(policy.egress)))
        }
        policies = indexed
        selectedPods = selectedSets
        isolatingIngress = ingressLists
        isolatingEgress = egressLists
        admin = AdminTierIndex(policies: cluster.adminPolicies, labels: labels, nodes: cluster.nodes)
    }

    func isolating(_ direction: NetworkPolicy.PolicyType, pod id: Int) -> [Int] {
        direction == .ingress ? isolatingIngress[id] : isolatingEgress[id]
    }

    /// The address a pod is seen with: the first of `family` (any family when nil), node
    /// addresses first for host-network pods.
    func address(ofPod id: Int, family: IPFamily?) -> IPAddress? {
        let pod = pods[id]
        var ips = pod.podIPs
        if pod.hostNetwork, let node = pod.nodeName { ips = (nodeIPs[node] ?? []) + ips }
        return ips.first { family == nil || $0.family == family } ?? ips.first
    }

    /// The pods a NetworkPolicy selector peer matches; nil for an ipBlock peer.
    private static func peerPods(_ peer: NetworkPolicy.Peer, policyNamespace: String, labels: LabelIndex) -> PodSet? {
        if peer.ipBlock != nil { return nil }
        let universe = peer.namespaceSelector.map(labels.pods(inNamespacesMatching:))
            ?? labels.pods(inNamespace: policyNamespace)
        return peer.podSelector.map { labels.select($0, from: universe) } ?? universe
    }
}
