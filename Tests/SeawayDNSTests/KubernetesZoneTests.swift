import SeawayDNS
import SeawayModel
import Testing

/// The records of the Kubernetes DNS specification (schema 1.1.0) and CoreDNS's kubernetes
/// plugin, one behaviour per test, against `Fixtures/dns`.
struct KubernetesZoneTests {
    let zone = DNSFixture.zone()

    @Test func clusterIPServiceHasAnARecord() throws {
        let a = try #require(zone.ask("kubernetes.default.svc.cluster.local.", .a))
        #expect(a.rcode == .noError)
        #expect(a.answerLines == ["kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1"])
        #expect(a.authority.isEmpty)
    }

    @Test func dualStackServiceAnswersBothFamiliesAndSingleStackHasNoData() throws {
        #expect(zone.ask("web.apps.svc.cluster.local.", .a)?.answerLines == ["web.apps.svc.cluster.local. 5 IN A 10.96.1.10"])
        #expect(zone.ask("web.apps.svc.cluster.local.", .aaaa)?.answerLines == ["web.apps.svc.cluster.local. 5 IN AAAA fd00:10:96::1:10"])
        let v4only = try #require(zone.ask("kubernetes.default.svc.cluster.local.", .aaaa))
        #expect(v4only.isNoData)
        #expect(zone.ask("v6only.apps.svc.cluster.local.", .aaaa)?.answerLines == ["v6only.apps.svc.cluster.local. 5 IN AAAA fd00:10:96::2:1"])
        #expect(zone.ask("v6only.apps.svc.cluster.local.", .a)?.isNoData == true)
    }

    @Test func answersKeepTheQuestionsCase() throws {
        let a = try #require(zone.ask("WEB.Apps.svc.Cluster.Local.", .a))
        #expect(a.answerLines == ["WEB.Apps.svc.Cluster.Local. 5 IN A 10.96.1.10"])
        let missing = try #require(zone.ask("nothing.Apps.svc.Cluster.Local.", .a))
        #expect(missing.authority.map(\.name.description) == ["Cluster.Local."])
    }

