import SeawayModel
import SeawayPolicy
import Testing

func anp(_ name: String, priority: Int, _ spec: String) -> String {
    "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: \(name)}\nspec:\n  priority: \(priority)\n"
        + spec.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n")
}

func banp(_ spec: String, name: String = "default") -> String {
    "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: \(name)}\nspec:\n"
        + spec.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n")
}

/// The decoding error for `doc`, or nil when it decodes. Any other error fails the test.
private func decodingError(_ doc: String) throws -> ManifestError? {
    var state = ClusterState()
    do {
        try ManifestDecoder().decode(doc, file: "t.yaml", into: &state)
        return nil
    } catch let e as ManifestError {
        return e
    }
}

private func join(_ docs: String...) -> String { docs.joined(separator: "\n---\n") }

/// The admin tiers on the e2e cluster (TestCluster.swift): admin policies first (by priority,
/// rules in order, first match decides; Pass hands over), NetworkPolicy next, baseline last.
@Suite struct AdminTierTests {
    private let denyYtoX = anp("deny-y-to-x", priority: 10,
                               "subject: {namespaces: {matchLabels: {ns: x}}}\ningress:\n- {name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}")

    @Test func adminDenyOverridesNetworkPolicyAllow() throws {
        let allowAll = policy("allow-all", "podSelector: {}\ningress: [{}]")
        let e = try evaluator(join(denyYtoX, allowAll))
        let v = try e.check(from: e.endpoint("y/a"), to: e.endpoint("x/a"), port: .number(80), proto: .tcp)
        #expect(!v.allowed)
        guard case let .admin(m) = v.ingress.outcome else { Issue.record("expected an admin decision"); return }
        #expect(m.policy.name == "deny-y-to-x" && m.ruleName == "no-y" && m.action == .deny && m.ruleIndex == 0)
        #expect(try allowed(e, "z/a", "x/a"))
    }

    @Test func adminAllowOverridesNetworkPolicyIsolation() throws {
        let allowZ = anp("allow-z", priority: 5, "subject: {namespaces: {}}\ningress:\n- {action: Allow, from: [{namespaces: {matchLabels: {ns: z}}}]}")
        let e = try evaluator(join(allowZ, policy("deny-all", "podSelector: {}")))
        #expect(try allowed(e, "z/b", "x/a"))
        #expect(try !allowed(e, "y/b", "x/a"))  // NetworkPolicy still denies the rest
    }

