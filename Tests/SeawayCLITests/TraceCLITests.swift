import Foundation
import Testing

/// `seaway trace`: the report, JSON, and exit status per outcome.
@Suite struct TraceCLITests {
    @Test func exitStatusSaysWhetherSomethingServes() throws {
        let ok = try seaway(["trace", "--from", "default/web", "--to", "redis.cache:6379", "--mode", "nftables", "Fixtures/trace"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.hasPrefix("trace default/web -> redis.cache:6379 (nftables rules of node node-a, TCP)\n"))
        for section in ["DNS", "Destination", "Endpoints", "Rules", "Policy", "Verdict"] {
            #expect(ok.stdout.contains("\n\(section)\n"), "\(section)")
        }
        #expect(ok.stdout.contains("  OK: 1 of 2 endpoints can serve default/web: 10.244.1.20:6379 (cache/redis-0)\n"))

        let blocked = try seaway(["trace", "--from", "default/batch", "--to", "redis.cache:6379", "Fixtures/trace"])
        #expect(blocked.status == 2)
        #expect(blocked.stdout.contains("FAILS: no endpoint can serve default/batch"))

        let outside = try seaway(["trace", "--from", "default/web", "--to", "payments:443", "Fixtures/trace"])
        #expect(outside.status == 3)
        #expect(outside.stdout.contains("LEAVES THE CLUSTER: payments is an ExternalName service"))
    }

    @Test func jsonCarriesEveryLayer() throws {
        let r = try seaway(["trace", "--from", "default/web", "--to", "redis.cache:redis", "--output", "json", "Fixtures/trace"])
        #expect(r.status == 0)
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(o["outcome"] as? String == "serves")
        #expect((o["dns"] as? [String: Any])?["addresses"] as? [String] == ["10.96.20.10"])
        #expect(((o["destination"] as? [String: Any])?["servicePort"] as? String) == "cache/redis:redis")
        #expect((o["endpoints"] as? [[String: Any]])?.count == 3)
        #expect((o["rules"] as? [[String: Any]])?.first?["location"] as? String == "nat PREROUTING and OUTPUT -> KUBE-SERVICES")
        let reaches = try #require(o["reaches"] as? [[String: Any]])
        #expect(reaches.map { ($0["policy"] as? [String: Any])?["allowed"] as? Bool } == [true, false])
    }

    @Test func badInputNamesTheFlag() throws {
        let pod = try seaway(["trace", "--from", "default/nope", "--to", "redis.cache:6379", "Fixtures/trace"])
        #expect(pod.status == 1 && pod.stderr.contains("--from: no pod 'default/nope'"), "\(pod.stderr)")
        let port = try seaway(["trace", "--from", "default/web", "--to", "10.244.1.20", "Fixtures/trace"])
        #expect(port.status == 1 && port.stderr.contains("give the port as 10.244.1.20:PORT"), "\(port.stderr)")
        let manifest = try seaway(["trace", "--from", "default/web", "--to", "x:1", "Fixtures/nope"])
        #expect(manifest.status == 1 && manifest.stderr.contains("Fixtures/nope"), "\(manifest.stderr)")
    }
}
