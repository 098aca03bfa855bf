import SeawayModel
import SeawayPolicy
import Testing

/// Scenarios named after the upstream Kubernetes e2e NetworkPolicy suite ("Netpol"), on its
/// cluster (TestCluster.swift: namespaces x, y, z labelled ns=…; pods a, b, c labelled pod=…).
/// Each states the expected reachability as a plain predicate written from the documented
/// semantics; the evaluator must agree on all 81 pod pairs, ports 80 and 81, all protocols.
private struct Scenario: Sendable, CustomTestStringConvertible {
    var name: String
    var policies: String
    var expected: @Sendable (_ from: String, _ to: String, _ port: Int, _ proto: L4Protocol) -> Bool
    var testDescription: String { name }
}

private func ns(_ pod: String) -> String { String(pod.prefix { $0 != "/" }) }
private func name(_ pod: String) -> String { String(pod.drop { $0 != "/" }.dropFirst()) }

private let scenarios: [Scenario] = [
    Scenario(name: "should support a 'default-deny-ingress' policy",
             policies: policy("deny-ingress", "podSelector: {}"),
             expected: { f, t, _, _ in f == t || ns(t) != "x" }),
    Scenario(name: "should support a 'default-deny-all' policy",
             policies: policy("deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]"),
             expected: { f, t, _, _ in f == t || (ns(t) != "x" && ns(f) != "x") }),
    Scenario(name: "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
             policies: policy("allow-b", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]"),
             expected: { f, t, _, _ in f == t || t != "x/a" || f == "x/b" }),
    Scenario(name: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
             policies: policy("allow-other-ns", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}]}]"),
             expected: { f, t, _, _ in f == t || t != "x/a" || ns(f) != "x" }),
    Scenario(name: "should enforce policy based on PodSelector and NamespaceSelector",
             policies: policy("and", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}, podSelector: {matchLabels: {pod: b}}}]}]"),
             expected: { f, t, _, _ in f == t || t != "x/a" || (ns(f) != "x" && name(f) == "b") }),
    Scenario(name: "should enforce policy based on PodSelector or NamespaceSelector",
             policies: policy("or", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}, {podSelector: {matchLabels: {pod: b}}}]}]"),
             expected: { f, t, _, _ in f == t || t != "x/a" || ns(f) != "x" || f == "x/b" }),
    Scenario(name: "should enforce policy based on Ports",
             policies: policy("port-81", "podSelector: {matchLabels: {pod: a}}\ningress: [{ports: [{port: 81}]}]"),
             expected: { f, t, port, proto in f == t || t != "x/a" || (port == 81 && proto == .tcp) }),
    Scenario(name: "should enforce multiple, stacked policies with overlapping podSelectors",
             policies: [
                 policy("port-80", "podSelector: {matchLabels: {pod: a}}\ningress: [{ports: [{port: 80}]}]"),
                 policy("port-81-from-y", "podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}], ports: [{port: 81}]}]"),
             ].joined(separator: "\n---\n"),
             expected: { f, t, port, proto in
                 if f == t || ns(t) != "x" { return true }
                 let fromY81 = ns(f) == "y" && port == 81 && proto == .tcp
                 return t == "x/a" ? ((port == 80 && proto == .tcp) || fromY81) : fromY81
             }),
    Scenario(name: "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
             policies: [
                 policy("deny-egress-a", "podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Egress]"),
                 policy("allow-all-in-y", ns: "y", "podSelector: {}\ningress: [{}]"),
             ].joined(separator: "\n---\n"),
             expected: { f, t, _, _ in f == t || f != "x/a" }),
    Scenario(name: "should allow egress access to server in CIDR block",
             policies: policy("egress-cidr", "podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 10.0.1.2/32}}]}]"),
             expected: { f, t, _, _ in f == t || f != "x/a" || t == "y/b" }),
    Scenario(name: "should enforce except clause while egress access to server in CIDR block",
             policies: policy("egress-except", "podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.2.0/24]}}]}]"),
             expected: { f, t, _, _ in f == t || f != "x/a" || ns(t) != "z" }),
    Scenario(name: "should enforce ingress policy allowing any port traffic to a server on a specific protocol",
             policies: policy("udp-only", "podSelector: {}\ningress: [{ports: [{protocol: UDP}]}]"),
             expected: { f, t, _, proto in f == t || ns(t) != "x" || proto == .udp }),
    Scenario(name: "should enforce policy to allow ingress traffic for a target (named port)",
             policies: policy("named", "podSelector: {}\ningress: [{ports: [{port: serve-81-sctp, protocol: SCTP}]}]"),
             expected: { f, t, port, proto in f == t || ns(t) != "x" || (port == 81 && proto == .sctp) }),
    Scenario(name: "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
             policies: policy("egress-y-a", "podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Egress]\negress: [{to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]}]"),
             expected: { f, t, _, _ in f == t || f != "x/a" || t == "y/a" }),
    Scenario(name: "should work with Ingress, Egress specified together",
             policies: policy("both", "podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Ingress, Egress]\ningress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]\negress: [{to: [{namespaceSelector: {matchLabels: {ns: y}}}], ports: [{port: 80}]}]"),
             expected: { f, t, port, proto in
                 if f == t { return true }
                 if t == "x/a" && f != "x/b" { return false }
                 if f == "x/a" { return ns(t) == "y" && port == 80 && proto == .tcp }
                 return true
             }),
]

@Suite struct E2EScenarioTests {
    @Test(arguments: scenarios)
    fileprivate func reachability(_ scenario: Scenario) throws {
        let e = try evaluator(scenario.policies)
        let pods = e.podKeys.filter { $0 != "z/agent" }
        var wrong: [String] = []
        for proto in L4Protocol.allCases {
            for port in [80, 81] {
                let m = e.matrix(port: port, proto: proto)
                for from in pods {
                    for to in pods {
                        let want = scenario.expected(from, to, port, proto)
                        let got = try e.check(from: e.endpoint(from), to: e.endpoint(to), port: .number(port), proto: proto).allowed
                        let cell = m.allowed(from: m.pods.firstIndex(of: from)!, to: m.pods.firstIndex(of: to)!)
                        if got != want || cell != want { wrong.append("\(from) -> \(to) \(port)/\(proto.rawValue): check \(got), matrix \(cell), want \(want)") }
                    }
                }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(10))")
    }
}