    @Test func lowerPriorityNumbersComeFirstAndRulesInOrder() throws {
        let allow = anp("allow", priority: 10, "subject: {namespaces: {}}\ningress:\n- {action: Allow, from: [{namespaces: {}}]}")
        let deny = anp("deny", priority: 20, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {}}]}")
        #expect(try allowed(evaluator(join(allow, deny)), "y/a", "x/a"))
        let denyFirst = anp("deny", priority: 5, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {}}]}")
        #expect(try !allowed(evaluator(join(allow, denyFirst)), "y/a", "x/a"))
        // Within one policy the first matching rule decides.
        let ordered = anp("ordered", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}]}\n- {action: Deny, from: [{namespaces: {}}]}")
        let e = try evaluator(ordered)
        #expect(try allowed(e, "y/a", "x/b"))
        #expect(try !allowed(e, "y/b", "x/b"))
    }

    @Test func passHandsOverToNetworkPolicyThenBaseline() throws {
        let pass = anp("pass-y", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Pass, from: [{namespaces: {matchLabels: {ns: y}}}]}\n- {action: Allow, from: [{namespaces: {}}]}")
        let denyX = policy("deny-all", "podSelector: {}")
        let baselineDeny = banp("subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}")
        let e = try evaluator(join(pass, denyX, baselineDeny))
        // Passed: x is isolated by NetworkPolicy, which denies.
        let v = try e.check(from: e.endpoint("y/a"), to: e.endpoint("x/a"), port: .number(80), proto: .tcp)
        #expect(!v.allowed && v.ingress.outcome == .denied)
        #expect(v.ingress.passedBy?.policy.name == "pass-y")
        // Passed and z is not isolated by NetworkPolicy: the baseline denies.
        let w = try e.check(from: e.endpoint("y/a"), to: e.endpoint("z/a"), port: .number(80), proto: .tcp)
        guard case let .baseline(m) = w.ingress.outcome else { Issue.record("expected a baseline decision"); return }
        #expect(m.action == .deny && !w.allowed)
        // Not passed: the second admin rule allows, skipping NetworkPolicy.
        #expect(try allowed(e, "z/a", "x/a"))
    }

    @Test func baselineOnlyForPodsNetworkPolicyDoesNotIsolate() throws {
        let baseline = banp("subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {}}]}")
        let allowY = policy("allow-y", ns: "y", "podSelector: {}\ningress: [{from: [{namespaceSelector: {}}]}]")
        let e = try evaluator(join(baseline, allowY))
        #expect(try allowed(e, "x/a", "y/a"))   // NetworkPolicy isolates y and allows
        #expect(try !allowed(e, "x/a", "z/a"))  // z: no NetworkPolicy, the baseline denies
        #expect(try allowed(e, "z/a", "z/a"))   // a pod may always reach itself
    }

    @Test func portsNumbersRangesAndNamedPorts() throws {
        let ports = anp("ports", priority: 1, """
            subject: {namespaces: {matchLabels: {ns: x}}}
            ingress:
            - action: Deny
              from: [{namespaces: {}}]
              ports: [{portNumber: {port: 80}}, {portRange: {protocol: UDP, start: 1000, end: 2000}}, {namedPort: serve-81-sctp}]
            """)
        let e = try evaluator(ports)
        #expect(try !allowed(e, "y/a", "x/a", 80, .tcp))   // protocol defaults to TCP
        #expect(try allowed(e, "y/a", "x/a", 80, .udp))
        #expect(try !allowed(e, "y/a", "x/a", 1500, .udp))
        #expect(try allowed(e, "y/a", "x/a", 2001, .udp))
        #expect(try !allowed(e, "y/a", "x/a", 81, .sctp))  // the destination's serve-81-sctp
        #expect(try allowed(e, "y/a", "x/a", 81, .tcp))
    }

    @Test func egressNetworksAndNodesPeers() throws {
        let egress = anp("egress", priority: 1, """
            subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
            egress:
            - {action: Deny, to: [{networks: [10.0.1.0/24, 203.0.113.0/24]}]}
            - {action: Deny, to: [{nodes: {}}]}
            """)
        let e = try evaluator(egress)
        #expect(try !allowed(e, "x/a", "y/b"))          // 10.0.1.2: a pod address in the network
        #expect(try allowed(e, "x/a", "z/b"))           // 10.0.2.2
        #expect(try !allowed(e, "x/a", "203.0.113.5"))
        #expect(try !allowed(e, "x/a", "192.168.0.2"))  // a node address
        #expect(try !allowed(e, "x/a", "z/agent"))      // a host-network pod is its node
        #expect(try allowed(e, "x/b", "y/b"))           // not the subject
    }

    @Test func hostNetworkPodsAreNeverSubjects() throws {
        let denyAll = anp("deny-all", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {}}]}")
        let e = try evaluator(denyAll)
        #expect(try allowed(e, "y/a", "z/agent"))
        #expect(try !allowed(e, "y/a", "z/a"))
        #expect(try allowed(e, "192.168.0.2", "z/a"))  // z/a's own node
    }

    @Test func reportNamesTheTier() throws {
        let e = try evaluator(denyYtoX)
        let text = try e.check(from: e.endpoint("y/a"), to: e.endpoint("x/a"), port: .number(80), proto: .tcp).text
        #expect(text.hasPrefix("DENIED y/a -> x/a port 80/TCP\n"))
        #expect(text.contains("ingress of x/a: denied by the admin tier: AdminNetworkPolicy deny-y-to-x (priority 10, test.yaml:"))
        #expect(text.contains("ingress[0] \"no-y\" Deny, from[0]"))
    }

    @Test func validation() throws {
        #expect(try decodingError(banp("subject: {namespaces: {}}", name: "other"))?.message.contains("must be named 'default'") == true)
        #expect(try decodingError(anp("p", priority: 1001, "subject: {namespaces: {}}"))?.field == "spec.priority")
        #expect(try decodingError(banp("subject: {namespaces: {}}\ningress:\n- {action: Pass, from: [{namespaces: {}}]}"))?.field == "spec.ingress[0].action")
        #expect(try decodingError(anp("p", priority: 1, "subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}"))?.field == "spec.subject")
        #expect(try decodingError(anp("p", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{nodes: {}}]}"))?.field == "spec.ingress[0].from[0].nodes")
        #expect(try decodingError(anp("p", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: []}"))?.field == "spec.ingress[0].from")
        #expect(try decodingError(anp("p", priority: 1, "subject: {namespaces: {}}\negress:\n- {action: Deny, to: [{networks: [10.0.0.0/33]}]}"))?.field == "spec.egress[0].to[0].networks[0]")
        #expect(try decodingError(anp("p", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {}}], ports: [{portRange: {start: 90, end: 80}}]}"))?.message == "end 80 must be greater than start 90")
        #expect(try decodingError(anp("p", priority: 1, "subject: {namespaces: {}}\negress:\n- {action: Deny, to: [{networks: [10.0.0.0/8]}], ports: [{namedPort: http}]}"))?.message.contains("named ports cannot be used") == true)
        #expect(try decodingError(anp("p", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Drop, from: [{namespaces: {}}]}"))?.message == "unsupported action 'Drop' (must be Allow, Deny, Pass)")
        let ok = try decodingError(anp("p", priority: 0, "subject: {pods: {namespaceSelector: {}, podSelector: {}}}\negress:\n- {action: Pass, to: [{nodes: {matchLabels: {a: b}}}, {networks: ['fd00::/8']}]}"))
        #expect(ok == nil)
    }
}

func cnp(_ name: String, tier: String, priority: Int, _ spec: String) -> String {
    "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: \(name)}\nspec:\n  tier: \(tier)\n  priority: \(priority)\n"
        + spec.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n")
}

