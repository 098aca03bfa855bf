import Foundation
import Testing

private let overall = "Fixtures/render/kube-proxy-overall"

@Suite struct CLITests {
    @Test func rendersTheGoldenExactly() throws {
        let r = try seaway(["render", "--mode", "iptables", "--config", "\(overall)/kube-proxy.yaml",
                            "--host", "\(overall)/host.yaml", "\(overall)/manifests"])
        #expect(r.status == 0)
        #expect(r.stdout == (try String(contentsOfFile: root.appendingPathComponent("\(overall)/iptables.golden").path, encoding: .utf8)))
    }

    /// The demo cluster is dual-stack: two rulesets, each written out chunk by chunk after
    /// its `# seaway:` line, make exactly the golden text.
    @Test(arguments: ["iptables", "nftables"])
    func rendersTheDualStackDemoExactly(mode: String) throws {
        let r = try seaway(["render", "--mode", mode, "--config", "Fixtures/demo/kube-proxy.yaml", "--host", "Fixtures/demo/host.yaml",
                            "Fixtures/demo/cluster"])
        #expect(r.status == 0)
        #expect(r.stdout == (try String(contentsOfFile: root.appendingPathComponent("Fixtures/demo/\(mode).golden").path, encoding: .utf8)))
    }

    @Test func sortChainsGivesKubeProxysOwnText() throws {
        let r = try seaway(["render", "--mode", "iptables", "--sort-chains", "--config", "\(overall)/kube-proxy.yaml",
                            "--host", "\(overall)/host.yaml", "\(overall)/manifests"])
        #expect(r.status == 0)
        #expect(r.stdout == (try String(contentsOfFile: root.appendingPathComponent("\(overall)/iptables.kube-proxy-expected").path, encoding: .utf8)))
    }

    @Test func flagsOverrideTheConfigFile() throws {
        let r = try seaway(["render", "--mode", "iptables", "--config", "\(overall)/kube-proxy.yaml",
                            "--cluster-cidr", "10.180.0.0/16", "--iptables-masquerade-bit", "13",
                            "--host", "\(overall)/host.yaml", "\(overall)/manifests"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("! -s 10.180.0.0/16 -j KUBE-MARK-MASQ"))
        #expect(r.stdout.contains("--or-mark 0x00002000"))
    }

    @Test func readsStdin() throws {
        let manifest = try String(contentsOfFile: root.appendingPathComponent("\(overall)/manifests/services.yaml").path, encoding: .utf8)
        let r = try seaway(["render", "--mode", "nftables", "-"], stdin: manifest)
        #expect(r.status == 0)
        #expect(r.stdout.contains("add element ip kube-proxy no-endpoint-services { 172.30.0.41 . tcp . 80 comment \"ns1/svc1:p80\" : goto reject-chain }"))
    }

    @Test func badInputExitsNonZeroNamingFileLineObjectField() throws {
        let bad = """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: shop}
            spec:
              clusterIP: 10.0.0.1
              ports: [{name: http, port: 99999}]
            """
        let r = try seaway(["render", "--mode", "iptables", "-"], stdin: bad)
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr == "seaway: error: <stdin>:6: Service shop/web: spec.ports[0].port: 99999 is out of range (1-65535)\n")
    }

