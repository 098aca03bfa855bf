import SeawayModel
import SeawayPolicy
import Testing

@Suite struct NetworkPolicySemanticsTests {
    @Test func withoutPoliciesEverythingIsAllowed() throws {
        let e = try evaluator()
        let v = try e.check(from: e.endpoint("y/b"), to: e.endpoint("x/a"), port: .number(80), proto: .tcp)
        #expect(v.allowed)
        #expect(v.ingress.outcome == .notIsolated && v.egress.outcome == .notIsolated)
    }

    @Test func denyAllIngressIsolatesOnlyIngress() throws {
        let e = try evaluator(policy("deny-all", "podSelector: {}"))
        let v = try e.check(from: e.endpoint("y/b"), to: e.endpoint("x/a"), port: .number(80), proto: .tcp)
        #expect(!v.allowed)
        #expect(v.ingress.outcome == .denied)
        #expect(v.ingress.isolatingPolicies.map(\.name) == ["deny-all"])
        // Egress from x is not isolated by an ingress-only policy.
        #expect(try allowed(e, "x/a", "y/b"))
    }

    @Test func egressRulesAloneStillIsolateIngress() throws {
        // policyTypes defaults to [Ingress, Egress] when egress rules exist: ingress is isolated too.
        let e = try evaluator(policy("egress-only-rules", "podSelector: {matchLabels: {pod: a}}\negress: [{to: [{podSelector: {}}]}]"))
        #expect(try allowed(e, "x/a", "x/b"))
        #expect(try !allowed(e, "x/a", "y/b"))  // egress to other namespaces not allowed
        #expect(try !allowed(e, "x/b", "x/a"))  // ingress isolated with no ingress rules
        #expect(try allowed(e, "x/b", "x/c"))   // x/c is not selected
    }

    @Test func explicitPolicyTypesWin() throws {
        let e = try evaluator(policy("egress-type", "podSelector: {}\npolicyTypes: [Egress]"))
        #expect(try allowed(e, "y/a", "x/a"))   // ingress not isolated
        #expect(try !allowed(e, "x/a", "y/a"))  // egress isolated, no rules
    }

