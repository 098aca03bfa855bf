import Foundation
import SeawayDataplane
import SeawayKernel
import SeawayTestSupport
import Testing

/// The netlink path against `nft` itself: the same script loaded by `nft -f` in one namespace
/// and by NFTScript + one libnftnl batch in another must leave the kernel holding the same
/// thing, as `nft list ruleset` prints it and expression by expression (`--debug=netlink`).
@Suite(.enabled(if: DataplaneNode.available, Comment(rawValue: DataplaneNode.unavailable)))
struct NFTablesNetlinkTests {
    /// What the kernel holds in `ns`: the listing, and every expression line (sorted, since
    /// hash sets list their elements in insertion-dependent order; anonymous set numbers
    /// normalised, since the kernel numbers them per table).
    static func holdings(_ ns: ThrowawayNamespace) throws -> (listing: String, expressions: [String]) {
        let listing = try ns.exec(["nft", "list", "ruleset"]).output
        let debug = try ns.exec(["nft", "--debug=netlink", "list", "ruleset"]).output
        let expressions = debug.split(separator: "\n").map {
            $0.replacingOccurrences(of: #"__(set|map)[0-9]+"#, with: "__$1N", options: .regularExpression)
        }.sorted()
        return (listing, expressions)
    }

    static func loadWithNFT(_ script: String, into ns: ThrowawayNamespace) throws {
        try ns.exec(["nft", "-f", "-"], input: script)
    }

    static func loadWithNetlink(_ script: String, into ns: ThrowawayNamespace) throws {
        try inside(ns) { try NFTablesApplier(environment: [:]).send(Array(script.utf8)) }
    }

    /// Runs `body` on a thread inside `ns`, so the netlink socket it opens is that namespace's.
    static func inside(_ ns: ThrowawayNamespace, _ body: @escaping () throws -> Void) throws {
        var failure: (any Error)? = nil
        try NetworkNamespace(path: ns.path).run { () throws(SystemError) in
            do { try body() } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func expectSameHoldings(_ script: String, _ what: Comment) throws {
        let viaNFT = try ThrowawayNamespace(prefix: "nl-nft")
        defer { viaNFT.close() }
        let viaNetlink = try ThrowawayNamespace(prefix: "nl-lib")
        defer { viaNetlink.close() }
        try Self.loadWithNFT(script, into: viaNFT)
        try Self.loadWithNetlink(script, into: viaNetlink)
        let expected = try Self.holdings(viaNFT), actual = try Self.holdings(viaNetlink)
        #expect(!expected.listing.isEmpty)
        #expect(actual.listing == expected.listing, what)
        #expect(actual.expressions == expected.expressions, what)
    }

    static let fixtures: [String] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
        let render = (try? FileManager.default.contentsOfDirectory(atPath: root.path + "/render")) ?? []
        return [root.path + "/demo"] + render.sorted().map { root.path + "/render/" + $0 }
    }()

    /// kube-proxy's table, and the userspace mode's (data maps of ports, redirects).
    @Test(arguments: fixtures, ["nftables", "userspace"])
    func everyFixtureLoadsOverNetlinkAsNFTLoadsIt(_ fixture: String, _ mode: String) throws {
        var arguments = ["render", "--mode", mode]
        let fm = FileManager.default
        if fm.fileExists(atPath: fixture + "/kube-proxy.nftables.yaml") {
            arguments += ["--config", fixture + "/kube-proxy.nftables.yaml"]
        } else if fm.fileExists(atPath: fixture + "/kube-proxy.yaml") {
            arguments += ["--config", fixture + "/kube-proxy.yaml"]
        }
        if fm.fileExists(atPath: fixture + "/host.yaml") { arguments += ["--host", fixture + "/host.yaml"] }
        arguments.append(fm.fileExists(atPath: fixture + "/manifests") ? fixture + "/manifests" : fixture + "/cluster")
        let rendered = try Command.run(DataplaneNode.seaway, arguments)
        try expectSameHoldings(rendered.output, Comment(rawValue: fixture))
    }

    /// Shapes kube-proxy writes that the fixtures do not all reach: NodePorts on every local
    /// address, interface-based local detection, source ranges that merge, touch the top of
    /// the address space or start at zero, SCTP, IPv6 NAT, big vmaps, sets with timeouts, the compact shape's numgen matches.
    static let shapes = """
        add table ip kube-proxy { comment "rules for kube-proxy" ; }
        add chain ip kube-proxy helper2
        add chain ip kube-proxy checks
        add chain ip kube-proxy helper { comment "a helper" ; }
        add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
        add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }
        add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
        add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP traffic" ; }
        add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
        add set ip kube-proxy affinity-X { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
        add rule ip kube-proxy filter-input ct state new jump checks
        add rule ip kube-proxy nat-prerouting fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
        add rule ip kube-proxy nat-prerouting ip daddr . meta l4proto . th dport vmap @service-ips
        add rule ip kube-proxy helper ip saddr != { 1.2.3.0/24 , 1.2.4.0/24 , 1.2.3.7 , 255.255.255.255 } drop
        add rule ip kube-proxy helper ip saddr != { 0.0.0.0/8 , 10.0.0.0/8 , 10.1.0.0/16 } drop
        add rule ip kube-proxy helper ip daddr { 10.96.0.0/12 } drop comment "Drop traffic to unallocated ClusterIPs"
        add rule ip kube-proxy helper ip daddr 10.96.0.1 ip saddr != 10.96.0.0/12 jump helper2
        add rule ip kube-proxy helper ip daddr 10.96.0.1 iifname != veth* jump helper2
        add rule ip kube-proxy helper iifname cbr0 goto helper2 comment "short-circuit pod traffic"
        add rule ip kube-proxy helper iifname "eth0" goto helper2
        add rule ip kube-proxy helper fib saddr type local jump helper2
        add rule ip kube-proxy helper ip saddr @affinity-X goto helper2
        add rule ip kube-proxy helper update @affinity-X { ip saddr }
        add rule ip kube-proxy helper mark set mark or 0x4000
        add rule ip kube-proxy helper mark and 0x4000 == 0 return
        add rule ip kube-proxy helper mark set mark xor 0x4000
        add rule ip kube-proxy helper ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
        add rule ip kube-proxy helper meta l4proto sctp dnat to 10.1.2.3:8080
        add rule ip kube-proxy helper numgen random mod 5 vmap { 0 : goto helper2 , 1 : goto helper2 , 2 : goto helper2 , 3 : goto helper2 , 4 : goto helper2 }
        add rule ip kube-proxy helper numgen random mod 3 0 goto helper2
        add rule ip kube-proxy helper masquerade fully-random
        add element ip kube-proxy cluster-ips { 10.96.0.1 }
        add element ip kube-proxy service-ips { 10.96.0.1 . tcp . 443 : goto helper2 }
        add element ip kube-proxy service-ips { 10.96.0.10 . udp . 53 comment "kube-system/kube-dns:dns" : drop }
        add element ip kube-proxy service-nodeports { sctp . 30000 : goto helper2 }
        add table ip6 kube-proxy { comment "rules for kube-proxy" ; }
        add chain ip6 kube-proxy helper2
        add map ip6 kube-proxy service-ips { type ipv6_addr . inet_proto . inet_service : verdict ; comment "ClusterIP traffic" ; }
        add rule ip6 kube-proxy helper2 ip6 daddr . meta l4proto . th dport vmap @service-ips
        add rule ip6 kube-proxy helper2 ip6 saddr != { fd00::/64 , fd01::5 , ffff::/16 } drop
        add rule ip6 kube-proxy helper2 ip6 daddr { fd00::/108 } drop
        add rule ip6 kube-proxy helper2 ip6 daddr != ::1 meta l4proto tcp dnat to [fd00::1]:80
        add rule ip6 kube-proxy helper2 reject
        add element ip6 kube-proxy service-ips { fd00::10 . tcp . 80 : goto helper2 }

        """

    @Test func everyRuleShapeLoadsOverNetlinkAsNFTLoadsIt() throws {
        try expectSameHoldings(Self.shapes, "rule shapes")
    }

    @Test func aBatchTheKernelRefusesChangesNothingAndNamesWhatFailed() throws {
        let ns = try ThrowawayNamespace(prefix: "nl-atomic")
        defer { ns.close() }
        let good = "add table ip kube-proxy\nadd chain ip kube-proxy a\nadd rule ip kube-proxy a drop\n"
        try Self.loadWithNetlink(good, into: ns)
        let before = try Self.holdings(ns)

        // The table and chain are replaced, then one rule jumps to a chain that does not exist.
        let bad = "add table ip kube-proxy\ndelete table ip kube-proxy\nadd table ip kube-proxy\nadd chain ip kube-proxy b\n"
            + "add rule ip kube-proxy b accept\nadd rule ip kube-proxy b jump missing\nadd rule ip kube-proxy b drop\n"
        let error = #expect(throws: DataplaneError.self) { try Self.loadWithNetlink(bad, into: ns) }
        // The script line the refused operation came from, quoted.
        #expect(error?.description.contains("line 6 of the transaction: add rule ip kube-proxy b jump missing") == true, "\(String(describing: error))")
        #expect(error?.description.contains("No such file or directory") == true, "\(String(describing: error))")
        let after = try Self.holdings(ns)
        #expect(after.listing == before.listing)
    }

    @Test func aScriptLineNetlinkCannotCarryIsRefusedBeforeAnythingIsSent() throws {
        let ns = try ThrowawayNamespace(prefix: "nl-refuse")
        defer { ns.close() }
        let script = "add table ip kube-proxy\nadd chain ip kube-proxy a\nadd rule ip kube-proxy a tcp dport 80 drop\n"
        let error = #expect(throws: DataplaneError.self) { try Self.loadWithNetlink(script, into: ns) }
        #expect(error?.description.contains("line 3") == true, "\(String(describing: error))")
        #expect(error?.description.contains("unsupported statement `tcp`") == true, "\(String(describing: error))")
        #expect(try ns.exec(["nft", "list", "ruleset"]).output.isEmpty)
    }

    /// SIGKILL while a big full sync is on its way to the kernel, from `apply` or from the
    /// agent's first sync: the namespace holds the old tables or the new ones, whole, never a
    /// mix (one batch is one transaction).
    @Test(arguments: ["apply", "proxy"])
    func killingMidSyncLeavesOldOrNewTablesWhole(_ command: String) throws {
        let ns = try ThrowawayNamespace(prefix: "nl-kill")
        defer { ns.close() }
        let scratch = try ThrowawayNamespace(prefix: "nl-kill-new")
        defer { scratch.close() }
        let directory = NSTemporaryDirectory() + "seaway-kill-\(command)-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func cluster(_ count: Int) -> String {
            TestCluster.yaml((0..<count).map { i in
                .init(name: "svc\(i)", clusterIP: "10.96.\(i / 250).\(i % 250 + 1)",
                      endpoints: (0..<4).map { "10.\(100 + $0).\(i / 250).\(i % 250 + 1)" })
            })
        }
        try cluster(3).write(toFile: directory + "/old.yaml", atomically: true, encoding: .utf8)
        try cluster(2000).write(toFile: directory + "/new.yaml", atomically: true, encoding: .utf8)
        let apply = ["apply", "--mode", "nftables", "--hostname-override", "node-a", "--cluster-cidr", "10.244.0.0/16"]
        try ns.exec([DataplaneNode.seaway] + apply + [directory + "/old.yaml"])
        try scratch.exec([DataplaneNode.seaway] + apply + [directory + "/new.yaml"])
        let old = try ns.exec(["nft", "list", "ruleset"]).output
        let new = try scratch.exec(["nft", "list", "ruleset"]).output
        #expect(old != new)

        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        if command == "apply" {
            process.arguments = ["netns", "exec", ns.name, DataplaneNode.seaway] + apply + [directory + "/new.yaml"]
        } else {
            let watched = directory + "/watched"
            try FileManager.default.createDirectory(atPath: watched, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: directory + "/new.yaml", toPath: watched + "/cluster.yaml")
            process.arguments = ["netns", "exec", ns.name, DataplaneNode.seaway, "proxy", "--mode", "nftables", "--watch", watched,
                                 "--hostname-override", "node-a", "--cluster-cidr", "10.244.0.0/16",
                                 "--healthz-bind-address", "", "--metrics-bind-address", ""]
        }
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Past loading and rendering (well under a second), inside the kernel's batch.
        usleep(900_000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let after = try ns.exec(["nft", "list", "ruleset"]).output
        #expect(after == old || after == new, "killed after \(Date().timeIntervalSince(started)) s: a mixed table")
    }
}