    @Test func missingFileAndBadConfig() throws {
        let r = try seaway(["render", "--mode", "iptables", "no/such/dir"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no/such/dir: no such file or directory"))
        let c = try seaway(["render", "--mode", "iptables", "--detect-local-mode", "Telepathy", "\(overall)/manifests"])
        #expect(c.status == 1)
        #expect(c.stderr.contains("--detect-local-mode: unsupported mode 'Telepathy'"))
    }

    @Test func unknownKindsAreListedWithVerbose() throws {
        let r = try seaway(["render", "--mode", "nftables", "--verbose", "-"],
                           stdin: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n")
        #expect(r.status == 0)
        #expect(r.stderr.contains("skipped Deployment d (apps/v1, <stdin>:1)"))
    }

    @Test func jsonOutputIsStructured() throws {
        let r = try seaway(["render", "--mode", "iptables", "--output", "json", "--config", "\(overall)/kube-proxy.yaml",
                            "--host", "\(overall)/host.yaml", "\(overall)/manifests"])
        #expect(r.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let tables = try #require(json.first?["tables"] as? [[String: Any]])
        #expect(tables.map { $0["name"] as? String } == ["filter", "nat"])
        let nat = try #require(tables[1]["chains"] as? [[String: Any]])
        #expect(nat.prefix(4).map { $0["name"] as? String } == ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"])
    }

    @Test func diffShowsTheChangedChainsAndElements() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seaway-diff-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let slices = try String(contentsOfFile: root.appendingPathComponent("\(overall)/manifests/endpointslices.yaml").path, encoding: .utf8)
        let services = try String(contentsOfFile: root.appendingPathComponent("\(overall)/manifests/services.yaml").path, encoding: .utf8)
        try services.write(to: dir.appendingPathComponent("old.yaml"), atomically: true, encoding: .utf8)
        try (services + "\n---\n" + slices).write(to: dir.appendingPathComponent("new.yaml"), atomically: true, encoding: .utf8)
        let r = try seaway(["diff", "--mode", "nftables", "--cluster-cidr", "10.0.0.0/8",
                            dir.appendingPathComponent("old.yaml").path, dir.appendingPathComponent("new.yaml").path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("+ chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80"))
        #expect(r.stdout.contains("    - 172.30.0.41 . tcp . 80 comment \"ns1/svc1:p80\" : goto reject-chain"))
        #expect(r.stdout.contains("    + 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80"))
        // Five services gain a service chain and endpoint chains (svc4 two), svc2-5 an external
        // chain (2+3+3+4+3 = 15; svc5's firewall chain exists with or without endpoints);
        // reject verdicts become gotos.
        #expect(r.stdout.hasSuffix("\n15 chains added, 0 removed, 0 changed; 15 elements added, 12 removed\n"))
        let tx = try seaway(["diff", "--mode", "nftables", "--payload", "--cluster-cidr", "10.0.0.0/8",
                             dir.appendingPathComponent("old.yaml").path, dir.appendingPathComponent("new.yaml").path])
        #expect(tx.status == 0)
        #expect(tx.stdout.hasPrefix("add chain ip kube-proxy endpoint-"))
        #expect(tx.stdout.contains("delete element ip kube-proxy no-endpoint-services { 172.30.0.41 . tcp . 80 }\n"))
        let same = try seaway(["diff", "--mode", "iptables", dir.appendingPathComponent("new.yaml").path, dir.appendingPathComponent("new.yaml").path])
        #expect(same.stdout == "0 chains added, 0 removed, 0 changed; 0 elements added, 0 removed\n")
    }

    @Test func ipvsSectionsAreSeparatelyLoadable() throws {
        let all = try seaway(["render", "--mode", "ipvs", "--cluster-cidr", "10.0.0.0/8", "\(overall)/manifests"])
        #expect(all.status == 0)
        #expect(all.stdout.contains("# seaway: ipvs (IPv4): ipvsadm-restore\n-A -t 172.30.0.41:80 -s rr\n"))
        let ipvsadm = try seaway(["render", "--mode", "ipvs", "--section", "ipvsadm", "--ipvs-scheduler", "mh", "\(overall)/manifests"])
        #expect(ipvsadm.status == 0)
        #expect(ipvsadm.stdout.hasPrefix("-A -t 172.30.0.41:80 -s mh -b mh-port\n-a -t 172.30.0.41:80 -r 10.180.0.1:80 -m -w 1\n"))
        let ipsets = try seaway(["render", "--mode", "ipvs", "--section", "ipsets", "\(overall)/manifests"])
        #expect(ipsets.stdout.hasPrefix("create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536\n"))
        let misuse = try seaway(["render", "--mode", "iptables", "--section", "ipsets", "\(overall)/manifests"])
        #expect(misuse.status != 0)
    }

    private static let xyz = "Fixtures/policy/xyz"

    @Test func policyCheckSaysWhichRuleAdmits() throws {
        let allowed = try seaway(["policy", "check", "--from", "y/b", "--to", "x/a", "--port", "80", Self.xyz])
        #expect(allowed.status == 0)
        #expect(allowed.stdout.hasPrefix("ALLOWED y/b -> x/a port 80/TCP\n"))
        #expect(allowed.stdout.contains("    allowed by NetworkPolicy x/allow-b-from-y (Fixtures/policy/xyz/policies.yaml:13): ingress[0], from[0], ports[0]\n"))
        // Denied is an answer, not an error: exit status 0.
        let denied = try seaway(["policy", "check", "--from", "y/a", "--to", "x/a", "--port", "80", Self.xyz])
        #expect(denied.status == 0)
        #expect(denied.stdout.hasPrefix("DENIED y/a -> x/a port 80/TCP\n"))
        #expect(denied.stdout.contains("no rule admits y/a on 80/TCP"))
        // The named port is the destination's: serve-81-tcp is 81/TCP, inside z's 80-81 egress range.
        let named = try seaway(["policy", "check", "--from", "z/a", "--to", "x/c", "--port", "serve-81-tcp", Self.xyz])
        #expect(named.stdout.hasPrefix("ALLOWED z/a -> x/c port 81/TCP\n"))
    }

    @Test func policyCheckJSON() throws {
        let r = try seaway(["policy", "check", "--from", "y/b", "--to", "x/a", "--port", "80", "--protocol", "udp",
                            "--output", "json", Self.xyz])
        #expect(r.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(object?["allowed"] as? Bool == false)
        #expect(object?["protocol"] as? String == "UDP")
        let ingress = object?["ingress"] as? [String: Any]
        #expect(ingress?["outcome"] as? String == "denied")
        #expect((ingress?["isolatedBy"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["allow-b-from-y", "deny-all-to-a"])
    }

    @Test func policyCheckBadInput() throws {
        let unknownPod = try seaway(["policy", "check", "--from", "y/b", "--to", "x/nope", "--port", "80", Self.xyz])
        #expect(unknownPod.status == 1)
        #expect(unknownPod.stderr.contains("no pod 'x/nope'"))
        let unknownName = try seaway(["policy", "check", "--from", "y/b", "--to", "x/a", "--port", "metrics", Self.xyz])
        #expect(unknownName.status == 1)
        #expect(unknownName.stderr.contains("no container port named 'metrics'"))
        let badOperator = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: typo, namespace: x}
            spec:
              podSelector:
                matchExpressions:
                  - {key: pod, operator: Equals, values: [a]}
            """
        let r = try seaway(["policy", "check", "--from", "y/b", "--to", "x/a", "--port", "80", Self.xyz, "-"], stdin: badOperator)
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("NetworkPolicy x/typo"))
        #expect(r.stderr.contains("spec.podSelector.matchExpressions[0].operator"))
        #expect(r.stderr.contains("invalid operator 'Equals'"))
    }

    @Test func policyMatrixTSV() throws {
        let r = try seaway(["policy", "matrix", "--ports", "80,81", "--protocols", "TCP,UDP", "--output", "tsv", Self.xyz])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "from\tto\tport\tprotocol\tallowed")
        #expect(lines.count == 1 + 2 * 2 * 81 + 1)  // header, cells, final newline
        #expect(lines.last == "")
        #expect(lines.contains("y/b\tx/a\t80\tTCP\ttrue"))
        #expect(lines.contains("y/b\tx/a\t81\tTCP\tfalse"))  // the named port is serve-80-tcp only
        #expect(lines.contains("z/a\ty/a\t80\tTCP\tfalse"))
        #expect(lines.contains("z/a\tz/a\t80\tUDP\ttrue"))  // a pod always reaches itself
        // Every cell agrees with `policy check`, which is evaluated independently per query.
        for line in lines.dropFirst().prefix(12) where !line.isEmpty {
            let f = line.split(separator: "\t").map(String.init)
            let check = try seaway(["policy", "check", "--from", f[0], "--to", f[1], "--port", f[2], "--protocol", f[3], Self.xyz])
            #expect(check.stdout.hasPrefix(f[4] == "true" ? "ALLOWED" : "DENIED"), "\(line)")
        }
    }

    @Test func policyMatrixTableAndJSON() throws {
        let table = try seaway(["policy", "matrix", "--ports", "80", "--namespaces", "x,z", Self.xyz])
        #expect(table.status == 0)
        #expect(table.stdout.contains("""
            80/TCP combined (rows: from, columns: to; . allowed, X denied)
            -   x/a x/b x/c z/a z/b z/c
            x/a .   .   .   .   .   .
            x/b X   .   .   .   .   .
            """))
        let json = try seaway(["policy", "matrix", "--ports", "80", "--protocols", "udp", "--output", "json", Self.xyz])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let pods = object?["pods"] as? [String]
        #expect(pods?.count == 9)
        let result = (object?["results"] as? [[String: Any]])?.first
        #expect(result?["protocol"] as? String == "UDP")
        let allowed = result?["allowed"] as? [[Bool]]
        // z's pods may send UDP only to port 53: z/a -> x/b on 80/UDP is denied by egress.
        #expect(allowed?[pods!.firstIndex(of: "z/a")!][pods!.firstIndex(of: "x/b")!] == false)
        #expect(allowed?[pods!.firstIndex(of: "y/a")!][pods!.firstIndex(of: "x/b")!] == true)
    }

    @Test func policyMatrixBadInput() throws {
        let named = try seaway(["policy", "matrix", "--ports", "http", Self.xyz])
        #expect(named.status != 0)
        #expect(named.stderr.contains("not a port number"))
        let ns = try seaway(["policy", "matrix", "--namespaces", "x,nope", Self.xyz])
        #expect(ns.status == 1)
        #expect(ns.stderr.contains("no pods in namespace 'nope'"))
        #expect(ns.stdout.isEmpty)
    }

    @Test func policyWhatIf() throws {
        let deny = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-all, namespace: z}
            spec: {podSelector: {}}
            """
        let r = try seaway(["policy", "what-if", Self.xyz, "--ports", "80", "--add", "-"], stdin: deny)
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("x/a -> z/a 80/TCP: allowed -> denied (ingress of z/a)\n"))
        #expect(r.stdout.hasSuffix("18 connections newly denied, 0 newly allowed (9 pods, 81 pod pairs x 1 port/protocol compared)\n"))
        let json = try seaway(["policy", "what-if", "--ports", "80", "--output", "json",
                               "--remove", "networkpolicy/x/deny-all-to-a", "networkpolicy/x/allow-b-from-y", "--", Self.xyz])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["newlyAllowed"] as? Int == 7)
        #expect((object?["changes"] as? [[String: Any]])?.first?["now"] as? String == "allowed")
        let relabel = try seaway(["policy", "what-if", Self.xyz, "--ports", "80", "--relabel", "pod/y/a:pod=b"])
        #expect(relabel.stdout == "y/a -> x/a 80/TCP: denied -> allowed (ingress of x/a)\n0 connections newly denied, 1 newly allowed (9 pods, 81 pod pairs x 1 port/protocol compared)\n")
    }

