import Foundation
import SeawayDNS
import SeawayLoader
import SeawayModel
import SeawayPolicy
import SeawayProxyCore
import SeawayTrace
import Testing

/// `Tracer` on Fixtures/trace: each layer's decision, and the verdict, for the connections a
/// user asks about.
@Suite struct TracerTests {
    static let cluster: ClusterState = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try! ManifestLoader().load([root.path + "/Fixtures/trace"])
    }()

    func trace(_ from: String, _ to: String, mode: ProxyMode = .iptables, proto: L4Protocol = .tcp) throws -> Trace {
        let source = try Tracer.sourcePod(from, in: Self.cluster)
        var flags = ProxyFlags()
        flags.hostnameOverride = source.nodeName
        flags.clusterCIDR = "10.244.0.0/16"
        let options = try ProxyOptions.resolve(mode: mode, flags: flags, config: nil, host: nil, cluster: Self.cluster)
        return try Tracer(cluster: Self.cluster, options: options, dns: KubernetesDNSOptions()).trace(from: source, to: to, proto: proto, mode: mode)
    }

    @Test func aServiceNameGoesThroughDNSTheRulesAndPolicy() throws {
        let t = try trace("default/web", "redis.cache:6379")
        // DNS: the pod's search path, the first name NXDOMAIN, the second answers.
        let tried = try #require(t.resolution).lookup.attempts.map(\.name.description)
        #expect(tried == ["redis.cache.default.svc.cluster.local.", "redis.cache.svc.cluster.local."])
        #expect(t.resolution?.addresses.map(\.description) == ["10.96.20.10"])
        guard case let .service(info, address)? = t.destination else { Issue.record("not a service: \(String(describing: t.destination))"); return }
        #expect(info.name.description == "cache/redis:redis" && address.description == "10.96.20.10")
        // The not-ready endpoint is left out, with the reason.
        #expect(t.candidates.map { "\($0.endpoint.description) \($0.unusedBecause ?? "used")" }
                == ["10.244.1.20:6379 used", "10.244.2.20:6379 used", "10.244.2.21:6379 not ready"])
        // iptables: KUBE-SERVICES to the service chain to each endpoint's DNAT.
        let lines = t.rules.flatMap(\.lines)
        #expect(t.rules.first?.location == "nat PREROUTING and OUTPUT -> KUBE-SERVICES")
        #expect(t.rules.filter { $0.location.hasPrefix("nat KUBE-SEP-") }.count == 2)
        #expect(lines.contains { $0.contains("-j DNAT --to-destination 10.244.1.20:6379") })
        #expect(lines.contains { $0.contains("--probability 0.5000000000") })
        // Policy: redis-0 admits web; redis-1 is quarantined.
        #expect(t.serving.map(\.pod) == ["cache/redis-0"])
        #expect(t.blocked.map(\.pod) == ["cache/redis-1"])
        #expect(t.outcome == .serves)
        #expect(t.verdictLines == [
            "OK: 1 of 2 endpoints can serve default/web: 10.244.1.20:6379 (cache/redis-0)",
            "blocked: 10.244.2.20:6379 (cache/redis-1) by ingress of cache/redis-1 (NetworkPolicy cache/quarantine)",
        ])
    }

    @Test func theRulePathIsTheModesOwn() throws {
        let nft = try trace("default/web", "redis.cache:redis", mode: .nftables).rules
        #expect(nft.first?.location == "ip kube-proxy map service-ips")
        #expect(nft.first?.lines.contains("10.96.20.10 . tcp . 6379 : goto service-Q6JOPMNU-cache/redis/tcp/redis") == true)
        #expect(nft.contains { $0.location == "ip kube-proxy chain endpoint-JX4N3N6O-cache/redis/tcp/redis__10.244.1.20/6379"
                               && $0.lines.contains("meta l4proto tcp dnat to 10.244.1.20:6379") })
        let ipvs = try trace("default/web", "redis.cache:6379", mode: .ipvs).rules
        #expect(ipvs.map(\.location) == ["ipvs virtual server -t 10.96.20.10:6379"])
        #expect(ipvs.first?.lines == ["scheduler rr", "-> 10.244.1.20:6379 weight 1", "-> 10.244.2.20:6379 weight 1"])
        let userspace = try trace("default/web", "redis.cache:6379", mode: .userspace).rules
        #expect(userspace.last?.location.hasPrefix("userspace proxy listener :") == true)
        #expect(userspace.last?.lines == ["round robin over 10.244.1.20:6379 10.244.2.20:6379"])
    }

    @Test func policyCanBlockEveryEndpoint() throws {
        let t = try trace("default/batch", "redis.cache:6379")
        #expect(t.serving.isEmpty && t.blocked.count == 2 && t.outcome == .fails)
        #expect(t.verdictLines.first == "FAILS: no endpoint can serve default/batch: policy blocks all 2")
        #expect(t.verdictLines.contains("blocked: 10.244.1.20:6379 (cache/redis-0) by ingress of cache/redis-0 (NetworkPolicy cache/redis-clients)"))
    }

    @Test func eachWayATraceCanStopShort() throws {
        let empty = try trace("default/web", "empty:80", mode: .nftables)
        #expect(empty.outcome == .fails && empty.stopped?.contains("no ready endpoints: the node's rules reject") == true)
        #expect(empty.rules.first?.lines.contains("10.96.0.50 . tcp . 80 comment \"default/empty:http\" : goto reject-chain") == true)

        let local = try trace("default/web", "redis-local.cache:6379")
        #expect(local.outcome == .fails && local.stopped?.contains("no endpoint on node-a and the traffic policy is Local") == true)
        #expect(local.candidates.first?.unusedBecause == "on another node, and the internalTrafficPolicy is Local")

        let port = try trace("default/web", "redis.cache:7000")
        #expect(port.outcome == .fails && port.stopped?.contains("has no TCP port 7000; its ports: 6379 (redis)") == true)

        let udp = try trace("default/web", "redis.cache:6379", proto: .udp)
        #expect(udp.outcome == .fails && udp.stopped?.contains("is a ClusterIP with no UDP port") == true)

        let external = try trace("default/web", "payments")
        #expect(external.outcome == .leavesCluster && external.stopped?.contains("a CNAME to payments.example.com.") == true)
        let forwarded = try trace("default/web", "example.com:443")
        #expect(forwarded.outcome == .leavesCluster && forwarded.resolution?.lookup.attempts.last?.answer == nil)
        let outside = try trace("default/web", "8.8.8.8:53", proto: .udp)
        #expect(outside.outcome == .leavesCluster && outside.reaches.count == 1)

        // A bare name no search domain answers ends as itself, outside the zones: upstream.
        #expect(try trace("default/web", "nope:80").outcome == .leavesCluster)
        let missing = try trace("default/web", "nope.default.svc.cluster.local:80")
        #expect(missing.outcome == .fails && missing.stopped?.contains("does not resolve (NXDOMAIN)") == true)
    }

    @Test func headlessNamesAndPodAddressesGoStraightToThePod() throws {
        for to in ["redis-headless.cache:6379", "10.244.1.20:6379"] {
            let t = try trace("default/web", to)
            guard case let .pod(ip, port)? = t.destination else { Issue.record("\(to): \(String(describing: t.destination))"); continue }
            #expect(ip.description == "10.244.1.20" && port == 6379)
            #expect(t.rules.isEmpty && t.outcome == .serves && t.serving.map(\.pod) == ["cache/redis-0"])
        }
        // Straight to the quarantined pod: policy still decides.
        #expect(try trace("default/web", "10.244.2.20:6379").outcome == .fails)
    }

    @Test func badInputSaysWhat() throws {
        #expect(throws: TraceInputError.self) { try Tracer.sourcePod("default/nope", in: Self.cluster) }
        #expect(throws: TraceInputError.self) { try trace("default/web", "redis.cache:") }
        #expect(throws: TraceInputError.self) { try trace("default/web", "10.244.1.20") }  // a pod address needs a port
        #expect(try Tracer.target("[fd00::1]:80") == ("fd00::1", "80"))
        #expect(try Tracer.target("fd00::1") == ("fd00::1", nil))
        #expect(try Tracer.target("redis.cache:redis") == ("redis.cache", "redis"))
        #expect(throws: TraceInputError.self) { try Tracer.target("[fd00::1") }
    }
}