/// ClusterNetworkPolicy (v1alpha2): one kind for both tiers, Accept/Deny/Pass, `protocols`.
@Suite struct ClusterNetworkPolicyTests {
    @Test func adminTierAcceptAndDenyWithProtocols() throws {
        let admin = cnp("guard-x", tier: "Admin", priority: 10, """
            subject: {namespaces: {matchLabels: {ns: x}}}
            ingress:
            - {name: y-web, action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}], protocols: [{tcp: {destinationPort: {number: 80}}}, {destinationNamedPort: serve-80-udp}]}
            - {action: Deny, from: [{namespaces: {}}], protocols: [{udp: {destinationPort: {range: {start: 53, end: 80}}}}, {tcp: {destinationPort: {range: {start: 1, end: 1000}}}}]}
            """)
        let e = try evaluator(join(admin, policy("deny-all", "podSelector: {}")))
        let v = try e.check(from: e.endpoint("y/a"), to: e.endpoint("x/a"), port: .number(80), proto: .tcp)
        #expect(v.allowed)
        guard case let .admin(m) = v.ingress.outcome else { Issue.record("expected an admin decision"); return }
        #expect(m.actionName == "Accept" && m.action == .allow && m.ruleName == "y-web")
        #expect(v.text.contains("ClusterNetworkPolicy guard-x (Admin tier, priority 10, test.yaml:"))
        #expect(try allowed(e, "y/a", "x/a", 80, .udp))    // destinationNamedPort serve-80-udp
        #expect(try !allowed(e, "z/a", "x/a", 80, .udp))   // UDP 53-80 denied for everyone else
        #expect(try !allowed(e, "y/a", "x/a", 81, .tcp))   // TCP 1-1000 denied
        #expect(try !allowed(e, "y/a", "x/a", 2000, .tcp)) // not matched: NetworkPolicy deny-all decides
    }

    @Test func passInTheBaselineTierFallsToTheDefault() throws {
        let baseline = cnp("base", tier: "Baseline", priority: 1, """
            subject: {namespaces: {}}
            ingress:
            - {action: Pass, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}]}
            - {action: Deny, from: [{namespaces: {}}]}
            """)
        let e = try evaluator(baseline)
        #expect(try allowed(e, "y/a", "x/b"))   // passed: no tier left, the default allows
        #expect(try !allowed(e, "y/b", "x/b"))
    }

    @Test func tiersMixAcrossKindsByPriority() throws {
        let cnpDeny = cnp("deny-y", tier: "Admin", priority: 5, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}")
        let anpAllow = anp("allow-y", priority: 7, "subject: {namespaces: {}}\ningress:\n- {action: Allow, from: [{namespaces: {matchLabels: {ns: y}}}]}")
        #expect(try !allowed(evaluator(join(cnpDeny, anpAllow)), "y/a", "x/a"))
        let anpFirst = anp("allow-y", priority: 2, "subject: {namespaces: {}}\ningress:\n- {action: Allow, from: [{namespaces: {matchLabels: {ns: y}}}]}")
        #expect(try allowed(evaluator(join(cnpDeny, anpFirst)), "y/a", "x/a"))
    }

    @Test func domainNamesNameNoAddressSeawayCanKnow() throws {
        let allowDomains = cnp("domains", tier: "Admin", priority: 1, """
            subject: {namespaces: {matchLabels: {ns: x}}}
            egress:
            - {action: Accept, to: [{domainNames: ['*.example.com']}]}
            - {action: Deny, to: [{networks: [0.0.0.0/0]}]}
            """)
        let e = try evaluator(allowDomains)
        #expect(try !allowed(e, "x/a", "203.0.113.9"))
        #expect(try !allowed(e, "x/a", "y/a"))  // 0.0.0.0/0 covers pod addresses too
    }

    @Test func validation() throws {
        #expect(try decodingError(cnp("p", tier: "Developer", priority: 1, "subject: {namespaces: {}}"))?.field == "spec.tier")
        #expect(try decodingError(cnp("p", tier: "Admin", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Allow, from: [{namespaces: {}}]}"))?
            .message == "unsupported action 'Allow' (must be Accept, Deny, Pass)")
        #expect(try decodingError(cnp("p", tier: "Admin", priority: 1, "subject: {namespaces: {}}\negress:\n- {action: Deny, to: [{domainNames: [a.example]}]}"))?
            .message == "domainNames peers are only allowed in Accept rules")
        #expect(try decodingError(cnp("p", tier: "Admin", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 80}}, udp: {destinationPort: {number: 80}}}]}"))?
            .field == "spec.ingress[0].protocols[0]")
        #expect(try decodingError(cnp("p", tier: "Admin", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 90, end: 90}}}}]}"))?
            .message == "end 90 must be greater than start 90")
        #expect(try decodingError(cnp("p", tier: "Baseline", priority: 0, "subject: {pods: {namespaceSelector: {}, podSelector: {}}}\negress:\n- {action: Pass, to: [{nodes: {}}], protocols: [{sctp: {destinationPort: {number: 9}}}]}")) == nil)
    }
}
