import Foundation
import NIOCore
import SeawayDNS
import SeawayKernel
import SeawayModel
import Testing

/// `seaway dns serve` as a real UDP + TCP server on loopback, queried with dig and with our
/// own client: every record kind, truncation, EDNS, forwarding, reloads, metrics, bad packets.
@Suite(.serialized, .enabled(if: digAvailable, "dig (bind9-dnsutils) is missing: run scripts/setup"))
struct DNSServerTests {
    @Test func answersEveryRecordKindOverUDPAndTCP() throws {
        let server = try DNSServerProcess(["--pods", "insecure", "Fixtures/dns"])
        let cases: [([String], [String])] = [
            (["web.apps.svc.cluster.local", "A"], ["10.96.1.10"]),
            (["web.apps.svc.cluster.local", "AAAA"], ["fd00:10:96::1:10"]),
            (["db.apps.svc.cluster.local", "A"], ["10.244.1.5", "10.244.2.6"]),
            (["db-0.db.apps.svc.cluster.local", "A"], ["10.244.1.5"]),
            (["_https._tcp.kubernetes.default.svc.cluster.local", "SRV"], ["0 100 443 kubernetes.default.svc.cluster.local."]),
            (["_postgres._tcp.db.apps.svc.cluster.local", "SRV"], ["0 50 5432 db-0.db.apps.svc.cluster.local.", "0 50 5432 db-1.db.apps.svc.cluster.local."]),
            (["-x", "10.96.0.10"], ["kube-dns.kube-system.svc.cluster.local."]),
            (["-x", "10.244.2.6"], ["db-1.db.apps.svc.cluster.local."]),
            (["-x", "fd00:10:96::1:10"], ["web.apps.svc.cluster.local."]),
            (["search.apps.svc.cluster.local", "CNAME"], ["search.example.com."]),
            (["alias.apps.svc.cluster.local", "A"], ["web.apps.svc.cluster.local.", "10.96.1.10"]),
            (["dns-version.cluster.local", "TXT"], ["\"1.1.0\""]),
            (["10-244-7-7.apps.pod.cluster.local", "A"], ["10.244.7.7"]),
            (["cluster.local", "NS"], ["ns.dns.cluster.local."]),
            (["ns.dns.cluster.local", "A"], ["127.0.0.1"]),
        ]
        for (args, expected) in cases {
            #expect(try server.short(args) == expected, "\(args) over UDP")
            #expect(try server.short(args + ["+tcp"]) == expected, "\(args) over TCP")
        }
        let soa = try server.short(["cluster.local", "SOA"])
        #expect(soa.count == 1 && soa[0].hasPrefix("ns.dns.cluster.local. hostmaster.cluster.local. ") && soa[0].hasSuffix(" 7200 1800 86400 5"))
    }

    @Test func negativeAnswersCarryTheSOA() throws {
        let server = try DNSServerProcess(["Fixtures/dns"])
        let nx = try server.dig(["nothing.apps.svc.cluster.local"])
        #expect(nx.contains("status: NXDOMAIN") && nx.contains("flags: qr aa rd;"))
        #expect(nx.contains(";; AUTHORITY SECTION:\ncluster.local.\t\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local."))
        let nodata = try server.dig(["kubernetes.default.svc.cluster.local", "AAAA"])
        #expect(nodata.contains("status: NOERROR") && nodata.contains("ANSWER: 0, AUTHORITY: 1"))
        #expect(try server.dig(["starting.apps.svc.cluster.local"]).contains("status: NXDOMAIN"))
        // Nothing upstream: SERVFAIL for names outside the zones, as CoreDNS's chain ends.
        #expect(try server.dig(["example.com"]).contains("status: SERVFAIL"))
    }

    @Test func truncatesToTheClientsLimitAndTCPGetsItAll() throws {
        let server = try DNSServerProcess(["Fixtures/dns"])
        // No EDNS: 512 bytes. With +ignore dig shows the truncated UDP answer itself.
        let cut = try server.dig(["big.apps.svc.cluster.local", "+noedns", "+ignore"])
        #expect(cut.contains("flags: qr aa tc rd;"))
        #expect(cut.contains("ANSWER: 29,"))
        // dig then retries over TCP by itself and gets all 40.
        #expect(try server.short(["big.apps.svc.cluster.local", "+noedns"]).count == 40)
        // With EDNS the client's buffer size is the limit.
        let wide = try server.dig(["big.apps.svc.cluster.local", "+bufsize=1400", "+ignore"])
        #expect(!wide.contains(" tc ") && wide.contains("ANSWER: 40,") && wide.contains("udp: 1400"))
    }

