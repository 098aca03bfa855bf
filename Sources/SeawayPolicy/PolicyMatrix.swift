import SeawayModel

/// The truth table of every ordered pod pair for one port and protocol.
///
/// Computed a row at a time rather than cell by cell: each pod's allowed peers for a direction
/// are the union of its isolating policies' matching rules' peer sets, so the whole matrix
/// costs one pass over each pod's policies plus word-wise set operations. The answers are the
/// same as `PolicyEvaluator.check` for every pair (tests compare them).
public struct PolicyMatrix: Sendable {
    /// Every pod, as `ns/name`, in the order rows and columns use.
    public let pods: [String]
    public let port: Int
    public let proto: L4Protocol
    /// Per source: the destinations its egress allows.
    let egress: [PodSet]
    /// Per destination: the sources its ingress allows.
    let ingress: [PodSet]

    public func egressAllows(from: Int, to: Int) -> Bool { egress[from].contains(to) }
    public func ingressAllows(from: Int, to: Int) -> Bool { ingress[to].contains(from) }
    public func allowed(from: Int, to: Int) -> Bool { egress[from].contains(to) && ingress[to].contains(from) }
}

extension PolicyEvaluator {
    public func matrix(port: Int, proto: L4Protocol) -> PolicyMatrix {
        var builder = MatrixBuilder(index: index, port: port, proto: proto)
        let n = index.pods.count
        let egress = (0..<n).map { builder.egressRow(source: $0) }
        let ingress = (0..<n).map { builder.ingressRow(destination: $0) }
        return PolicyMatrix(pods: index.keys, port: port, proto: proto, egress: egress, ingress: ingress)
    }
}

/// One matrix computation's caches: pods serving a named port, pods inside an ipBlock.
private struct MatrixBuilder {
    let index: PolicyIndex
    let port: Int
    let proto: L4Protocol
    let all: PodSet
    let none: PodSet
    private var namedPortPods: [String: PodSet] = [:]
    private var blockPods: [BlockKey: PodSet] = [:]
    private var hostPodsByNode: [String: PodSet] = [:]

    private struct BlockKey: Hashable {
        var block: NetworkPolicy.IPBlock
        /// Which of a pod's addresses the block is matched against, as `check` picks a
        /// connection's addresses: egress the destination's first (nil), ingress the source's
        /// address of the destination's family.
        var family: IPFamily?
    }

    init(index: PolicyIndex, port: Int, proto: L4Protocol) {
        self.index = index
        self.port = port
        self.proto = proto
        let n = index.pods.count
        all = PodSet(count: n, full: true)
        none = PodSet(count: n)
        for (id, pod) in index.pods.enumerated() {
            for cp in pod.containerPorts where cp.proto == proto && cp.port == port {
                if let name = cp.name { namedPortPods[name, default: none].insert(id) }
            }
            if pod.hostNetwork, let node = pod.nodeName { hostPodsByNode[node, default: none].insert(id) }
        }
    }

    mutating func egressRow(source s: Int) -> PodSet {
        let isolating = index.isolatingEgress[s]
        if index.pods[s].hostNetwork || isolating.isEmpty { return all }
        var allowed = none
        for p in isolating {
            for rule in index.policies[p].egress {
                guard let destinations = destinationsByPort(rule.rule) else { continue }
                var peers = peerPods(rule, key: { BlockKey(block: $0, family: nil) })
                peers.formIntersection(destinations)
                allowed.formUnion(peers)
            }
        }
        allowed.insert(s)
        return allowed
    }

    mutating func ingressRow(destination d: Int) -> PodSet {
        let pod = index.pods[d]
        let isolating = index.isolatingIngress[d]
        if pod.hostNetwork || isolating.isEmpty { return all }
        let family = index.address(ofPod: d, family: nil)?.family
        var allowed = none
        for p in isolating {
            for rule in index.policies[p].ingress {
                let portMatches = rule.rule.matchesAllPorts || rule.rule.ports!.contains {
                    $0.admits(port: port, proto: proto, destinationPorts: pod.containerPorts)
                }
                guard portMatches else { continue }
                allowed.formUnion(peerPods(rule, key: { BlockKey(block: $0, family: family) }))
            }
        }
        allowed.insert(d)
        if let node = pod.nodeName, let hostPods = hostPodsByNode[node] { allowed.formUnion(hostPods) }
        return allowed
    }

    /// The destinations an egress rule's ports admit: every pod for a numeric match, the pods
    /// serving a listed named port otherwise; nil when none can match.
    private func destinationsByPort(_ rule: NetworkPolicy.Rule) -> PodSet? {
        if rule.matchesAllPorts { return all }
        var named: PodSet?
        for entry in rule.ports! {
            switch entry.admitsIgnoringDestination(port: port, proto: proto) {
            case true?: return all
            case false?: continue
            case nil:
                if case let .string(name)? = entry.port, let pods = namedPortPods[name] {
                    named = named ?? none
                    named!.formUnion(pods)
                }
            }
        }
        return named
    }

    private mutating func peerPods(_ rule: PolicyIndex.IndexedRule,
                                   key: (NetworkPolicy.IPBlock) -> BlockKey) -> PodSet {
        if rule.rule.matchesAllPeers { return all }
        var result = none
        for (i, peer) in rule.rule.peers!.enumerated() {
            if let pods = rule.peerPods[i] {
                result.formUnion(pods)
            } else if let block = peer.ipBlock {
                result.formUnion(pods(in: key(block)))
            }
        }
        return result
    }

    private mutating func pods(in key: BlockKey) -> PodSet {
        if let cached = blockPods[key] { return cached }
        var set = none
        for id in index.pods.indices {
            if let ip = index.address(ofPod: id, family: key.family), key.block.admits(ip) {
                set.insert(id)
            }
        }
        blockPods[key] = set
        return set
    }
}

extension PolicyEvaluator {
    /// Every pod as `ns/name`, in matrix order.
    public var podKeys: [String] { index.keys }

    /// The distinct container port numbers the given pods declare for `proto`, ascending.
    public func declaredPorts(of pods: [Int], proto: L4Protocol) -> [Int] {
        Set(pods.flatMap { index.pods[$0].containerPorts.filter { $0.proto == proto }.map(\.port) }).sorted()
    }
}
