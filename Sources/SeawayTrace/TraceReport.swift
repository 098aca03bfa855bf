import Foundation
import SeawayModel
import SeawayPolicy
import SeawayProxyCore

/// `seaway trace` output: text for people, JSON for tools; the same facts in both.
extension Trace {
    /// A verdict line first, then each layer.
    public var text: String {
        var out: [String] = []
        out.append("trace \(source) -> \(target) (\(mode.rawValue) rules of node \(sourceNode), \(proto.rawValue))")
        out.append("")
        if let r = resolution {
            out.append("DNS")
            out += r.lookup.text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
            while out.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { out.removeLast() }
            out.append("")
        }
        if let destination {
            out.append("Destination")
            switch destination {
            case let .service(info, address):
                var kind = address == info.clusterIP ? "ClusterIP" : "external IP"
                if info.internalPolicyLocal && address == info.clusterIP { kind += ", internalTrafficPolicy Local" }
                if info.externalPolicyLocal && address != info.clusterIP { kind += ", externalTrafficPolicy Local" }
                if info.sessionAffinityClientIP { kind += ", ClientIP affinity \(info.stickyMaxAgeSeconds)s" }
                out.append("  service port \(info.name) on \(address.joined(port: info.port))/\(info.proto.rawValue) (\(kind))")
            case let .pod(ip, port):
                out.append("  pod address \(ip.joined(port: port)): no service rules, straight to the pod")
            case let .outside(ip, port):
                out.append("  \(ip.joined(port: port)): not a pod or service address of the cluster")
            }
            out.append("")
        }
        if !candidates.isEmpty {
            out.append("Endpoints")
            for c in candidates {
                let who = [c.pod, c.node.map { "node \($0)" }].compactMap { $0 }.joined(separator: ", ")
                out.append("  \(c.endpoint.description)\(who.isEmpty ? "" : " (\(who))"): \(c.unusedBecause.map { "not used: \($0)" } ?? "used")")
            }
            out.append("")
        }
        if !rules.isEmpty {
            out.append("Rules")
            for step in rules {
                out.append("  \(step.location)")
                out += step.lines.map { "    " + $0 }
            }
            out.append("")
        }
        if !reaches.isEmpty {
            out.append("Policy")
            for r in reaches {
                out += r.policy.text.split(separator: "\n").map { "  " + $0 }
            }
            out.append("")
        }
        out.append("Verdict")
        out += verdictLines.map { "  " + $0 }
        return out.joined(separator: "\n") + "\n"
    }

    /// Which endpoints can serve, which are blocked and by what, or where the trace stopped.
    public var verdictLines: [String] {
        var lines: [String] = []
        if let stopped, reaches.isEmpty { return ["\(outcome == .leavesCluster ? "LEAVES THE CLUSTER" : "FAILS"): \(stopped)"] }
        let s = serving, b = blocked
        if leavesCluster, let r = reaches.first {
            lines.append(r.policy.allowed ? "LEAVES THE CLUSTER: \(source) may send to \(Self.describe(r)) (policy allows it)"
                                          : "FAILS: policy blocks \(source) from \(Self.describe(r))")
        } else if s.isEmpty {
            lines.append("FAILS: no endpoint can serve \(source): policy blocks \(b.count == 1 ? "the only one" : "all \(b.count)")")
        } else {
            lines.append("OK: \(s.count) of \(reaches.count) endpoint\(reaches.count == 1 ? "" : "s") can serve \(source): "
                         + s.map(Self.describe).joined(separator: ", "))
        }
        for r in b where !leavesCluster {
            var by: [String] = []
            for side in [r.policy.egress, r.policy.ingress] where !side.allows {
                let name = side.direction == .egress ? "egress of \(side.pod ?? source)" : "ingress of \(side.pod ?? r.address.description)"
                let policies = side.isolatingPolicies.map(\.object)
                by.append(policies.isEmpty ? name : "\(name) (\(policies.joined(separator: ", ")))")
            }
            lines.append("blocked: \(Self.describe(r)) by \(by.joined(separator: " and "))")
        }
        if let stopped { lines.append("note: \(stopped)") }
        return lines
    }

    private static func describe(_ r: Reach) -> String {
        r.address.joined(port: r.port) + (r.pod.map { " (\($0))" } ?? "")
    }

    public func jsonObject() -> [String: Any] {
        var o: [String: Any] = ["source": source, "sourceNode": sourceNode, "mode": mode.rawValue, "protocol": proto.rawValue,
                                "target": target, "outcome": "\(outcome)", "verdict": verdictLines]
        if let r = resolution {
            o["dns"] = [
                "query": r.query,
                "tried": r.lookup.attempts.map { a -> [String: Any] in
                    ["name": a.name.description,
                     "result": a.answer.map { $0.answers.isEmpty ? ($0.rcode == .noError ? "NODATA" : "\($0.rcode)") : "answer" } ?? "forwarded"]
                },
                "addresses": r.addresses.map(\.description),
            ] as [String: Any]
        }
        switch destination {
        case let .service(info, address)?:
            o["destination"] = ["kind": "service", "servicePort": info.name.description, "address": address.description,
                                "port": info.port] as [String: Any]
        case let .pod(ip, port)?:
            o["destination"] = ["kind": "pod", "address": ip.description, "port": port] as [String: Any]
        case let .outside(ip, port)?:
            o["destination"] = ["kind": "outside", "address": ip.description, "port": port] as [String: Any]
        case nil: break
        }
        o["endpoints"] = candidates.map { c -> [String: Any] in
            var e: [String: Any] = ["endpoint": c.endpoint.description, "used": c.unusedBecause == nil]
            if let p = c.pod { e["pod"] = p }
            if let n = c.node { e["node"] = n }
            if let why = c.unusedBecause { e["unusedBecause"] = why }
            return e
        }
        o["rules"] = rules.map { ["location": $0.location, "lines": $0.lines] as [String: Any] }
        o["reaches"] = reaches.map { r -> [String: Any] in
            var e: [String: Any] = ["address": r.address.description, "port": r.port, "policy": r.policy.jsonObject()]
            if let p = r.pod { e["pod"] = p }
            return e
        }
        if let stopped { o["stopped"] = stopped }
        return o
    }

    public func json() throws -> String {
        let data = try JSONSerialization.data(withJSONObject: jsonObject(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