    @Test func ednsVersionsAndOurOwnClient() throws {
        let server = try DNSServerProcess(["Fixtures/dns"])
        #expect(try server.dig(["web.apps.svc.cluster.local", "+edns=1", "+noednsneg"]).contains("status: BADVERS"))
        let query = DNSMessage.query(id: 4242, name: DNSName("Web.Apps.svc.cluster.local.")!, type: .a, edns: EDNS(udpPayloadSize: 1232))
        let viaUDP = try DNSMessage(parsing: #require(udpExchange(port: server.port, query.bytes())))
        let viaTCP = try DNSMessage(parsing: #require(tcpExchange(port: server.port, query.bytes())))
        for reply in [viaUDP, viaTCP] {
            #expect(reply.id == 4242 && reply.authoritative && reply.rcode == .noError)
            #expect(reply.answers.map(\.description) == ["Web.Apps.svc.cluster.local.\t5\tIN\tA\t10.96.1.10"])
        }
        // The same question again comes from the answer cache, with the new ID.
        var again = query
        again.id = 7
        #expect(try DNSMessage(parsing: #require(udpExchange(port: server.port, again.bytes()))).id == 7)
    }

    @Test func forwardsOutsideNamesAndChasesExternalNames() throws {
        let upstream = try DNSServerProcess(["--zone", "example.org", "Fixtures/dns"])
        let server = try DNSServerProcess(["--upstream", "127.0.0.1:\(upstream.port)", "Fixtures/dns"])
        #expect(try server.short(["web.apps.svc.example.org"]) == ["10.96.1.10"])
        #expect(try server.short(["web.apps.svc.example.org", "+tcp"]) == ["10.96.1.10"])
        #expect(try server.dig(["nothing.apps.svc.example.org"]).contains("status: NXDOMAIN"))
        // An ExternalName leaving the zone: our CNAME, then the upstream's records.
        #expect(try server.short(["mirror.apps.svc.cluster.local"]) == ["web.apps.svc.example.org.", "10.96.1.10"])
        // The upstream truncates a 40-record answer to a query without EDNS; the forwarder
        // asks again over TCP, so a TCP client gets everything.
        #expect(try server.short(["big.apps.svc.example.org", "+noedns", "+tcp"]).count == 40)
    }

    @Test func notLoadedYetIsSERVFAILThenAnswers() throws {
        let server = try DNSServerProcess(["-"], waitForLoad: false, http: true)
        let httpPort = server.httpPort
        #expect(try server.dig(["web.apps.svc.cluster.local"]).contains("status: SERVFAIL"))
        #expect(httpGet(port: httpPort, "/ready")?.status == 503)
        #expect(httpGet(port: httpPort, "/health")?.status == 200)
        try server.feed(try String(contentsOf: root.appendingPathComponent("Fixtures/dns/cluster.yaml"), encoding: .utf8))
        try server.waitFor("dns: loaded")
        #expect(try server.short(["web.apps.svc.cluster.local"]) == ["10.96.1.10"])
        #expect(httpGet(port: httpPort, "/ready")?.status == 200)
        let metrics = try #require(httpGet(port: httpPort, "/metrics")).body
        #expect(metrics.contains("coredns_dns_requests_total{server=\"dns://127.0.0.1:0\",zone=\".\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"} 2"))
        #expect(metrics.contains("coredns_dns_responses_total{server=\"dns://127.0.0.1:0\",zone=\".\",view=\"\",rcode=\"SERVFAIL\",plugin=\"kubernetes\"} 1"))
        #expect(metrics.contains("coredns_dns_request_duration_seconds_bucket{"))
        #expect(metrics.contains("# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family."))
    }

    @Test func sighupReloadsAndABadReloadKeepsTheLastGoodState() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seaway-dns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("cluster.yaml")
        func write(_ ip: String) throws {
            try """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: apps}
                spec: {clusterIP: \(ip), ports: [{port: 80}]}
                """.write(to: file, atomically: true, encoding: .utf8)
        }
        try write("10.96.5.5")
        let server = try DNSServerProcess([dir.path])
        #expect(try server.short(["web.apps.svc.cluster.local"]) == ["10.96.5.5"])
        try write("10.96.6.6")
        server.signal(SIGHUP)
        try server.waitFor("loaded 1 services, 0 EndpointSlices, 0 pods\nseaway: dns: loaded 1 services")
        #expect(try server.short(["web.apps.svc.cluster.local"]) == ["10.96.6.6"])
        try "kind: Service\nmetadata: {name: [oops".write(to: file, atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        try server.waitFor("reload failed, keeping the last good state")
        #expect(server.stderr.contains("cluster.yaml"))
        #expect(try server.short(["web.apps.svc.cluster.local"]) == ["10.96.6.6"])
    }

    /// Thousands of random and mutated packets: the server answers what deserves an answer
    /// (FORMERR or a real answer, never a crash), and still answers correctly afterwards.
    @Test func survivesMalformedPackets() throws {
        let server = try DNSServerProcess(["Fixtures/dns"])
        var rng = SystemRandomNumberGenerator()
        let valid = DNSMessage.query(id: 1, name: DNSName("_postgres._tcp.db.apps.svc.cluster.local.")!, type: .srv, edns: EDNS()).bytes()
        var packets: [[UInt8]] = []
        for i in 0..<3000 {
            if i % 3 == 0 {
                packets.append((0..<Int.random(in: 0..<100, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            } else {
                var p = valid
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let at = Int.random(in: 2..<p.count, using: &rng)
                    p[at] = UInt8.random(in: 0...255, using: &rng)
                }
                p[2] &= 0x7F  // keep it a query, so most deserve an answer
                packets.append(Array(p.prefix(Int.random(in: 12...p.count, using: &rng))))
            }
        }
        let replies = udpBlast(port: server.port, packets)
        // Whether a packet deserves a reply depends on its header alone; count those.
        let deserving = packets.filter { p in
            if case .drop = DNSResponder(zone: .unsynced(options: KubernetesDNSOptions())).decide(ByteBuffer(bytes: p)) { return false }
            return true
        }.count
        #expect(deserving > 1500)
        #expect(replies.count >= deserving * 95 / 100, "\(replies.count) replies to \(deserving) packets that deserve one")
        for r in replies { #expect(r.count >= 12 && r[2] & 0x80 != 0) }
        #expect(server.process.isRunning)
        #expect(try server.short(["db-0.db.apps.svc.cluster.local"]) == ["10.244.1.5"])
        // Garbage over TCP closes that connection, nothing more.
        #expect(tcpExchange(port: server.port, [0xFF, 0xFF, 0xFF]) == nil)
        #expect(try server.short(["db-0.db.apps.svc.cluster.local", "+tcp"]) == ["10.244.1.5"])
    }

    @Test func corefileSettingsApplyAndFlagsWin() throws {
        // The Corefile's own HTTP ports and upstream are replaced, so tests can run side by side.
        let local = ["--http-listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9"]
        let server = try DNSServerProcess(["--corefile", "Fixtures/dns/Corefile"] + local + ["Fixtures/dns"])
        #expect(try server.answer(["web.apps.svc.cluster.local"]) == [["web.apps.svc.cluster.local.", "30", "IN", "A", "10.96.1.10"]])
        #expect(try server.short(["10-1-2-3.apps.pod.cluster.local"]) == ["10.1.2.3"])
        #expect(server.stderr.contains("Corefile:") && server.stderr.contains("loop: has no effect in seaway"))
        let flags = try DNSServerProcess(["--corefile", "Fixtures/dns/Corefile", "--ttl", "7", "--pods", "disabled"] + local + ["Fixtures/dns"])
        #expect(try flags.answer(["web.apps.svc.cluster.local"]) == [["web.apps.svc.cluster.local.", "7", "IN", "A", "10.96.1.10"]])
        #expect(try flags.dig(["10-1-2-3.apps.pod.cluster.local"]).contains("status: NXDOMAIN"))
    }

    @Test func servesAnIPv6ListenAddress() throws {
        let server = try DNSServerProcess(["Fixtures/dns"], host: "::1")
        // The precompiled path (UDP), the full path (PTR, TCP) and a negative answer.
        #expect(try server.short(["web.apps.svc.cluster.local"]) == ["10.96.1.10"])
        #expect(try server.short(["-x", "10.244.2.6"]) == ["db-1.db.apps.svc.cluster.local."])
        #expect(try server.short(["web.apps.svc.cluster.local", "+tcp"]) == ["10.96.1.10"])
        #expect(try server.dig(["nothing.apps.svc.cluster.local"]).contains("status: NXDOMAIN"))
    }

    @Test func theQueryLogHasEveryQuery() throws {
        let server = try DNSServerProcess(["--log", "Fixtures/dns"])
        // Twice: the second would come from the precompiled table or the answer cache.
        for _ in 0..<2 {
            #expect(try server.short(["web.apps.svc.cluster.local"]) == ["10.96.1.10"])
            #expect(try server.dig(["nothing.apps.svc.cluster.local"]).contains("status: NXDOMAIN"))
        }
        // Give the log line of the last query a moment to reach stderr.
        usleep(200_000)
        let lines = server.stderr.split(separator: "\n")
        #expect(lines.filter { $0.contains("\"A IN web.apps.svc.cluster.local. udp\"") }.count == 2, "\(server.stderr)")
        #expect(lines.filter { $0.contains("\"A IN nothing.apps.svc.cluster.local. udp\" NXDOMAIN") }.count == 2, "\(server.stderr)")
    }

    @Test func badStartupInputExitsWithTheReason() throws {
        let badManifest = try seaway(["dns", "serve", "--listen", "127.0.0.1:0", "-"], stdin: "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: 1.2.3, ports: [{port: 80}]}\n")
        #expect(badManifest.status == 1 && badManifest.stderr.contains("<stdin>:4") && badManifest.stderr.contains("spec.clusterIP"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seaway-corefile-\(UUID().uuidString)")
        try ".:53 {\n  kubernetes cluster.local {\n    pods sometimes\n  }\n}\n".write(to: dir, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: dir) }
        let badCorefile = try seaway(["dns", "serve", "--listen", "127.0.0.1:0", "--corefile", dir.path, "Fixtures/dns"])
        #expect(badCorefile.status == 1 && badCorefile.stderr.contains("\(dir.path):3: pods takes one of disabled, insecure, verified"))
        let badListen = try seaway(["dns", "serve", "--listen", "localhost:53", "Fixtures/dns"])
        #expect(badListen.status != 0 && badListen.stderr.contains("'localhost' is not an IP address"))
        let badCPUs = try seaway(["dns", "serve", "--listen", "127.0.0.1:0", "--cpu-affinity", "0-x", "Fixtures/dns"])
        #expect(badCPUs.status != 0 && badCPUs.stderr.contains("--cpu-affinity '0-x' is not a CPU list: '0-x'"))
        let absentCPU = try seaway(["dns", "serve", "--listen", "127.0.0.1:0", "--cpu-affinity", "0,1023", "Fixtures/dns"])
        #expect(absentCPU.status != 0 && absentCPU.stderr.contains("--cpu-affinity '0,1023': CPU 1023 is not one this process may use"))
    }

    @Test(.enabled(if: ProcessInfo.processInfo.activeProcessorCount > 1, "one CPU: a pinned thread looks like any other"))
    func cpuAffinityPinsEachUDPThread() throws {
        let cpus = try CPUAffinity.allowed()
        let cpu = try #require(cpus.last)
        let server = try DNSServerProcess(["--cpu-affinity", "\(cpu)", "--threads", "2", "Fixtures/dns"])
        #expect(try server.short(["web.apps.svc.cluster.local", "A"]) == ["10.96.1.10"])
        // NIO's thread pool names its threads TP-#N; the UDP loops are its only work.
        let tasks = "/proc/\(server.process.processIdentifier)/task"
        var udpThreads: [String] = []
        for tid in try FileManager.default.contentsOfDirectory(atPath: tasks) {
            let name = try String(contentsOfFile: "\(tasks)/\(tid)/comm", encoding: .utf8)
            guard name.hasPrefix("TP-#") else { continue }
            let status = try String(contentsOfFile: "\(tasks)/\(tid)/status", encoding: .utf8)
            udpThreads += status.split(separator: "\n").filter { $0.hasPrefix("Cpus_allowed_list:") }
                .map { $0.split(separator: "\t").last.map(String.init) ?? "" }
        }
        #expect(udpThreads == ["\(cpu)", "\(cpu)"])
    }
}
