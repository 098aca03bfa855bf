import SeawayModel

/// Pods by label and by namespace, so a label selector is a few `PodSet` operations.
struct LabelIndex: Sendable {
    let count: Int
    /// Pods not on the host network: the only pods policies select or selector peers match.
    let networkPods: PodSet
    private let namespacePods: [String: PodSet]
    private let namespaceLabels: [String: [String: String]]
    private let valuePods: [String: [String: PodSet]]
    private let keyPods: [String: PodSet]

    init(pods: [Pod], namespaces: [Namespace]) {
        let n = pods.count
        count = n
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
            if !pod.hostNetwork { network.insert(id) }
        }
        networkPods = network
        namespacePods = nsPods
        valuePods = values
        keyPods = keyed
        var labels: [String: [String: String]] = [:]
        for ns in namespaces { labels[ns.metadata.name] = ns.effectiveLabels }
        // Namespaces only named by objects still carry the label the API server always sets.
        for pod in pods where labels[pod.metadata.namespace] == nil {
            labels[pod.metadata.namespace] = ["kubernetes.io/metadata.name": pod.metadata.namespace]
        }
        namespaceLabels = labels
    }

    var none: PodSet { PodSet(count: count) }

    /// Pod-network pods of one namespace.
    func pods(inNamespace ns: String) -> PodSet {
        (namespacePods[ns] ?? none).intersection(networkPods)
    }

    /// Pod-network pods of every namespace whose labels `selector` matches.
    func pods(inNamespacesMatching selector: LabelSelector) -> PodSet {
        var result = none
        for (ns, labels) in namespaceLabels where selector.matches(labels) {
            if let pods = namespacePods[ns] { result.formUnion(pods) }
        }
        result.formIntersection(networkPods)
        return result
    }

    /// The pods of `universe` whose labels `selector` matches, by the same rules as
    /// `LabelSelector.matches` (NotIn and DoesNotExist match pods without the key).
    func select(_ selector: LabelSelector, from universe: PodSet) -> PodSet {
        var result = universe
        for (k, v) in selector.matchLabels {
            result.formIntersection(valuePods[k]?[v] ?? none)
        }
        for requirement in selector.matchExpressions {
            switch requirement.op {
            case .in, .notIn:
                var withValue = none
                for v in requirement.values { if let s = valuePods[requirement.key]?[v] { withValue.formUnion(s) } }
                if requirement.op == .in { result.formIntersection(withValue) } else { result.subtract(withValue) }
            case .exists:
                result.formIntersection(keyPods[requirement.key] ?? none)
            case .doesNotExist:
                if let s = keyPods[requirement.key] { result.subtract(s) }
            }
        }
        return result
    }
}
