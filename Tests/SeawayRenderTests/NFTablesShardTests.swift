import SeawayModel
import SeawayProxyCore
import Testing
@testable import SeawayRender

/// `--nftables-shards`: the same rules as kube-proxy's one table, only spread over tables,
/// each service whole in the shard its name picks (without a kernel; the traffic and
/// kernel-equivalence tests are in SeawayDataplaneTests and IncrementalSyncTests).
@Suite struct NFTablesShardTests {
    /// Every rendered line, table names folded into kube-proxy's and table lines left out.
    static func folded(_ rulesets: [NFTablesRuleset]) -> Set<String> {
        var lines: Set<String> = []
        for r in rulesets {
            for line in r.text.split(separator: "\n") where !line.hasPrefix("add table ") {
                lines.insert(String(line.replacing(/\ kube-proxy-\d\d\ /, with: " kube-proxy ")))
            }
        }
        return lines
    }

    static func render(_ fixture: RenderFixture, shards: Int) throws -> [NFTablesRuleset] {
        let cluster = try fixture.cluster()
        var options = try fixture.options(.nftables, cluster: cluster)
        options.nftablesShards = shards
        return try RulesetRenderer.render(mode: .nftables, cluster: cluster, options: options).compactMap {
            if case let .nftables(t) = $0 { t } else { nil }
        }
    }

    @Test(arguments: RenderFixture.all)
    func shardsHoldKubeProxysRulesEachServiceInOneTable(_ fixture: RenderFixture) throws {
        let one = try Self.render(fixture, shards: 1)
        let sharded = try Self.render(fixture, shards: 3)
        #expect(one.allSatisfy { $0.table == "kube-proxy" })
        let families = Set(one.map(\.family))
        #expect(sharded.map(\.table) == families.sorted().flatMap { _ in ["kube-proxy", "kube-proxy-00", "kube-proxy-01", "kube-proxy-02"] })

        // Nothing lost, nothing changed: the same lines once the table names are folded.
        #expect(Self.folded(sharded) == Self.folded(one))

        // A service's nat chains, affinity sets and dispatch elements are in its own shard;
        // its firewall chain (and the firewall-ips element naming it) stays with the filter
        // hooks that reach it, in kube-proxy's table.
        var placed = 0
        for r in sharded {
            for line in r.text.split(separator: "\n") {
                guard let match = line.firstMatch(of: /(service|endpoint|external|local|firewall|affinity)-[A-Z0-9]{8}-([^\/ ]+)\/([^\/ ]+)\//) else { continue }
                let name = ServicePortName(namespace: String(match.2), name: String(match.3), port: "", proto: .tcp)
                let expected = match.1 == "firewall" ? "kube-proxy" : NFTablesName.shardTable(NFTablesName.shard(of: name, among: 3))
                #expect(r.table == expected, "\(line)")
                placed += 1
            }
        }
        #expect(placed > 0)
    }

    /// A service's shard is a function of its name alone: services coming and going never
    /// move the others (a partial sync never has to move a service between tables).
    @Test func aServicesShardDependsOnItsNameOnly() {
        let web = ServicePortName(namespace: "default", name: "web", port: "http", proto: .tcp)
        let webDNS = ServicePortName(namespace: "default", name: "web", port: "dns", proto: .udp)
        #expect(NFTablesName.shard(of: web, among: 32) == NFTablesName.shard(of: webDNS, among: 32))
        // Spread: 1,000 names over 32 tables, none empty and none with more than twice its share.
        var counts = [Int](repeating: 0, count: 32)
        for i in 0..<1_000 {
            counts[NFTablesName.shard(of: ServicePortName(namespace: "ns\(i % 7)", name: "svc-\(i)", port: "", proto: .tcp), among: 32)] += 1
        }
        #expect(counts.min()! > 0 && counts.max()! < 2 * 1_000 / 32, "\(counts)")
        #expect(NFTablesName.shardTable(7) == "kube-proxy-07" && NFTablesName.shardTable(42) == "kube-proxy-42")
    }
}
