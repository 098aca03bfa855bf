import Foundation
import SeawayTestSupport
import Testing

/// The built `seaway` against the fake API server: every one-shot command reads the live
/// cluster as it reads the same objects from manifests, and `snapshot` round-trips.
@Suite(.serialized) struct LiveCommandTests {
    static let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("seaway").path

    static func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = InformerTests.root
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func commandsReadTheLiveClusterAsTheyReadManifests() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        try InformerTests.seed(server)
        let dir = NSTemporaryDirectory() + "seaway-live-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let kubeconfig = dir + "/config"
        try server.writeKubeconfig(to: kubeconfig)
        let fixture = "Fixtures/trace"
        let node = ["--hostname-override", "node-a", "--cluster-cidr", "10.244.0.0/16"]

        for mode in ["iptables", "nftables"] {
            let live = try Self.run(["render", "--mode", mode] + node + ["--kubeconfig", kubeconfig])
            let files = try Self.run(["render", "--mode", mode] + node + [fixture])
            #expect(live.status == 0, "\(live.stderr)")
            #expect(live.stdout == files.stdout)
        }
        let trace = try Self.run(["trace", "--from", "default/web", "--to", "redis.cache:6379", "--kubeconfig", kubeconfig])
        #expect(trace.status == 0 && trace.stdout.contains("OK: 1 of 2 endpoints can serve default/web"), "\(trace.stderr)")
        let policy = try Self.run(["policy", "check", "--from", "default/batch", "--to", "cache/redis-0", "--port", "6379", "--kubeconfig", kubeconfig])
        #expect(policy.stdout.hasPrefix("DENIED default/batch -> cache/redis-0"), "\(policy.stderr)")
        let dns = try Self.run(["dns", "lookup", "redis.cache.svc.cluster.local", "--kubeconfig", kubeconfig])
        #expect(dns.stdout.contains("redis.cache.svc.cluster.local.\t5\tIN\tA\t10.96.20.10"), "\(dns.stderr)")

        // The SOA serial is the load time; every other line of the zone is the same.
        let records = { (text: String) in text.split(separator: "\n").filter { !$0.contains("SOA") } }
        let liveZone = try Self.run(["dns", "zone-file", "--kubeconfig", kubeconfig])
        #expect(liveZone.status == 0, "\(liveZone.stderr)")
        #expect(records(liveZone.stdout) == records(try Self.run(["dns", "zone-file", fixture]).stdout))

        // A snapshot is manifests: rendering it gives the same rules.
        let snapshot = try Self.run(["snapshot", "--kubeconfig", kubeconfig])
        #expect(snapshot.status == 0, "\(snapshot.stderr)")
        try snapshot.stdout.write(toFile: dir + "/snapshot.yaml", atomically: true, encoding: .utf8)
        #expect(snapshot.stdout.hasPrefix("{\n  \"apiVersion\" : \"v1\",\n  \"items\" : ["))
        let fromSnapshot = try Self.run(["render", "--mode", "iptables"] + node + [dir + "/snapshot.yaml"])
        #expect(fromSnapshot.status == 0, "\(fromSnapshot.stderr)")
        #expect(fromSnapshot.stdout == (try Self.run(["render", "--mode", "iptables"] + node + [fixture]).stdout))
        #expect(try Self.run(["trace", "--from", "default/web", "--to", "redis.cache:6379", dir + "/snapshot.yaml"]).status == 0)

        // Unreachable, or both sources: said clearly, exit 1.
        server.stop()
        let down = try Self.run(["render", "--mode", "iptables", "--kubeconfig", kubeconfig])
        #expect(down.status == 1 && down.stderr.contains("kubeconfig \(kubeconfig) (context fake)"), "\(down.stderr)")
        let both = try Self.run(["render", "--mode", "iptables", "--kubeconfig", kubeconfig, fixture])
        #expect(both.status != 0 && both.stderr.contains("not both"), "\(both.stderr)")
    }
}
