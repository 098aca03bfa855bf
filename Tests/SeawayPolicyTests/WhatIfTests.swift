import Foundation
import SeawayLoader
import SeawayModel
import SeawayPolicy
import Testing

/// What-if questions against `Fixtures/policy/xyz`: x/a takes only y/b on 80/TCP; z's pods
/// send only to x on TCP 80-81 and UDP 53.
@Suite struct WhatIfTests {
    private static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/policy/xyz").path

    private func cluster() throws -> ClusterState { try ManifestLoader().load([Self.fixture]) }

    private func objects(_ yaml: String) throws -> ClusterState {
        var state = ClusterState()
        try ManifestDecoder().decode(yaml, file: "added.yaml", into: &state)
        return state
    }

    private func whatIf(_ edits: [ClusterEdit], cells: [(port: Int, proto: L4Protocol)] = [(80, .tcp)]) throws -> PolicyWhatIf {
        let before = try cluster()
        return PolicyWhatIf(before: PolicyEvaluator(cluster: before),
                            after: PolicyEvaluator(cluster: try before.applying(edits)), cells: cells)
    }

    @Test func addingADefaultDenyCutsOffTheNamespace() throws {
        let r = try whatIf([.add(objects("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-all, namespace: z}
            spec: {podSelector: {}}
            """))])
        // Everything from x and y into z (3 x 3 x 2); z's own pods already could not reach each other.
        #expect(r.newlyDenied == 18 && r.newlyAllowed == 0)
        #expect(r.changes.allSatisfy { $0.to.hasPrefix("z/") && $0.ingressChanged && !$0.egressChanged })
        #expect(r.text.hasSuffix("18 connections newly denied, 0 newly allowed (9 pods, 81 pod pairs x 1 port/protocol compared)\n"))
    }

    @Test func removingOneOfTwoIsolatingPoliciesChangesNothing() throws {
        let r = try whatIf([.remove(try .init(parsing: "networkpolicy/x/deny-all-to-a"))])
        #expect(r.changes.isEmpty)
        let both = try whatIf([.remove(try .init(parsing: "netpol/x/deny-all-to-a")),
                               .remove(try .init(parsing: "netpol/x/allow-b-from-y"))])
        #expect(both.newlyAllowed == 7 && both.newlyDenied == 0)
        #expect(Set(both.changes.map(\.from)) == ["x/b", "x/c", "y/a", "y/c", "z/a", "z/b", "z/c"])
    }

    @Test func editingAPolicyIsReplacingIt() throws {
        let edited = try objects("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: allow-b-from-y, namespace: x}
            spec:
              podSelector: {matchLabels: {pod: a}}
              ingress:
              - from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: b}}}]
                ports: [{port: 81}]
            """)
        let r = try whatIf([.add(edited)], cells: [(80, .tcp), (81, .tcp)])
        #expect(r.changes.map { "\($0.from) \($0.to) \($0.port) \($0.nowAllowed)" } == ["y/b x/a 80 false", "y/b x/a 81 true"])
        // Same answer as asking `check` on both clusters for every pair.
        let before = PolicyEvaluator(cluster: try cluster())
        let after = PolicyEvaluator(cluster: try cluster().applying([.add(edited)]))
        var flips: [String] = []
        for port in [80, 81] {
            for from in before.podKeys {
                for to in before.podKeys {
                    let was = try before.check(from: before.endpoint(from), to: before.endpoint(to), port: .number(port), proto: .tcp).allowed
                    let now = try after.check(from: after.endpoint(from), to: after.endpoint(to), port: .number(port), proto: .tcp).allowed
                    if was != now { flips.append("\(from) \(to) \(port) \(now)") }
                }
            }
        }
        #expect(flips == r.changes.map { "\($0.from) \($0.to) \($0.port) \($0.nowAllowed)" })
    }

    @Test func relabellingPodsAndNamespaces() throws {
        let pod = try whatIf([ClusterEdit.relabel(parsing: "pod/y/a:pod=b")])
        #expect(pod.changes.map { "\($0.from) -> \($0.to)" } == ["y/a -> x/a"])
        #expect(pod.newlyAllowed == 1)
        // allow-b-from-y selects namespaces by ns=y; moving the label away cuts y/b off.
        let ns = try whatIf([ClusterEdit.relabel(parsing: "namespace/y:ns-,team=blue")])
        #expect(ns.changes.map { "\($0.from) -> \($0.to) \($0.nowAllowed)" } == ["y/b -> x/a false"])
    }

    @Test func removingAPodLeavesItOutOfTheComparison() throws {
        let r = try whatIf([.remove(try .init(parsing: "pod/y/b"))])
        #expect(r.changes.isEmpty)
        #expect(r.podsOnlyBefore == ["y/b"] && r.comparedPods == 8)
    }

    @Test func editsThatNameNothingAreErrors() throws {
        #expect(throws: PolicyQueryError.self) { try whatIf([.remove(try .init(parsing: "networkpolicy/x/nope"))]) }
        #expect(throws: PolicyQueryError.self) { try whatIf([ClusterEdit.relabel(parsing: "pod/x/nope:a=b")]) }
        #expect(throws: PolicyQueryError.self) { try whatIf([ClusterEdit.relabel(parsing: "netpol/x/deny-all-to-a:a=b")]) }
        #expect(throws: PolicyQueryError.self) { try ClusterEdit.ObjectRef(parsing: "service/x/a") }
        #expect(throws: PolicyQueryError.self) { try ClusterEdit.ObjectRef(parsing: "pod/x") }
        #expect(throws: PolicyQueryError.self) { try ClusterEdit.ObjectRef(parsing: "namespace/x/y") }
        #expect(throws: PolicyQueryError.self) { try ClusterEdit.relabel(parsing: "pod/x/a") }
        #expect(throws: PolicyQueryError.self) { try ClusterEdit.relabel(parsing: "pod/x/a:novalue") }
    }
}

@Suite struct AdminWhatIfTests {
    @Test func addingAndRemovingAdminPolicies() throws {
        let deny = anp("deny-y", priority: 3, "subject: {namespaces: {matchLabels: {ns: x}}}\ningress:\n- {action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}")
        let before = try evaluator(deny)
        var state = ClusterState()
        try ManifestDecoder().decode(base + "\n---\n" + deny, file: "test.yaml", into: &state)
        let removed = try state.applying([.remove(try .init(parsing: "anp/deny-y"))])
        let r = PolicyWhatIf(before: before, after: PolicyEvaluator(cluster: removed), cells: [(80, .tcp)])
        // y's three pods regain the three pods of x.
        #expect(r.newlyAllowed == 9 && r.newlyDenied == 0)
        #expect(r.changes.allSatisfy { $0.from.hasPrefix("y/") && $0.to.hasPrefix("x/") && $0.ingressChanged })
        #expect(throws: PolicyQueryError.self) { try state.applying([.remove(try .init(parsing: "banp/default"))]) }
        #expect(throws: PolicyQueryError.self) { try ClusterEdit.ObjectRef(parsing: "anp/x/deny-y") }
    }
}
