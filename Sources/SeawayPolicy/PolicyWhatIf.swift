import SeawayModel

/// One cell of the truth table that differs between two clusters.
public struct MatrixChange: Sendable, Hashable {
    public var from: String
    public var to: String
    public var port: Int
    public var proto: L4Protocol
    public var nowAllowed: Bool
    /// Which sides' verdicts changed: the source's egress, the destination's ingress, or both.
    public var egressChanged: Bool
    public var ingressChanged: Bool
}

/// What changes when a cluster goes from `before` to `after` (policies added, removed,
/// edited, objects relabelled): the cells whose verdict flips, for pods present in both.
public struct PolicyWhatIf: Sendable {
    public let changes: [MatrixChange]
    public let comparedPods: Int
    public let cellsCompared: Int
    /// Pods present on one side only, whose connections are not compared.
    public let podsOnlyBefore: [String]
    public let podsOnlyAfter: [String]

    public var newlyDenied: Int { changes.count { !$0.nowAllowed } }
    public var newlyAllowed: Int { changes.count { $0.nowAllowed } }

    public init(before: PolicyEvaluator, after: PolicyEvaluator, cells: [(port: Int, proto: L4Protocol)]) {
        let beforeKeys = before.podKeys, afterKeys = after.podKeys
        let afterID = Dictionary(uniqueKeysWithValues: afterKeys.enumerated().map { ($1, $0) })
        // Pods in both, as (before id, after id), in `ns/name` order.
        let common = beforeKeys.enumerated().compactMap { id, key in afterID[key].map { (id, $0) } }
        let commonKeys = Set(common.map { beforeKeys[$0.0] })
        podsOnlyBefore = beforeKeys.filter { !commonKeys.contains($0) }
        podsOnlyAfter = afterKeys.filter { !commonKeys.contains($0) }
        comparedPods = common.count
        cellsCompared = common.count * common.count * cells.count

        var changes: [MatrixChange] = []
        for (port, proto) in cells {
            let old = before.matrix(port: port, proto: proto), new = after.matrix(port: port, proto: proto)
            for (bf, af) in common {
                for (bt, at) in common {
                    let was = old.allowed(from: bf, to: bt), now = new.allowed(from: af, to: at)
                    guard was != now else { continue }
                    changes.append(MatrixChange(
                        from: beforeKeys[bf], to: beforeKeys[bt], port: port, proto: proto, nowAllowed: now,
                        egressChanged: old.egressAllows(from: bf, to: bt) != new.egressAllows(from: af, to: at),
                        ingressChanged: old.ingressAllows(from: bf, to: bt) != new.ingressAllows(from: af, to: at)))
                }
            }
        }
        self.changes = changes
    }

    /// ```
    /// x/b -> x/a 80/TCP: allowed -> denied (ingress of x/a)
    /// 1 connection newly denied, 0 newly allowed (9 pods, 81 pod pairs x 1 port/protocol compared)
    /// ```
    public var text: String {
        var out = ""
        for c in changes {
            var sides: [String] = []
            if c.egressChanged { sides.append("egress of \(c.from)") }
            if c.ingressChanged { sides.append("ingress of \(c.to)") }
            out += "\(c.from) -> \(c.to) \(c.port)/\(c.proto.rawValue): "
                + (c.nowAllowed ? "denied -> allowed" : "allowed -> denied")
                + " (\(sides.joined(separator: ", ")))\n"
        }
        let cellsPerPair = comparedPods == 0 ? 0 : cellsCompared / (comparedPods * comparedPods)
        out += "\(newlyDenied) connection\(newlyDenied == 1 ? "" : "s") newly denied, \(newlyAllowed) newly allowed"
            + " (\(comparedPods) pods, \(comparedPods * comparedPods) pod pairs x \(cellsPerPair) port/protocol compared)\n"
        if !podsOnlyBefore.isEmpty { out += "not compared, pods removed: \(podsOnlyBefore.joined(separator: ", "))\n" }
        if !podsOnlyAfter.isEmpty { out += "not compared, pods added: \(podsOnlyAfter.joined(separator: ", "))\n" }
        return out
    }

    public func json() throws -> String {
        let object: [String: Any] = [
            "changes": changes.map { c -> [String: Any] in
                ["from": c.from, "to": c.to, "port": c.port, "protocol": c.proto.rawValue,
                 "was": c.nowAllowed ? "denied" : "allowed", "now": c.nowAllowed ? "allowed" : "denied",
                 "egressChanged": c.egressChanged, "ingressChanged": c.ingressChanged]
            },
            "newlyDenied": newlyDenied, "newlyAllowed": newlyAllowed,
            "comparedPods": comparedPods, "cellsCompared": cellsCompared,
            "podsOnlyBefore": podsOnlyBefore, "podsOnlyAfter": podsOnlyAfter,
        ]
        return try jsonText(object)
    }
}