    @Test func rulesAreAdditiveAcrossPolicies() throws {
        let e = try evaluator(policy("from-b", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]")
            + "\n---\n" + policy("from-c", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{podSelector: {matchLabels: {pod: c}}}]}]"))
        let v = try e.check(from: e.endpoint("x/c"), to: e.endpoint("x/a"), port: .number(80), proto: .tcp)
        #expect(v.allowed)
        guard case let .allowed(matches) = v.ingress.outcome else { Issue.record("expected allowed"); return }
        #expect(matches.map(\.policy.name) == ["from-c"])
        #expect(matches[0].peerIndex == 0 && matches[0].ruleIndex == 0 && matches[0].portIndex == nil)
        #expect(try allowed(e, "x/b", "x/a"))
        #expect(try allowed(e, "x/a", "x/a"))  // a pod may always reach itself
    }

    @Test func bothSidesMustAllow() throws {
        // x/a may send anywhere; y/b takes only from z. Egress allows, ingress denies.
        let sendAll = policy("send-all", "podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Egress]\negress: [{}]")
        let onlyZ = policy("only-z", ns: "y", "podSelector: {matchLabels: {pod: b}}\ningress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]")
        let e = try evaluator(sendAll + "\n---\n" + onlyZ)
        let v = try e.check(from: e.endpoint("x/a"), to: e.endpoint("y/b"), port: .number(80), proto: .tcp)
        #expect(v.egress.allows && !v.ingress.allows && !v.allowed)
        // The other way round: y/b's ingress would take x/b, but x/b's egress is isolated with no rules.
        let takeX = policy("take-x", ns: "y", "podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}}]}]")
        let noEgress = policy("no-egress", "podSelector: {matchLabels: {pod: b}}\npolicyTypes: [Egress]")
        let f = try evaluator(takeX + "\n---\n" + noEgress)
        let w = try f.check(from: f.endpoint("x/b"), to: f.endpoint("y/b"), port: .number(80), proto: .tcp)
        #expect(!w.egress.allows && w.ingress.allows && !w.allowed)
        #expect(try allowed(f, "x/a", "y/b"))
    }

    @Test func podSelectorAloneMeansThePolicysNamespace() throws {
        let e = try evaluator(policy("from-b", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]"))
        #expect(try allowed(e, "x/b", "x/a"))
        #expect(try !allowed(e, "y/b", "x/a"))
    }

    @Test func namespaceAndPodSelectorInOnePeerMeansBoth() throws {
        let and = try evaluator(policy("and", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: b}}}]}]"))
        #expect(try allowed(and, "y/b", "x/a"))
        #expect(try !allowed(and, "y/c", "x/a"))
        #expect(try !allowed(and, "z/b", "x/a"))
        // Two peers: either.
        let or = try evaluator(policy("or", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}, {podSelector: {matchLabels: {pod: b}}}]}]"))
        #expect(try allowed(or, "y/c", "x/a"))
        #expect(try allowed(or, "x/b", "x/a"))
        #expect(try !allowed(or, "z/b", "x/a"))  // podSelector alone: x only
    }

    @Test func emptySelectorsAndEmptyListsMatchEverything() throws {
        let allNamespaces = try evaluator(policy("all-ns", "podSelector: {}\ningress: [{from: [{namespaceSelector: {}}]}]"))
        #expect(try allowed(allNamespaces, "z/c", "x/a"))
        #expect(try !allowed(allNamespaces, "203.0.113.9", "x/a"))  // selectors never match addresses
        let emptyFrom = try evaluator(policy("empty-from", "podSelector: {}\ningress: [{from: []}]"))
        #expect(try allowed(emptyFrom, "203.0.113.9", "x/a"))
        let noRules = try evaluator(policy("no-rules", "podSelector: {}\ningress: []"))
        #expect(try !allowed(noRules, "x/b", "x/a"))
    }

    @Test func metadataNameLabelSelectsNamespaces() throws {
        let e = try evaluator(policy("from-z", "podSelector: {}\ningress: [{from: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [z]}]}}]}]"))
        #expect(try allowed(e, "z/a", "x/a"))
        #expect(try !allowed(e, "y/a", "x/a"))
    }

    @Test func matchExpressionOperators() throws {
        let e = try evaluator(policy("expr", "podSelector: {}\ningress: [{from: [{podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [b]}, {key: pod, operator: Exists}]}}]}]"))
        #expect(try allowed(e, "x/c", "x/a"))
        #expect(try !allowed(e, "x/b", "x/a"))
        let dne = try evaluator(policy("dne", "podSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}\ningress: []"))
        #expect(try !allowed(dne, "x/b", "x/a"))
    }

    @Test func ipBlocksWithExceptMatchPodAndExternalAddresses() throws {
        let e = try evaluator(policy("cidr", "podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}, {ipBlock: {cidr: 203.0.113.0/24}}]}]"))
        #expect(try allowed(e, "z/a", "x/a"))          // 10.0.2.1
        #expect(try !allowed(e, "y/a", "x/a"))         // 10.0.1.1 is in except
        #expect(try allowed(e, "203.0.113.7", "x/a"))
        #expect(try !allowed(e, "198.51.100.7", "x/a"))
        // Egress to an external address.
        let out = try evaluator(policy("out", "podSelector: {}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 8.8.8.0/24}}], ports: [{port: 53, protocol: UDP}]}]"))
        #expect(try allowed(out, "x/a", "8.8.8.8", 53, .udp))
        #expect(try !allowed(out, "x/a", "8.8.8.8", 53, .tcp))
        #expect(try allowed(out, "y/a", "8.8.8.8", 443))  // y is not isolated
    }

    @Test func portsProtocolsRangesAndNamedPorts() throws {
        let e = try evaluator(policy("ports", "podSelector: {}\ningress: [{ports: [{port: 80}, {port: 1000, endPort: 2000, protocol: UDP}, {port: serve-81-sctp, protocol: SCTP}]}]"))
        #expect(try allowed(e, "y/a", "x/a", 80, .tcp))      // protocol defaults to TCP
        #expect(try !allowed(e, "y/a", "x/a", 80, .udp))
        #expect(try allowed(e, "y/a", "x/a", 1500, .udp))
        #expect(try !allowed(e, "y/a", "x/a", 2001, .udp))
        #expect(try allowed(e, "y/a", "x/a", 81, .sctp))     // the destination's serve-81-sctp
        #expect(try !allowed(e, "y/a", "x/a", 81, .tcp))
        let v = try e.check(from: e.endpoint("y/a"), to: e.endpoint("x/a"), port: .name("serve-81-sctp"), proto: .sctp)
        #expect(v.port == 81 && v.allowed)
        guard case let .allowed(m) = v.ingress.outcome else { Issue.record("expected allowed"); return }
        #expect(m.first?.portIndex == 2)
    }

    @Test func namedPortsOnEgressResolveOnTheDestination() throws {
        let e = try evaluator(policy("egress-named", "podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Egress]\negress: [{ports: [{port: serve-81-tcp}]}]"))
        #expect(try allowed(e, "x/a", "y/b", 81))
        #expect(try !allowed(e, "x/a", "y/b", 80))
        #expect(try !allowed(e, "x/a", "203.0.113.1", 81))  // an address has no named ports
    }

    @Test func ownNodeAndHostNetwork() throws {
        let e = try evaluator(policy("deny-all", "podSelector: {}"))
        #expect(try allowed(e, "192.168.0.1", "x/a"))   // node-1 hosts x/a
        #expect(try !allowed(e, "192.168.0.2", "x/a"))  // another node
        #expect(try allowed(e, "z/agent", "x/a"))       // host-network pod on node-1
        // Host-network pods are not subject to policies.
        let zDeny = try evaluator(policy("deny-z", ns: "z", "podSelector: {}"))
        let v = try zDeny.check(from: zDeny.endpoint("y/a"), to: zDeny.endpoint("z/agent"), port: .number(80), proto: .tcp)
        #expect(v.allowed)
        #expect(v.ingress.outcome == .notApplicable("host-network pods are not subject to NetworkPolicy"))
        #expect(try !allowed(zDeny, "y/a", "z/b"))
    }

    @Test func badQueriesAreErrors() throws {
        let e = try evaluator()
        #expect(throws: PolicyQueryError.self) { try e.endpoint("x/nope") }
        #expect(throws: PolicyQueryError.self) {
            try e.check(from: e.endpoint("x/a"), to: e.endpoint("y/a"), port: .name("nope"), proto: .tcp)
        }
        #expect(throws: PolicyQueryError.self) {
            try e.check(from: e.endpoint("x/a"), to: e.endpoint("y/a"), port: .name("serve-80-tcp"), proto: .udp)
        }
        #expect(throws: PolicyQueryError.self) {
            try e.check(from: e.endpoint("x/a"), to: e.endpoint("y/a"), port: .number(0), proto: .tcp)
        }
    }
}

