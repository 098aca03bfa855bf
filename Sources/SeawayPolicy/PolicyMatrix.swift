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

    /// Address ranges (an ipBlock, or an admin policy's networks or nodes) as pods.
    private struct BlockKey: Hashable {
        var cidrs: [CIDR]
        var except: [CIDR]
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

    /// The destinations the source's egress allows, through the tiers as `check` takes them.
    mutating func egressRow(source s: Int) -> PodSet {
        if index.pods[s].hostNetwork { return all }
        let tierMatch = { (builder: inout MatrixBuilder, rule: AdminTierIndex.IndexedRule) -> PodSet in
            guard let destinations = builder.destinationsByPort(rule.rule.ports) else { return builder.none }
            return builder.adminPeers(rule, family: nil).intersection(destinations)
        }
        var row = throughTiers(admin: index.admin.adminFor[s], baseline: index.admin.baselineFor[s], .egress,
                               networkPolicy: networkPolicyEgress(source: s), match: tierMatch)
        row.insert(s)
        return row
    }

    /// The sources the destination's ingress allows, through the tiers as `check` takes them.
    mutating func ingressRow(destination d: Int) -> PodSet {
        let pod = index.pods[d]
        if pod.hostNetwork { return all }
        let family = index.address(ofPod: d, family: nil)?.family
        let tierMatch = { (builder: inout MatrixBuilder, rule: AdminTierIndex.IndexedRule) -> PodSet in
            let portMatches = rule.rule.ports?.contains {
                $0.admits(port: builder.port, proto: builder.proto, destinationPorts: pod.containerPorts)
            } ?? true
            return portMatches ? builder.adminPeers(rule, family: family) : builder.none
        }
        var row = throughTiers(admin: index.admin.adminFor[d], baseline: index.admin.baselineFor[d], .ingress,
                               networkPolicy: networkPolicyIngress(destination: d, family: family), match: tierMatch)
        row.insert(d)
        if let node = pod.nodeName, let hostPods = hostPodsByNode[node] { row.formUnion(hostPods) }
        return row
    }

    /// The pods allowed through the tiers: the admin tier's Allows, then for the pods it
    /// left (unmatched or passed) NetworkPolicy's answer if it isolates the pod, or else
    /// everything the baseline tier does not deny.
    private mutating func throughTiers(admin: [Int], baseline: [Int], _ direction: NetworkPolicy.PolicyType,
                                       networkPolicy: PodSet?,
                                       match: (inout MatrixBuilder, AdminTierIndex.IndexedRule) -> PodSet) -> PodSet {
        let decided = runTier(admin, direction, match: match)
        var row = decided.allow
        var rest = all
        rest.subtract(decided.allow)
        rest.subtract(decided.deny)
        if let allowed = networkPolicy {
            rest.formIntersection(allowed)
        } else {
            rest.subtract(runTier(baseline, direction, match: match).deny)
        }
        row.formUnion(rest)
        return row
    }

    /// One tier's rules in evaluation order, each deciding the pods no earlier rule matched:
    /// the pods it allowed and denied (passed pods are in neither).
    private mutating func runTier(_ candidates: [Int], _ direction: NetworkPolicy.PolicyType,
                                  match: (inout MatrixBuilder, AdminTierIndex.IndexedRule) -> PodSet) -> (allow: PodSet, deny: PodSet) {
        var decided = none, allow = none, deny = none
        for p in candidates {
            for rule in index.admin.policies[p].rules(direction) {
                var matched = match(&self, rule)
                matched.subtract(decided)
                decided.formUnion(matched)
                switch rule.rule.action {
                case .allow: allow.formUnion(matched)
                case .deny: deny.formUnion(matched)
                case .pass: break
                }
            }
        }
        return (allow, deny)
    }

    /// The pods an admin rule's peers match, address peers seen as `family` (see `BlockKey`).
    private mutating func adminPeers(_ rule: AdminTierIndex.IndexedRule, family: IPFamily?) -> PodSet {
        var result = none
        for i in rule.peerPods.indices {
            if let pods = rule.peerPods[i] {
                result.formUnion(pods)
            } else if let cidrs = rule.peerNetworks[i] {
                result.formUnion(pods(in: BlockKey(cidrs: cidrs, except: [], family: family)))
            }
        }
        return result
    }

    /// The NetworkPolicy tier for a source: nil when no policy isolates its egress.
    private mutating func networkPolicyEgress(source s: Int) -> PodSet? {
        let isolating = index.isolatingEgress[s]
        if isolating.isEmpty { return nil }
        var allowed = none
        for p in isolating {
            for rule in index.policies[p].egress {
                guard let destinations = destinationsByPort(rule.rule.matchesAllPorts ? nil : rule.rule.ports) else { continue }
                var peers = peerPods(rule, family: nil)
                peers.formIntersection(destinations)
                allowed.formUnion(peers)
            }
        }
        return allowed
    }

    /// The NetworkPolicy tier for a destination: nil when no policy isolates its ingress.
    private mutating func networkPolicyIngress(destination d: Int, family: IPFamily?) -> PodSet? {
        let isolating = index.isolatingIngress[d]
        if isolating.isEmpty { return nil }
        let pod = index.pods[d]
        var allowed = none
        for p in isolating {
            for rule in index.policies[p].ingress {
                let portMatches = rule.rule.matchesAllPorts || rule.rule.ports!.contains {
                    $0.admits(port: port, proto: proto, destinationPorts: pod.containerPorts)
                }
                guard portMatches else { continue }
                allowed.formUnion(peerPods(rule, family: family))
            }
        }
        return allowed
    }

    /// The destinations a list of port entries admits (nil list: every port): every pod for
    /// a numeric match, the pods serving a listed named port otherwise; nil when none can match.
    private func destinationsByPort<Entry: PortEntry>(_ entries: [Entry]?) -> PodSet? {
        guard let entries else { return all }
        var named: PodSet?
        for entry in entries {
            switch entry.admitsIgnoringDestination(port: port, proto: proto) {
            case true?: return all
            case false?: continue
            case nil:
                if let name = entry.portName, let pods = namedPortPods[name] {
                    named = named ?? none
                    named!.formUnion(pods)
                }
            }
        }
        return named
    }

    private mutating func peerPods(_ rule: PolicyIndex.IndexedRule, family: IPFamily?) -> PodSet {
        if rule.rule.matchesAllPeers { return all }
        var result = none
        for (i, peer) in rule.rule.peers!.enumerated() {
            if let pods = rule.peerPods[i] {
                result.formUnion(pods)
            } else if let block = peer.ipBlock {
                result.formUnion(pods(in: BlockKey(cidrs: [block.cidr], except: block.except, family: family)))
            }
        }
        return result
    }

    private mutating func pods(in key: BlockKey) -> PodSet {
        if let cached = blockPods[key] { return cached }
        var set = none
        for id in index.pods.indices {
            if let ip = index.address(ofPod: id, family: key.family),
               key.cidrs.contains(where: { $0.contains(ip) }), !key.except.contains(where: { $0.contains(ip) }) {
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
