import SeawayModel
import SeawayPolicy
import Testing

/// Lint checks on the e2e cluster (see TestCluster.swift): each check fires on the mistake it
/// is for and stays quiet on the deliberate look-alike.
@Suite struct PolicyLintTests {
    private func findings(_ policies: String...) throws -> [String] {
        try evaluator(policies.joined(separator: "\n---\n")).lint().map { "\($0.policy.name) \($0.field) \($0.check.rawValue)" }
    }

    @Test func selectorsThatMatchNothing() throws {
        #expect(try findings(policy("typo", "podSelector: {matchLabels: {pod: d}}")) == ["typo spec.podSelector selects-nothing"])
        // Host-network pods are never selected: a policy for them alone selects nothing.
        #expect(try findings(policy("agent", ns: "z", "podSelector: {matchLabels: {pod: agent}}"))
            == ["agent spec.podSelector selects-nothing"])
        #expect(try findings(policy("fine", "podSelector: {matchLabels: {pod: a}}")).isEmpty)
        let dead = try findings(policy("dead-peer", "podSelector: {}\ningress:\n- from: [{podSelector: {matchLabels: {pod: a}}}, {namespaceSelector: {matchLabels: {ns: w}}, podSelector: {}}]"))
        #expect(dead == ["dead-peer spec.ingress[0].from[1] peer-matches-nothing"])
        // ipBlocks are for addresses outside the cluster: matching no pod is normal.
        #expect(try findings(policy("external", "podSelector: {}\negress:\n- to: [{ipBlock: {cidr: 203.0.113.0/24}}]")).isEmpty)
    }

    @Test func splitPeersOnlyWhenItLooksAccidental() throws {
        let split = "podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: y}}\n  - podSelector: {matchLabels: {pod: b}}"
        #expect(try findings(policy("split", split)) == ["split spec.ingress[0].from[0], spec.ingress[0].from[1] split-peer"])
        let joined = "podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: y}}\n    podSelector: {matchLabels: {pod: b}}"
        #expect(try findings(policy("joined", joined)).isEmpty)
        // "Namespace y, or anything in my namespace" is a deliberate OR.
        let deliberate = "podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: y}}\n  - podSelector: {}"
        #expect(try findings(policy("deliberate", deliberate)).isEmpty)
    }

    @Test func namedPortsNoPodDeclares() throws {
        let ingress = "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports: [{port: serve-80-tcp}, {port: serve-80-tcp, protocol: UDP}, {port: serve-80-udp, protocol: UDP}]"
        // serve-80-tcp exists only as TCP.
        #expect(try findings(policy("named", ingress)) == ["named spec.ingress[0].ports[1] unknown-named-port"])
        let egress = "podSelector: {}\negress:\n- to: [{podSelector: {matchLabels: {pod: b}}}]\n  ports: [{port: serve-81-sctp, protocol: SCTP}, {port: metrics}]"
        #expect(try findings(policy("named-out", egress)) == ["named-out spec.egress[0].ports[1] unknown-named-port"])
    }

    @Test func shadowedRules() throws {
        let twice = "podSelector: {}\ningress:\n- from: [{namespaceSelector: {}}]\n  ports: [{port: 80, endPort: 90}]\n- from: [{namespaceSelector: {matchLabels: {ns: z}}}]\n  ports: [{port: 81}]"
        #expect(try findings(policy("twice", twice)) == ["twice spec.ingress[1] shadowed-rule"])
        // Wider peers or other ports are not shadowed.
        let wider = "podSelector: {}\ningress:\n- from: [{namespaceSelector: {matchLabels: {ns: z}}}]\n  ports: [{port: 80}]\n- from: [{namespaceSelector: {}}]\n  ports: [{port: 80}]\n- from: [{namespaceSelector: {}}]\n  ports: [{port: 81, protocol: UDP}]"
        #expect(try findings(policy("wider", wider)) == ["wider spec.ingress[0] shadowed-rule"])
        // Across policies: only when the other policy isolates at least the same pods.
        let broad = policy("broad", "podSelector: {}\ningress:\n- {}")
        let narrow = policy("narrow", "podSelector: {matchLabels: {pod: a}}\ningress:\n- from: [{podSelector: {}}]")
        #expect(try findings(broad, narrow) == ["narrow spec.ingress[0] shadowed-rule"])
        // Two identical policies: the later one's rule is reported, once.
        let same = "podSelector: {}\ningress:\n- from: [{podSelector: {}}]"
        #expect(try findings(policy("p1", same), policy("p2", same)) == ["p2 spec.ingress[0] shadowed-rule"])
    }

    @Test func findingsNameFileObjectAndField() throws {
        let f = try evaluator(policy("typo", "podSelector: {matchLabels: {pod: d}}")).lint()
        #expect(f.count == 1)
        #expect(f[0].description.hasPrefix("test.yaml:"))
        #expect(f[0].description.hasSuffix(": NetworkPolicy x/typo: spec.podSelector: warning: selects no pod in namespace x [selects-nothing]"))
    }

    @Test func adminPolicies() throws {
        let dead = anp("dead", priority: 1, """
            subject: {namespaces: {matchLabels: {ns: w}}}
            ingress:
            - {action: Deny, from: [{namespaces: {matchLabels: {ns: w}}}]}
            """)
        #expect(try findings(dead) == ["dead spec.subject selects-nothing", "dead spec.ingress[0].from[0] peer-matches-nothing"])
        let shadowed = anp("order", priority: 1, """
            subject: {namespaces: {}}
            ingress:
            - {action: Deny, from: [{namespaces: {}}], ports: [{portRange: {start: 1, end: 1000}}]}
            - {action: Allow, from: [{namespaces: {matchLabels: {ns: y}}}], ports: [{portNumber: {port: 80}}]}
            - {action: Allow, from: [{namespaces: {matchLabels: {ns: y}}}], ports: [{portNumber: {port: 8080}}, {namedPort: serve-80-tcp}, {namedPort: http}]}
            egress:
            - {action: Deny, to: [{networks: [10.0.0.0/8]}]}
            - {action: Allow, to: [{networks: [10.1.0.0/16]}]}
            - {action: Allow, to: [{networks: [192.168.0.0/16]}]}
            """)
        #expect(try findings(shadowed) == [
            "order spec.ingress[1] shadowed-rule",
            "order spec.ingress[2].ports[2] unknown-named-port",
            "order spec.egress[1] shadowed-rule",
        ])
        let baseline = banp("subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {}}]}")
        #expect(try findings(baseline).isEmpty)
        let f = try evaluator(dead).lint()
        #expect(f[0].description.hasSuffix(": AdminNetworkPolicy dead: spec.subject: warning: selects no pod [selects-nothing]"))
    }
}
