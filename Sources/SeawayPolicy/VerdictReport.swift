import SeawayModel

/// `seaway policy check` output: the verdict first, then each direction's reason.
extension PolicyVerdict {
    /// ```
    /// DENIED x/b -> x/a port 80/TCP
    ///   egress of x/b: not isolated (no NetworkPolicy selects it for egress)
    ///   ingress of x/a: denied: isolated by NetworkPolicy x/deny-all-to-a (policies.yaml:2), ...; no rule admits x/b on 80/TCP
    /// ```
    public var text: String {
        var lines = ["\(allowed ? "ALLOWED" : "DENIED") \(from) -> \(to) port \(port)/\(proto.rawValue)"]
        for side in [egress, ingress] {
            lines.append("  \(side.subject): \(side.reason(peer: side.direction == .egress ? to : from, port: port, proto: proto))")
            if let pass = side.passedBy { lines.append("    passed to NetworkPolicy by \(pass)") }
            if case let .allowed(by: matches) = side.outcome {
                for m in matches { lines.append("    allowed by \(m)") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func jsonObject() -> [String: Any] {
        ["from": from, "to": to, "port": port, "protocol": proto.rawValue, "allowed": allowed,
         "egress": egress.jsonObject(), "ingress": ingress.jsonObject()]
    }

    public func json() throws -> String { try jsonText(jsonObject()) }
}

extension DirectionVerdict {
    fileprivate var subject: String {
        let name = direction == .ingress ? "ingress" : "egress"
        return pod.map { "\(name) of \($0)" } ?? name
    }

    fileprivate func reason(peer: String, port: Int, proto: L4Protocol) -> String {
        switch outcome {
        case let .notApplicable(why):
            return "not applicable (\(why))"
        case .notIsolated:
            return "not isolated (no NetworkPolicy selects it for \(direction == .ingress ? "ingress" : "egress"))"
        case let .admin(m):
            return "\(m.action == .allow ? "allowed" : "denied") by the admin tier: \(m)"
        case let .baseline(m):
            let verdict = m.action == .deny ? "denied" : m.action == .allow ? "allowed" : "passed (nothing follows: allowed)"
            return "not isolated by NetworkPolicy; \(verdict) by the baseline tier: \(m)"
        case let .alwaysAllowed(why):
            return "allowed (\(why))"
        case .allowed:
            return "allowed; isolated by " + isolatingPolicies.map(\.description).joined(separator: ", ")
        case .denied:
            let verb = direction == .ingress ? "admits \(peer)" : "lets it reach \(peer)"
            return "denied; isolated by " + isolatingPolicies.map(\.description).joined(separator: ", ")
                + "; no rule \(verb) on \(port)/\(proto.rawValue)"
        }
    }

    fileprivate func jsonObject() -> [String: Any] {
        var o: [String: Any] = [
            "allowed": allows,
            "isolatedBy": isolatingPolicies.map { $0.jsonObject() },
        ]
        if let pod { o["pod"] = pod }
        switch outcome {
        case let .notApplicable(why): o["outcome"] = "notApplicable"; o["reason"] = why
        case .notIsolated: o["outcome"] = "notIsolated"
        case let .alwaysAllowed(why): o["outcome"] = "alwaysAllowed"; o["reason"] = why
        case let .allowed(by: matches):
            o["outcome"] = "allowed"
            o["allowedBy"] = matches.map { m -> [String: Any] in
                var r: [String: Any] = ["policy": m.policy.jsonObject(), "rule": m.ruleIndex]
                if let p = m.peerIndex { r["peer"] = p }
                if let p = m.portIndex { r["port"] = p }
                return r
            }
        case .denied: o["outcome"] = "denied"
        case let .admin(m): o["outcome"] = "admin"; o["decidedBy"] = m.jsonObject()
        case let .baseline(m): o["outcome"] = "baseline"; o["decidedBy"] = m.jsonObject()
        }
        if let pass = passedBy { o["passedBy"] = pass.jsonObject() }
        return o
    }
}

extension PolicyRef {
    fileprivate func jsonObject() -> [String: Any] {
        var o: [String: Any] = ["kind": kind, "namespace": namespace, "name": name]
        if let source { o["file"] = source.file; o["line"] = source.line }
        return o
    }
}

extension AdminRuleMatch {
    fileprivate func jsonObject() -> [String: Any] {
        var policy: [String: Any] = ["kind": self.policy.kind, "name": self.policy.name, "tier": self.policy.tier.rawValue,
                                     "priority": self.policy.priority]
        if let s = self.policy.source { policy["file"] = s.file; policy["line"] = s.line }
        var o: [String: Any] = ["policy": policy, "rule": ruleIndex, "action": actionName, "peer": peerIndex]
        if let ruleName { o["ruleName"] = ruleName }
        return o
    }
}