/// Policy sets that exercise every kind of rule at once; the matrix must agree with `check`
/// on every ordered pair, port and protocol.
private let mixedPolicySets: [String] = [
    policy("deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]"),
    [
        policy("named-in", "podSelector: {matchLabels: {pod: a}}\ningress:\n- from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [c]}]}}]\n  ports: [{port: serve-80-tcp}, {port: serve-80-udp, protocol: UDP}]"),
        policy("range-out", ns: "y", "podSelector: {matchExpressions: [{key: pod, operator: Exists}]}\negress:\n- to: [{namespaceSelector: {}}]\n  ports: [{port: 80, endPort: 81}]\n- to: [{podSelector: {}}]\n  ports: [{port: serve-81-sctp, protocol: SCTP}]"),
        policy("blocks", ns: "z", "podSelector: {matchLabels: {pod: b}}\npolicyTypes: [Ingress, Egress]\ningress:\n- from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.2/32]}}, {ipBlock: {cidr: 192.168.0.0/24}}]\negress:\n- to: [{ipBlock: {cidr: 10.0.1.0/24}}]\n  ports: [{protocol: UDP}]"),
        policy("no-key", ns: "z", "podSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}\ningress:\n- from: [{podSelector: {}, namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [x, z]}]}}]"),
    ].joined(separator: "\n---\n"),
    policy("egress-only-dns", ns: "x", "podSelector: {}\npolicyTypes: [Egress]\negress:\n- ports: [{port: 53, protocol: UDP}, {port: 53}]"),
    // The admin tiers layered over NetworkPolicy: Allow, Deny and Pass, ports, networks and nodes peers, baseline.
    [
        anp("pass-then-deny", priority: 10, "subject: {namespaces: {matchLabels: {ns: x}}}\ningress:\n- {action: Pass, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}}]}\n- {action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}], ports: [{portRange: {start: 80, end: 81}}]}\n- {action: Allow, from: [{namespaces: {}}], ports: [{namedPort: serve-80-udp}]}"),
        anp("egress", priority: 5, "subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: c}}}}\negress:\n- {action: Deny, to: [{networks: [10.0.2.0/24]}]}\n- {action: Allow, to: [{nodes: {}}]}\n- {action: Pass, to: [{namespaces: {matchLabels: {ns: x}}}], ports: [{portNumber: {port: 53, protocol: UDP}}]}"),
        policy("deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]"),
        banp("subject: {namespaces: {}}\ningress:\n- {action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}\negress:\n- {action: Deny, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}], ports: [{portNumber: {port: 81}}]}\n- {action: Allow, to: [{networks: ['0.0.0.0/0']}]}"),
    ].joined(separator: "\n---\n"),
    [
        cnp("admin", tier: "Admin", priority: 3, "subject: {namespaces: {matchLabels: {ns: y}}}\negress:\n- {action: Accept, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}], protocols: [{destinationNamedPort: serve-80-tcp}]}\n- {action: Pass, to: [{networks: [10.0.0.0/24]}]}\n- {action: Deny, to: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 80, end: 81}}}}]}"),
        cnp("baseline", tier: "Baseline", priority: 1, "subject: {namespaces: {}}\ningress:\n- {action: Pass, from: [{namespaces: {matchLabels: {ns: x}}}]}\n- {action: Deny, from: [{namespaces: {}}], protocols: [{udp: {destinationPort: {number: 80}}}, {sctp: {destinationPort: {number: 81}}}]}"),
        policy("x-only", ns: "y", "podSelector: {matchLabels: {pod: c}}\ningress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}}]}]"),
    ].joined(separator: "\n---\n"),
]

@Suite struct MatrixAgreesWithCheckTests {
    @Test(arguments: mixedPolicySets.indices)
    func everyCellEqualsCheck(set: Int) throws {
        let e = try evaluator(mixedPolicySets[set])
        var denied = 0, cells = 0
        for proto in L4Protocol.allCases {
            for port in [53, 80, 81] {
                let m = e.matrix(port: port, proto: proto)
                for (f, from) in m.pods.enumerated() {
                    for (t, to) in m.pods.enumerated() {
                        let v = try e.check(from: e.endpoint(from), to: e.endpoint(to), port: .number(port), proto: proto)
                        #expect(m.allowed(from: f, to: t) == v.allowed, "\(from) -> \(to) \(port)/\(proto.rawValue)")
                        #expect(m.egressAllows(from: f, to: t) == v.egress.allows, "egress \(from) -> \(to) \(port)/\(proto.rawValue)")
                        #expect(m.ingressAllows(from: f, to: t) == v.ingress.allows, "ingress \(from) -> \(to) \(port)/\(proto.rawValue)")
                        cells += 1
                        if !v.allowed { denied += 1 }
                    }
                }
            }
        }
        // The sets must actually deny something, or agreement proves little.
        #expect(denied > 0 && denied < cells)
    }
}
