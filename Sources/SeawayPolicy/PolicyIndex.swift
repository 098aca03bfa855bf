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
    let policies: [IndexedPolicy]
    /// Per policy: the pods its podSelector selects (pod-network pods of its namespace).
    let selectedPods: [PodSet]
    /// Per pod: the policies (indices into `policies`, by namespace then name) isolating it.
    let isolatingIngress: [[Int]]
    let isolatingEgress: [[Int]]
    let nodeIPs: [String: [IPAddress]]
    /// Pods not on the host network: the only pods policies select or selector peers match.
    let networkPods: PodSet

    private let namespacePods: [String: PodSet]
    private let namespaceLabels: [String: [String: String]]
    private let labelValuePods: [String: [String: PodSet]]
    private let labelKeyPods: [String: PodSet]

    init(cluster: ClusterState) {
        var byKey: [String: Pod] = [:]
        for pod in cluster.pods where byKey[pod.key] == nil { byKey[pod.key] = pod }
        keys = byKey.keys.sorted()
        pods = keys.map { byKey[$0]! }
        idByKey = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        let n = pods.count

        var byIP: [IPAddress: Int] = [:]
        var network = PodSet(count: n)
        var nsPods: [String: PodSet] = [:]
        var values: [String: [String: PodSet]] = [:]
        var keyed: [String: PodSet] = [:]
        for (id, pod) in pods.enumerated() {
            nsPods[pod.metadata.namespace, default: PodSet(count: n)].insert(id)
            for (k, v) in pod.metadata.labels {
                values[k, default: [:]][v, default: PodSet(count: n)].insert(id)
                keyed[k, default: PodSet(count: n)].insert(id)
            }
            guard !pod.hostNetwork else { continue }
            network.insert(id)
            for ip in pod.podIPs { byIP[ip] = id }
        }
        idByIP = byIP
        networkPods = network
        namespacePods = nsPods
        labelValuePods = values
        labelKeyPods = keyed

        var nsLabels: [String: [String: String]] = [:]
        for ns in cluster.namespaces { nsLabels[ns.metadata.name] = ns.effectiveLabels }
        // Namespaces only named by objects still carry the label the API server always sets.
        for pod in pods where nsLabels[pod.metadata.namespace] == nil {
            nsLabels[pod.metadata.namespace] = ["kubernetes.io/metadata.name": pod.metadata.namespace]
        }
        namespaceLabels = nsLabels
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
            let selected = Self.select(policy.podSelector, from: (nsPods[ns] ?? PodSet(count: n)).intersection(network),
                                       values: values, keyed: keyed)
            selectedSets.append(selected)
            for id in selected.members {
                if policy.policyTypes.contains(.ingress) { ingressLists[id].append(p) }
                if policy.policyTypes.contains(.egress) { egressLists[id].append(p) }
            }
            func index(_ rules: [NetworkPolicy.Rule]) -> [IndexedRule] {
                rules.map { rule in
                    IndexedRule(rule: rule, peerPods: (rule.peers ?? []).map { peer in
                        Self.peerPods(peer, policyNamespace: ns, n: n, network: network, nsPods: nsPods,
                                      nsLabels: nsLabels, values: values, keyed: keyed)
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

    // MARK: selectors as set operations

    private static func peerPods(_ peer: NetworkPolicy.Peer, policyNamespace: String, n: Int, network: PodSet,
                                 nsPods: [String: PodSet], nsLabels: [String: [String: String]],
                                 values: [String: [String: PodSet]], keyed: [String: PodSet]) -> PodSet? {
        if peer.ipBlock != nil { return nil }
        var universe = PodSet(count: n)
        if let nsSelector = peer.namespaceSelector {
            for (ns, labels) in nsLabels where nsSelector.matches(labels) {
                if let pods = nsPods[ns] { universe.formUnion(pods) }
            }
        } else if let pods = nsPods[policyNamespace] {
            universe = pods
        }
        universe.formIntersection(network)
        guard let podSelector = peer.podSelector else { return universe }
        return select(podSelector, from: universe, values: values, keyed: keyed)
    }

    /// The pods of `universe` whose labels `selector` matches, by the same rules as
    /// `LabelSelector.matches` (NotIn and DoesNotExist match pods without the key).
    private static func select(_ selector: LabelSelector, from universe: PodSet,
                               values: [String: [String: PodSet]], keyed: [String: PodSet]) -> PodSet {
        var result = universe
        let none = PodSet(count: universe.count)
        for (k, v) in selector.matchLabels {
            result.formIntersection(values[k]?[v] ?? none)
        }
        for requirement in selector.matchExpressions {
            switch requirement.op {
            case .in, .notIn:
                var withValue = none
                for v in requirement.values { if let s = values[requirement.key]?[v] { withValue.formUnion(s) } }
                if requirement.op == .in { result.formIntersection(withValue) } else { result.subtract(withValue) }
            case .exists:
                result.formIntersection(keyed[requirement.key] ?? none)
            case .doesNotExist:
                if let s = keyed[requirement.key] { result.subtract(s) }
            }
        }
        return result
    }
}

extension Pod {
    /// `namespace/name`, as queries and reports name pods.
    var key: String { "\(metadata.namespace)/\(metadata.name)" }
}