    @Test func headlessServiceHasOneRecordPerReadyEndpoint() throws {
        let a = try #require(zone.ask("db.apps.svc.cluster.local.", .a))
        #expect(a.answerLines == ["db.apps.svc.cluster.local. 5 IN A 10.244.1.5",
                                  "db.apps.svc.cluster.local. 5 IN A 10.244.2.6"])
        // Named endpoints; the not-ready db-2 has no record at all.
        #expect(zone.ask("db-1.db.apps.svc.cluster.local.", .a)?.answerLines == ["db-1.db.apps.svc.cluster.local. 5 IN A 10.244.2.6"])
        #expect(zone.ask("db-2.db.apps.svc.cluster.local.", .a)?.rcode == .nameError)
        // Without a hostname, CoreDNS names the endpoint after its dashed address.
        #expect(zone.ask("10-244-1-20.cache.apps.svc.cluster.local.", .a)?.answerLines
            == ["10-244-1-20.cache.apps.svc.cluster.local. 5 IN A 10.244.1.20"])
    }

    @Test func endpointPodNamesNameEndpointsAfterTheirPods() throws {
        let named = DNSFixture.zone { $0.endpointPodNames = true }
        #expect(named.ask("cache-5f7b9-abcde.cache.apps.svc.cluster.local.", .a)?.answerLines
            == ["cache-5f7b9-abcde.cache.apps.svc.cluster.local. 5 IN A 10.244.1.20"])
        // A hostname still wins over the pod name.
        #expect(named.ask("db-0.db.apps.svc.cluster.local.", .a)?.rcode == .noError)
        #expect(named.ask("10-244-1-20.cache.apps.svc.cluster.local.", .a)?.rcode == .nameError)
    }

    @Test func endpointNamesResolveUnderClusterIPServicesToo() throws {
        // CoreDNS answers endpoint queries for any service, not only headless ones.
        #expect(zone.ask("10-244-1-2.kube-dns.kube-system.svc.cluster.local.", .a)?.answerLines
            == ["10-244-1-2.kube-dns.kube-system.svc.cluster.local. 5 IN A 10.244.1.2"])
    }

    @Test func publishNotReadyAddressesPublishesThem() throws {
        #expect(zone.ask("peers.apps.svc.cluster.local.", .a)?.answerLines == ["peers.apps.svc.cluster.local. 5 IN A 10.244.1.30"])
        #expect(zone.ask("peer-0.peers.apps.svc.cluster.local.", .a)?.rcode == .noError)
    }

    @Test func headlessWithoutReadyEndpointsIsNXDOMAIN() throws {
        let a = try #require(zone.ask("starting.apps.svc.cluster.local.", .a))
        #expect(a.rcode == .nameError)
        #expect(a.authority.map(\.type) == [.soa])
    }

    @Test func srvForNamedPortsOfClusterIPServices() throws {
        let srv = try #require(zone.ask("_https._tcp.kubernetes.default.svc.cluster.local.", .srv))
        #expect(srv.answerLines == ["_https._tcp.kubernetes.default.svc.cluster.local. 5 IN SRV 0 100 443 kubernetes.default.svc.cluster.local."])
        #expect(srv.additionalLines == ["kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1"])
        // The protocol must match; the underscore is optional, case is not significant.
        #expect(zone.ask("_https._udp.kubernetes.default.svc.cluster.local.", .srv)?.rcode == .nameError)
        #expect(zone.ask("https.TCP.kubernetes.default.svc.cluster.local.", .srv)?.answers.count == 1)
        #expect(zone.ask("_nope._tcp.kubernetes.default.svc.cluster.local.", .srv)?.rcode == .nameError)
    }

    @Test func srvWeightsSplitAHundredAsCoreDNSDoes() throws {
        // The bare service name matches every port: three targets make weight 33; the two
        // port-53 records share target and port, and CoreDNS keeps the first.
        let all = try #require(zone.ask("kube-dns.kube-system.svc.cluster.local.", .srv))
        #expect(all.answerLines == [
            "kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 33 53 kube-dns.kube-system.svc.cluster.local.",
            "kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 33 9153 kube-dns.kube-system.svc.cluster.local.",
        ])
        #expect(all.additionalLines == ["kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"])
        // Dual-stack: two targets for one port make weight 50, one SRV, both addresses.
        let web = try #require(zone.ask("_http._tcp.web.apps.svc.cluster.local.", .srv))
        #expect(web.answerLines == ["_http._tcp.web.apps.svc.cluster.local. 5 IN SRV 0 50 80 web.apps.svc.cluster.local."])
        #expect(web.additionalLines == ["web.apps.svc.cluster.local. 5 IN A 10.96.1.10",
                                        "web.apps.svc.cluster.local. 5 IN AAAA fd00:10:96::1:10"])
    }

    @Test func srvForHeadlessServicesNamesEachEndpoint() throws {
        let srv = try #require(zone.ask("_postgres._tcp.db.apps.svc.cluster.local.", .srv))
        #expect(srv.answerLines == [
            "_postgres._tcp.db.apps.svc.cluster.local. 5 IN SRV 0 50 5432 db-0.db.apps.svc.cluster.local.",
            "_postgres._tcp.db.apps.svc.cluster.local. 5 IN SRV 0 50 5432 db-1.db.apps.svc.cluster.local.",
        ])
        #expect(srv.additionalLines == ["db-0.db.apps.svc.cluster.local. 5 IN A 10.244.1.5",
                                        "db-1.db.apps.svc.cluster.local. 5 IN A 10.244.2.6"])
    }

    @Test func ptrForClusterIPsAndEndpoints() throws {
        #expect(zone.ask("1.0.96.10.in-addr.arpa.", .ptr)?.answerLines == ["1.0.96.10.in-addr.arpa. 5 IN PTR kubernetes.default.svc.cluster.local."])
        #expect(zone.ask("6.2.244.10.in-addr.arpa.", .ptr)?.answerLines == ["6.2.244.10.in-addr.arpa. 5 IN PTR db-1.db.apps.svc.cluster.local."])
        #expect(zone.ask("20.1.244.10.in-addr.arpa.", .ptr)?.answerLines == ["20.1.244.10.in-addr.arpa. 5 IN PTR 10-244-1-20.cache.apps.svc.cluster.local."])
        let v6 = DNSName(reverseOf: IPAddress("fd00:10:96::1:10")!)
        #expect(v6.description == "0.1.0.0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.")
        #expect(zone.ask(v6.description, .ptr)?.answerLines == ["\(v6) 5 IN PTR web.apps.svc.cluster.local."])
        let unknown = try #require(zone.ask("9.9.9.10.in-addr.arpa.", .ptr))
        #expect(unknown.rcode == .nameError)
        #expect(unknown.authority.first?.name == DNSName("in-addr.arpa.")!)
        // Not a whole address, or a leading zero Go's parser refuses: NXDOMAIN.
        #expect(zone.ask("96.10.in-addr.arpa.", .ptr)?.rcode == .nameError)
        #expect(zone.ask("01.0.96.10.in-addr.arpa.", .ptr)?.rcode == .nameError)
        // The reverse apex itself exists.
        #expect(zone.ask("in-addr.arpa.", .ptr)?.isNoData == true)
    }

    @Test func externalNameIsACNAME() throws {
        #expect(zone.ask("search.apps.svc.cluster.local.", .cname)?.answerLines == ["search.apps.svc.cluster.local. 5 IN CNAME search.example.com."])
        // An address query returns the CNAME and asks the upstream for the rest.
        let a = try #require(zone.ask("search.apps.svc.cluster.local.", .a))
        #expect(a.answerLines == ["search.apps.svc.cluster.local. 5 IN CNAME search.example.com."])
        #expect(a.chase == [DNSQuestion(name: DNSName("search.example.com.")!, type: .a)])
        // A target inside the zone is followed here.
        let alias = try #require(zone.ask("alias.apps.svc.cluster.local.", .a))
        #expect(alias.answerLines == ["alias.apps.svc.cluster.local. 5 IN CNAME web.apps.svc.cluster.local.",
                                      "web.apps.svc.cluster.local. 5 IN A 10.96.1.10"])
        #expect(alias.chase.isEmpty)
        // No SRV for external names: the name exists, so NODATA.
        #expect(zone.ask("search.apps.svc.cluster.local.", .srv)?.isNoData == true)
    }

    @Test func schemaVersionRecord() throws {
        #expect(zone.ask("dns-version.cluster.local.", .txt)?.answerLines == ["dns-version.cluster.local. 28800 IN TXT \"1.1.0\""])
        // CoreDNS answers any other TXT question in the zone with NODATA, even for names that
        // do not exist.
        #expect(zone.ask("web.apps.svc.cluster.local.", .txt)?.isNoData == true)
        #expect(zone.ask("nothing.apps.svc.cluster.local.", .txt)?.isNoData == true)
    }

    @Test func podRecordsFollowThePodMode() throws {
        #expect(zone.ask("10-244-1-5.apps.pod.cluster.local.", .a)?.rcode == .nameError)
        let insecure = DNSFixture.zone { $0.pods = .insecure }
        #expect(insecure.ask("10-244-9-9.apps.pod.cluster.local.", .a)?.answerLines == ["10-244-9-9.apps.pod.cluster.local. 5 IN A 10.244.9.9"])
        #expect(insecure.ask("fd00--1.apps.pod.cluster.local.", .aaaa)?.answerLines == ["fd00--1.apps.pod.cluster.local. 5 IN AAAA fd00::1"])
        #expect(insecure.ask("10-244-9-9.nowhere.pod.cluster.local.", .a)?.rcode == .nameError)
        #expect(insecure.ask("not-an-ip.apps.pod.cluster.local.", .a)?.rcode == .nameError)
        #expect(insecure.ask("apps.pod.cluster.local.", .a)?.isNoData == true)
        let verified = DNSFixture.zone { $0.pods = .verified }
        #expect(verified.ask("10-244-1-5.apps.pod.cluster.local.", .a)?.answerLines == ["10-244-1-5.apps.pod.cluster.local. 5 IN A 10.244.1.5"])
        #expect(verified.ask("10-244-1-5.default.pod.cluster.local.", .a)?.rcode == .nameError)
        #expect(verified.ask("10-244-9-9.apps.pod.cluster.local.", .a)?.rcode == .nameError)
    }

    @Test func nxdomainAndNodataAreToldApart() throws {
        for name in ["nothing.apps.svc.cluster.local.", "web.nowhere.svc.cluster.local.", "nowhere.svc.cluster.local.",
                     "foo.cluster.local.", "a.b.c.web.apps.svc.cluster.local.", "x.web.apps.svc.cluster.local."] {
            let a = try #require(zone.ask(name, .a))
            #expect(a.rcode == .nameError, "\(name)")
            #expect(a.authority.count == 1 && a.authority[0].type == .soa, "\(name)")
        }
        for name in ["cluster.local.", "svc.cluster.local.", "pod.cluster.local.", "apps.svc.cluster.local.", "quiet.svc.cluster.local."] {
            #expect(zone.ask(name, .a)?.isNoData == true, "\(name)")
        }
        // Other types use an A lookup to decide between the two.
        #expect(zone.ask("web.apps.svc.cluster.local.", .mx)?.isNoData == true)
        #expect(zone.ask("nothing.apps.svc.cluster.local.", .mx)?.rcode == .nameError)
        #expect(zone.ask("web.apps.svc.cluster.local.", .any)?.isNoData == true)
    }

    @Test func soaAndNSOfTheZone() throws {
        let soa = try #require(zone.ask("cluster.local.", .soa))
        #expect(soa.answerLines == ["cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5"])
        // Negative answers carry it with MINIMUM = TTL.
        let ttl30 = DNSFixture.zone { $0.ttl = 30 }
        #expect(ttl30.ask("nothing.apps.svc.cluster.local.", .a)?.authority.map(\.line)
            == ["cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 30"])
        // NS: the service whose endpoint is this server, else ns.dns.<zone> with our address.
        let onPod = DNSFixture.zone { $0.localIPs = [IPAddress("10.244.1.2")!] }
        let ns = try #require(onPod.ask("cluster.local.", .ns))
        #expect(ns.answerLines == ["cluster.local. 5 IN NS kube-dns.kube-system.svc.cluster.local."])
        #expect(ns.additionalLines == ["kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"])
        let elsewhere = DNSFixture.zone { $0.localIPs = [IPAddress("127.0.0.1")!] }
        #expect(elsewhere.ask("cluster.local.", .ns)?.answerLines == ["cluster.local. 5 IN NS ns.dns.cluster.local."])
        #expect(elsewhere.ask("ns.dns.cluster.local.", .a)?.answerLines == ["ns.dns.cluster.local. 5 IN A 127.0.0.1"])
    }

    @Test func namespacesOptionHidesOtherNamespaces() throws {
        let restricted = DNSFixture.zone { $0.namespaces = ["apps"] }
        #expect(restricted.ask("web.apps.svc.cluster.local.", .a)?.rcode == .noError)
        #expect(restricted.ask("kubernetes.default.svc.cluster.local.", .a)?.rcode == .nameError)
        #expect(restricted.ask("default.svc.cluster.local.", .a)?.rcode == .nameError)
        #expect(restricted.ask("1.0.96.10.in-addr.arpa.", .ptr)?.rcode == .nameError)
        #expect(restricted.ask("10.1.96.10.in-addr.arpa.", .ptr)?.answers.count == 1)
    }

    @Test func ignoreEmptyService() throws {
        #expect(zone.ask("empty.apps.svc.cluster.local.", .a)?.answerLines == ["empty.apps.svc.cluster.local. 5 IN A 10.96.1.20"])
        let ignoring = DNSFixture.zone { $0.ignoreEmptyService = true }
        #expect(ignoring.ask("empty.apps.svc.cluster.local.", .a)?.rcode == .nameError)
        // Only ClusterIP services: a web endpoint is ready, external names have none.
        #expect(ignoring.ask("web.apps.svc.cluster.local.", .a)?.rcode == .noError)
        #expect(ignoring.ask("search.apps.svc.cluster.local.", .cname)?.answers.count == 1)
    }

    @Test func notLoadedYetIsSERVFAIL() throws {
        let unsynced = KubernetesZone.unsynced(options: KubernetesDNSOptions())
        #expect(unsynced.ask("web.apps.svc.cluster.local.", .a)?.rcode == .serverFailure)
        #expect(unsynced.ask("dns-version.cluster.local.", .txt)?.answers.count == 1)
    }

    @Test func outsideTheZonesAndFallthroughGoToTheNextHandler() throws {
        #expect(zone.ask("example.com.", .a) == nil)
        let falling = DNSFixture.zone { $0.fallthroughZones = [DNSName("in-addr.arpa.")!, DNSName("ip6.arpa.")!] }
        #expect(falling.ask("9.9.9.10.in-addr.arpa.", .ptr) == nil)
        #expect(falling.ask("1.0.96.10.in-addr.arpa.", .ptr)?.answers.count == 1)
        #expect(falling.ask("nothing.apps.svc.cluster.local.", .a)?.rcode == .nameError)
        // Zones are matched longest first.
        let nested = DNSFixture.zone { $0.zones = [DNSName("local.")!, DNSName("cluster.local.")!] }
        #expect(nested.ask("web.apps.svc.cluster.local.", .a)?.answers.count == 1)
    }
}

