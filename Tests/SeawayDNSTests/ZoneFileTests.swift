import SeawayDNS
import SeawayModel
import Testing

/// `ZoneFile`: the cluster zones as master files hold exactly what the zone answers.
struct ZoneFileTests {
    /// The file's records as `name ttl IN type data` lines.
    static func records(_ text: String) -> [String] {
        text.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.hasPrefix("$") }
            .map { $0.replacingOccurrences(of: "\t", with: " ") }
    }

    @Test func everyRecordIsWhatTheZoneAnswersAtItsName() throws {
        let zone = DNSFixture.zone { $0.localIPs = [IPAddress("10.244.1.2")!] }
        let lines = ZoneFileTests.records(ZoneFile.text(of: zone, origin: DNSName("cluster.local.")!))
        #expect(lines.count > 100)
        #expect(Set(lines).count == lines.count, "no record twice")
        for line in lines {
            let fields = line.split(separator: " ")
            let type = try #require(DNSType(name: String(fields[3])))
            let answer = try #require(zone.ask(String(fields[0]), type))
            #expect(answer.answerLines.contains(line), "\(line) is not in the zone's answer")
        }
    }

    @Test func holdsEveryKindOfName() throws {
        let zone = DNSFixture.zone { $0.localIPs = [IPAddress("10.244.1.2")!] }
        let lines = Set(ZoneFileTests.records(ZoneFile.text(of: zone, origin: DNSName("cluster.local.")!)))
        for expected in [
            "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5",
            "cluster.local. 5 IN NS kube-dns.kube-system.svc.cluster.local.",
            "dns-version.cluster.local. 28800 IN TXT \"1.1.0\"",
            "web.apps.svc.cluster.local. 5 IN AAAA fd00:10:96::1:10",
            "web.apps.svc.cluster.local. 5 IN SRV 0 50 80 web.apps.svc.cluster.local.",
            "_postgres._tcp.db.apps.svc.cluster.local. 5 IN SRV 0 50 5432 db-1.db.apps.svc.cluster.local.",
            "db-0.db.apps.svc.cluster.local. 5 IN A 10.244.1.5",
            "10-244-1-10.web.apps.svc.cluster.local. 5 IN A 10.244.1.10",
            "alias.apps.svc.cluster.local. 5 IN CNAME web.apps.svc.cluster.local.",
            "mirror.apps.svc.cluster.local. 5 IN CNAME web.apps.svc.example.org.",
        ] {
            #expect(lines.contains(expected), "missing \(expected)")
        }
        // The not-ready db-2 has no name, and nothing of other zones is listed.
        #expect(!lines.contains { $0.hasPrefix("db-2.") })
        #expect(lines.allSatisfy { $0.split(separator: " ")[0].hasSuffix("cluster.local.") })
    }

    @Test func reverseZonesHoldThePointers() throws {
        let zone = DNSFixture.zone()
        let v4 = ZoneFileTests.records(ZoneFile.text(of: zone, origin: DNSName("in-addr.arpa.")!))
        #expect(v4.contains("10.1.96.10.in-addr.arpa. 5 IN PTR web.apps.svc.cluster.local."))
        #expect(v4.contains("5.1.244.10.in-addr.arpa. 5 IN PTR db-0.db.apps.svc.cluster.local."))
        #expect(!v4.contains { $0.contains("ip6.arpa") })
        let v6 = ZoneFileTests.records(ZoneFile.text(of: zone, origin: DNSName("ip6.arpa.")!))
        #expect(v6.contains { $0.hasSuffix("IN PTR web.apps.svc.cluster.local.") })
        #expect(!v6.contains { $0.contains("in-addr.arpa") })
    }

    @Test func optionsShapeTheFile() throws {
        let hidden = ZoneFile.text(of: DNSFixture.zone { $0.namespaces = ["default"] }, origin: DNSName("cluster.local.")!)
        #expect(hidden.contains("kubernetes.default.svc.cluster.local.") && !hidden.contains(".apps.svc."))
        let verified = ZoneFile.text(of: DNSFixture.zone { $0.pods = .verified }, origin: DNSName("cluster.local.")!)
        #expect(verified.contains("10-244-1-5.apps.pod.cluster.local.\t5\tIN\tA\t10.244.1.5"))
        let insecure = ZoneFile.text(of: DNSFixture.zone { $0.pods = .insecure }, origin: DNSName("cluster.local.")!)
        #expect(insecure.contains("pod names (pods insecure)") && !insecure.contains(".pod.cluster.local."))
        let ignored = ZoneFile.text(of: DNSFixture.zone { $0.ignoreEmptyService = true }, origin: DNSName("cluster.local.")!)
        #expect(!ignored.contains("empty.apps.svc.cluster.local."))
    }
}