    @Test func policyWhatIfBadInput() throws {
        let missing = try seaway(["policy", "what-if", Self.xyz, "--remove", "networkpolicy/x/nope"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("--remove networkpolicy/x/nope: no such object in the manifests"))
        let swallowed = try seaway(["policy", "what-if", "--remove", "networkpolicy/x/deny-all-to-a", Self.xyz])
        #expect(swallowed.status != 0)
        #expect(swallowed.stderr.contains("put the manifests first or after `--`"))
        let nothing = try seaway(["policy", "what-if", Self.xyz])
        #expect(nothing.status != 0)
        #expect(nothing.stderr.contains("nothing to compare"))
        let badPolicy = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: bad, namespace: z}
            spec:
              podSelector: {}
              ingress:
              - ports: [{port: 80, endPort: 79}]
            """
        let bad = try seaway(["policy", "what-if", Self.xyz, "--add", "-"], stdin: badPolicy)
        #expect(bad.status == 1)
        #expect(bad.stdout.isEmpty)
        #expect(bad.stderr.contains("<stdin>:7: NetworkPolicy z/bad: spec.ingress[0].ports[0].endPort: endPort 79 must be greater than or equal to port 80"))
    }

    @Test func policyLint() throws {
        let clean = try seaway(["policy", "lint", Self.xyz])
        #expect(clean.status == 0)
        #expect(clean.stdout.isEmpty)
        let r = try seaway(["policy", "lint", Self.xyz, "Fixtures/policy/lint"])
        #expect(r.status == 2)  // findings, not bad input
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines.first == "Fixtures/policy/lint/policies.yaml:3: NetworkPolicy x/selects-nothing: spec.podSelector: warning: selects no pod in namespace x [selects-nothing]")
        for check in ["split-peer", "shadowed-rule", "peer-matches-nothing", "unknown-named-port"] {
            #expect(lines.contains { $0.hasSuffix("[\(check)]") }, "\(check)")
        }
        let json = try seaway(["policy", "lint", "--output", "json", Self.xyz, "Fixtures/policy/lint"])
        #expect(json.status == 2)
        let objects = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(objects?.count == 5)
        #expect(objects?.first?["line"] as? Int == 3)
        let bad = try seaway(["policy", "lint", "-"], stdin: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: [{protocol: ICMP}]\n")
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("NetworkPolicy x/p: spec.ingress[0].ports[0].protocol"))
    }

    @Test func policyCheckNamesTheAdminTier() throws {
        let withAdmin = [Self.xyz, "Fixtures/policy/admin"]
        let deny = try seaway(["policy", "check", "--from", "y/a", "--to", "z/a", "--port", "80"] + withAdmin)
        #expect(deny.status == 0)
        #expect(deny.stdout == """
            DENIED y/a -> z/a port 80/TCP
              egress of y/a: not isolated (no NetworkPolicy selects it for egress)
              ingress of z/a: denied by the admin tier: AdminNetworkPolicy isolate-z (priority 10, Fixtures/policy/admin/policies.yaml:3): ingress[1] "no-y" Deny, from[0]

            """)
        let accept = try seaway(["policy", "check", "--from", "y/c", "--to", "z/a", "--port", "81"] + withAdmin)
        #expect(accept.stdout.contains("allowed by the admin tier: ClusterNetworkPolicy monitoring (Admin tier, priority 5"))
        let baseline = try seaway(["policy", "check", "--from", "x/a", "--to", "z/b", "--port", "80", "--protocol", "udp", "--output", "json"] + withAdmin)
        let object = try JSONSerialization.jsonObject(with: Data(baseline.stdout.utf8)) as? [String: Any]
        let ingress = object?["ingress"] as? [String: Any]
        #expect(ingress?["outcome"] as? String == "baseline")
        #expect(((ingress?["decidedBy"] as? [String: Any])?["policy"] as? [String: Any])?["kind"] as? String == "BaselineAdminNetworkPolicy")
        #expect(((ingress?["passedBy"] as? [String: Any])?["policy"] as? [String: Any])?["name"] as? String == "isolate-z")
        let whatIf = try seaway(["policy", "what-if", Self.xyz, "Fixtures/policy/admin", "--ports", "80", "--remove", "anp/isolate-z"])
        #expect(whatIf.stdout.hasSuffix("0 connections newly denied, 9 newly allowed (9 pods, 81 pod pairs x 1 port/protocol compared)\n"))
    }
}
