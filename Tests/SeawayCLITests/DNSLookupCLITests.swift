import Foundation
import Testing

/// `seaway dns lookup`: dig-style answers from manifests, search paths, exit codes, bad input.
@Suite struct DNSLookupCLITests {
    @Test func printsTheAnswerSectionLikeDig() throws {
        let r = try seaway(["dns", "lookup", "_postgres._tcp.db.apps.svc.cluster.local", "--type", "SRV", "Fixtures/dns"])
        #expect(r.status == 0)
        #expect(r.stdout.contains(";; ->>HEADER<<- status: NOERROR"))
        #expect(r.stdout.contains(";; ANSWER SECTION:\n_postgres._tcp.db.apps.svc.cluster.local.\t5\tIN\tSRV\t0 50 5432 db-0.db.apps.svc.cluster.local.\n"))
        #expect(r.stdout.contains(";; ADDITIONAL SECTION:\ndb-0.db.apps.svc.cluster.local.\t5\tIN\tA\t10.244.1.5\n"))
    }

    @Test func searchPathShowsEveryNameTried() throws {
        let r = try seaway(["dns", "lookup", "web.apps", "--from-namespace", "default", "--ttl", "30", "Fixtures/dns"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("""
            ;; search default.svc.cluster.local. svc.cluster.local. cluster.local. (ndots:5)
            ;; tried web.apps.default.svc.cluster.local.\tA\tNXDOMAIN
            ;; tried web.apps.svc.cluster.local.\tA\tNOERROR

            """))
        #expect(r.stdout.contains("web.apps.svc.cluster.local.\t30\tIN\tA\t10.96.1.10"))
        // Five dots or more: the name as written comes first.
        let abs = try seaway(["dns", "lookup", "web.apps.svc.cluster.local", "--from-namespace", "apps", "Fixtures/dns"])
        #expect(abs.stdout.contains(";; tried web.apps.svc.cluster.local.\tA\tNOERROR\n\n"))
        // Outside the zones after the whole search list: forwarded.
        let out = try seaway(["dns", "lookup", "example.com", "--from-namespace", "apps", "Fixtures/dns"])
        #expect(out.status == 2)
        #expect(out.stdout.contains(";; tried example.com.cluster.local.\tA\tNXDOMAIN\n;; tried example.com.\tA\tFORWARDED\n"))
    }

    @Test func negativeAnswersExitTwo() throws {
        let nx = try seaway(["dns", "lookup", "nothing.apps.svc.cluster.local", "Fixtures/dns"])
        #expect(nx.status == 2)
        #expect(nx.stdout.contains("status: NXDOMAIN"))
        #expect(nx.stdout.contains(";; AUTHORITY SECTION:\ncluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. "))
        let nodata = try seaway(["dns", "lookup", "kubernetes.default.svc.cluster.local", "--type", "AAAA", "Fixtures/dns"])
        #expect(nodata.status == 2)
        #expect(nodata.stdout.contains("status: NOERROR"))
    }

    @Test func optionsChangeTheAnswers() throws {
        let pods = try seaway(["dns", "lookup", "10-244-1-5.apps.pod.cluster.local", "--pods", "verified", "Fixtures/dns"])
        #expect(pods.status == 0)
        let hidden = try seaway(["dns", "lookup", "web.apps.svc.cluster.local", "--namespaces", "default,kube-system", "Fixtures/dns"])
        #expect(hidden.status == 2 && hidden.stdout.contains("NXDOMAIN"))
        let any = try seaway(["dns", "lookup", "web.apps.svc.cluster.local", "--type", "ANY", "Fixtures/dns"])
        #expect(any.stdout.contains("\tA\t10.96.1.10") && any.stdout.contains("\tAAAA\tfd00:10:96::1:10")
            && any.stdout.contains("\tSRV\t0 50 80 web.apps.svc.cluster.local."))
    }

    @Test func badInputNamesTheProblem() throws {
        let badType = try seaway(["dns", "lookup", "web.apps", "--type", "BOGUS", "Fixtures/dns"])
        #expect(badType.status != 0 && badType.stderr.contains("BOGUS"))
        let badTTL = try seaway(["dns", "lookup", "web.apps", "--ttl", "4000", "Fixtures/dns"])
        #expect(badTTL.status != 0 && badTTL.stderr.contains("3600"))
        let badName = try seaway(["dns", "lookup", "a..b", "Fixtures/dns"])
        #expect(badName.status != 0 && badName.stderr.contains("not a domain name"))
        let badManifest = try seaway(["dns", "lookup", "web.apps", "-"], stdin: """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: apps}
            spec:
              clusterIP: 10.96.1.300
              ports: [{port: 80}]
            """)
        #expect(badManifest.status == 1)
        #expect(badManifest.stderr.contains("<stdin>:5") && badManifest.stderr.contains("Service apps/web") && badManifest.stderr.contains("spec.clusterIP"))
    }
}

/// `seaway dns zone-file`: the zone as a master file, and its options.
@Suite struct DNSZoneFileCLITests {
    @Test func printsTheZoneWithItsNameServers() throws {
        let r = try seaway(["dns", "zone-file", "--server-address", "127.0.0.1", "Fixtures/dns"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("$ORIGIN cluster.local.\ncluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. "))
        #expect(r.stdout.contains("cluster.local.\t5\tIN\tNS\tns.dns.cluster.local.\nns.dns.cluster.local.\t5\tIN\tA\t127.0.0.1\n"))
        #expect(r.stdout.contains("_http._tcp.web.apps.svc.cluster.local.\t5\tIN\tSRV\t0 50 80 web.apps.svc.cluster.local.\n"))
        let reverse = try seaway(["dns", "zone-file", "--origin", "in-addr.arpa", "--ttl", "30", "Fixtures/dns"])
        #expect(reverse.stdout.contains("1.0.96.10.in-addr.arpa.\t30\tIN\tPTR\tkubernetes.default.svc.cluster.local.\n"))
    }

    @Test func badOptionsAreRefused() throws {
        let notAZone = try seaway(["dns", "zone-file", "--origin", "example.org", "Fixtures/dns"])
        #expect(notAZone.status != 0 && notAZone.stderr.contains("not one of the zones answered"))
        let badAddress = try seaway(["dns", "zone-file", "--server-address", "ns1", "Fixtures/dns"])
        #expect(badAddress.status != 0 && badAddress.stderr.contains("'ns1' is not an IP address"))
        let noInput = try seaway(["dns", "zone-file"])
        #expect(noInput.status != 0 && noInput.stderr.contains("manifest"))
    }
}