/// The directory outlives the parsed cluster, so it keeps no storage of the cluster's.
struct ServiceDirectoryStorageTests {
    @Test func longNamesAreCopiedNotShared() throws {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: a-service-with-a-long-name, namespace: a-namespace-with-a-long-name}
            spec:
              clusterIP: 10.96.0.10
              ports: [{name: a-port-with-a-long-name, port: 80, protocol: TCP}]
            """
        var cluster = ClusterState()
        try ManifestDecoder().decode(yaml, file: "svc.yaml", into: &cluster)
        let directory = KubernetesZone(options: KubernetesDNSOptions(), cluster: cluster).directory
        let entry = try #require(directory.service("a-service-with-a-long-name", namespace: "a-namespace-with-a-long-name"))
        let service = try #require(cluster.services.first)
        func storage(_ text: String) -> UnsafeRawPointer? {
            var text = text
            return text.withUTF8 { UnsafeRawPointer($0.baseAddress) }
        }
        #expect(entry.name == service.metadata.name)
        #expect(entry.namespace == service.metadata.namespace)
        #expect(entry.ports.map(\.name) == ["a-port-with-a-long-name"])
        #expect(storage(entry.name) != storage(service.metadata.name))
        #expect(storage(entry.namespace) != storage(service.metadata.namespace))
        #expect(storage(entry.ports[0].name) != storage(service.ports[0].name))
        guard case let .clusterIP(ips) = entry.kind else { Issue.record("not a ClusterIP entry"); return }
        #expect(ips == service.clusterIPs)
        #expect(ips.withUnsafeBufferPointer { $0.baseAddress } != service.clusterIPs.withUnsafeBufferPointer { $0.baseAddress })
    }
}

/// An IP that several endpoints share answers for all of them, in namespace/name order.
struct SharedEndpointIPTests {
    static func slice(_ name: String, _ namespace: String, service: String, hostname: String) -> String {
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: \(name), namespace: \(namespace), labels: {kubernetes.io/service-name: \(service)}}
        addressType: IPv4
        endpoints:
        - {addresses: [10.0.0.5], hostname: \(hostname)}
        - {addresses: [10.0.0.6]}
        ports: [{name: http, port: 80, protocol: TCP}]
        """
    }

    static func headless(_ name: String, _ namespace: String) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace)}
        spec: {clusterIP: None, ports: [{name: http, port: 80, protocol: TCP}]}
        """
    }

    @Test func endpointsOfOneIPComeInNamespaceAndNameOrder() throws {
        // Written out of order on purpose: the directory orders them.
        let yaml = [
            Self.headless("zeta", "b"), Self.slice("zeta-1", "b", service: "zeta", hostname: "z1"),
            Self.headless("beta", "a"), Self.slice("beta-2", "a", service: "beta", hostname: "b2"),
            Self.slice("beta-1", "a", service: "beta", hostname: "b1"),
            Self.headless("alpha", "b"), Self.slice("alpha-1", "b", service: "alpha", hostname: "a1"),
        ].joined(separator: "\n---\n")
        var cluster = ClusterState()
        try ManifestDecoder().decode(yaml, file: "shared.yaml", into: &cluster)
        let directory = KubernetesZone(options: KubernetesDNSOptions(), cluster: cluster).directory
        let shared = try #require(IPAddress("10.0.0.5"))
        #expect(directory.endpoints(withIP: shared).map { "\($0.service.namespace)/\($0.service.name)/\($0.address.hostname)" }
                == ["a/beta/b1", "a/beta/b2", "b/alpha/a1", "b/zeta/z1"])
        let other = try #require(IPAddress("10.0.0.6"))
        #expect(directory.endpoints(withIP: other).map { "\($0.service.namespace)/\($0.service.name)" }
                == ["a/beta", "a/beta", "b/alpha", "b/zeta"])
        #expect(directory.endpoints(withIP: try #require(IPAddress("10.0.0.7"))).isEmpty)
    }
}
