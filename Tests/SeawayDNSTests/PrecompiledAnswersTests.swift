import NIOCore
import SeawayDNS
import SeawayModel
import Testing

/// The precompiled answers are the full path's answers: for every name the zone holds,
/// names near them that do not exist, odd spellings and shapes, every type, with and
/// without EDNS, under several zone configurations, a precompiled reply (when there is one)
/// is byte for byte the reply `decide` writes.
struct PrecompiledAnswersTests {
    static let configurations: [(String, @Sendable (inout KubernetesDNSOptions) -> Void)] = [
        ("defaults", { _ in }),
        ("server addresses", { $0.localIPs = [IPAddress("10.244.1.2")!] }),
        ("pods verified", { $0.pods = .verified }),
        ("pods insecure", { $0.pods = .insecure }),
        ("some namespaces", { $0.namespaces = ["apps"] }),
        ("ignore empty services", { $0.ignoreEmptyService = true }),
        ("fallthrough", { $0.fallthroughZones = [] }),
        ("nested zones", { $0.zones = ["cluster.local.", "svc.cluster.local.", "in-addr.arpa."].map { DNSName($0)! } }),
        ("ttl 30", { $0.ttl = 30 }),
    ]

    /// Names the zone holds (from its zone files), and names around them.
    static func names(_ zone: KubernetesZone) -> [String] {
        var names: Set<String> = []
        for origin in zone.options.zones {
            for line in ZoneFile.text(of: zone, origin: origin).split(separator: "\n") where !line.hasPrefix(";") && !line.hasPrefix("$") {
                names.insert(String(line.split(separator: "\t")[0]))
            }
        }
        let services = ["web.apps", "db.apps", "cache.apps", "big.apps", "empty.apps", "mirror.apps", "alias.apps",
                        "kubernetes.default", "kube-dns.kube-system", "nothing.apps", "web.nowhere"]
        for s in services {
            for suffix in ["svc.cluster.local.", "apps.svc.cluster.local.", "default.svc.cluster.local.", "cluster.local.", "pod.cluster.local."] {
                names.insert("\(s).\(suffix)")
            }
            for prefix in ["_http._tcp", "_._tcp", "_http._", "http.tcp", "_nope._tcp", "_http._udp", "_postgres._tcp",
                           "db-0", "zz", "10-244-1-10", "a.b", "_dns._udp", "x.y.z"] {
                names.insert("\(prefix).\(s).svc.cluster.local.")
            }
        }
        names.formUnion([
            "cluster.local.", "svc.cluster.local.", "pod.cluster.local.", "apps.svc.cluster.local.", "nowhere.svc.cluster.local.",
            "x.cluster.local.", "ns.dns.cluster.local.", "dns-version.cluster.local.", "a.b.c.d.e.f.svc.cluster.local.",
            "10-244-1-5.apps.pod.cluster.local.", "10-244-9-9.apps.pod.cluster.local.", "example.com.", ".",
            "1.0.96.10.in-addr.arpa.", "9.9.9.9.in-addr.arpa.", "96.10.in-addr.arpa.", "in-addr.arpa.",
            "Web.Apps.svc.cluster.local.", "WEB.apps.svc.cluster.local.", "Nothing.apps.svc.cluster.local.",
            "web.apps.svc.cluster.local.x.", "svc.svc.svc.cluster.local.", "pod.svc.cluster.local.",
        ])
        return names.sorted()
    }

    static let types: [DNSType] = [.a, .aaaa, .srv, .ptr, .txt, .cname, .ns, .soa, DNSType(rawValue: 15), .any]
    /// No EDNS; 512 bytes with DO (big answers truncate); a size below 512 (512 applies).
    static let ednsVariants: [EDNS?] = [nil, EDNS(udpPayloadSize: 512, dnssecOK: true), EDNS(udpPayloadSize: 100)]

    /// The full path's reply bytes, as the server writes them.
    static func fullReply(_ responder: DNSResponder, _ packet: ByteBuffer, tcp: Bool) -> [UInt8]? {
        guard case let .reply(m) = responder.decide(packet), let request = try? DNSMessage(parsing: packet) else { return nil }
        var out = ByteBuffer()
        m.write(into: &out, maxSize: tcp ? 65535 : request.udpResponseLimit)
        return Array(out.readableBytesView)
    }

    /// The reply the UDP server's path writes into `space` bytes of its own.
    static func rawReply(_ responder: DNSResponder, _ packet: ByteBuffer, space: Int) -> [UInt8]? {
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: max(space, 0), alignment: 1)
        defer { out.deallocate() }
        return packet.withUnsafeReadableBytes { bytes in
            guard let (length, _, _) = responder.precompiledReply(to: bytes, into: out) else { return nil }
            return Array(out[..<length])
        }
    }

    @Test(arguments: configurations.indices)
    func sameBytesAsTheFullPath(_ index: Int) throws {
        let (label, configure) = Self.configurations[index]
        let zone = DNSFixture.zone(configure)
        let responder = DNSResponder(zone: zone)
        var asked = 0, precompiled = 0, nameErrors = 0
        for name in Self.names(zone) {
            guard let dnsName = DNSName(name) else { continue }
            for type in Self.types {
                for edns in Self.ednsVariants {
                    var query = DNSMessage.query(id: UInt16(truncatingIfNeeded: asked), name: dnsName, type: type, edns: edns)
                    query.recursionDesired = asked % 3 != 0
                    query.checkingDisabled = asked % 5 == 0
                    let packet = ByteBuffer(bytes: query.bytes())
                    asked += 1
                    for tcp in [false, true] {
                        guard let fast = responder.precompiledReply(to: packet, maxSize: tcp ? 65535 : nil) else { continue }
                        let full = Self.fullReply(responder, packet, tcp: tcp)
                        #expect(Array(fast.reply.readableBytesView) == full, "\(label): \(name) \(type) edns \(String(describing: edns)) tcp \(tcp)")
                        #expect(fast.type == type)
                        if !tcp {
                            precompiled += 1
                            if fast.rcode == .nameError { nameErrors += 1 }
                            #expect(Self.rawReply(responder, packet, space: 4096) == Array(fast.reply.readableBytesView),
                                    "\(label): \(name) \(type): the datagram path writes the same reply")
                            #expect(Self.rawReply(responder, packet, space: fast.reply.readableBytes - 1) == nil,
                                    "\(label): \(name) \(type): a reply that does not fit is left to the full path")
                        }
                    }
                }
            }
        }
        // The table must carry the everyday questions, or this test proves nothing.
        if zone.options.fallthroughZones == nil {
            #expect(precompiled > asked / 8, "\(label): only \(precompiled) of \(asked) precompiled")
            #expect(nameErrors > 100, "\(label): only \(nameErrors) NXDOMAIN precompiled")
        } else {
            #expect(precompiled > asked / 20, "\(label): only \(precompiled) of \(asked) precompiled")
            #expect(nameErrors == 0, "\(label): NXDOMAIN in a fallthrough zone belongs to the upstream")
        }
    }

    @Test func unusualQueriesGoToTheFullPath() throws {
        let responder = DNSResponder(zone: DNSFixture.zone())
        func fast(_ message: DNSMessage) -> Bool { responder.precompiledReply(to: ByteBuffer(bytes: message.bytes())) != nil }
        let plain = DNSMessage.query(id: 1, name: DNSName("web.apps.svc.cluster.local.")!, type: .a)
        #expect(fast(plain))
        var upper = plain
        upper.questions[0].name = DNSName("WEB.apps.svc.cluster.local.")!
        #expect(!fast(upper), "answers echo the question's case")
        var chaos = plain
        chaos.questions[0].dnsClass = 3
        #expect(!fast(chaos))
        var withOptions = plain
        withOptions.edns = EDNS(options: [.init(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])
        #expect(!fast(withOptions))
        var version1 = plain
        version1.edns = EDNS(version: 1)
        #expect(!fast(version1))
        var response = plain
        response.isResponse = true
        #expect(!fast(response))
        var trailing = plain.bytes()
        trailing.append(0)
        #expect(responder.precompiledReply(to: ByteBuffer(bytes: trailing)) == nil)
        // A reply bigger than the client's limit is truncated by the full path.
        let big = DNSMessage.query(id: 1, name: DNSName("big.apps.svc.cluster.local.")!, type: .a)
        #expect(!fast(big))
        #expect(responder.precompiledReply(to: ByteBuffer(bytes: big.bytes()), maxSize: 65535) != nil)
        // Before the cluster state loads, nothing is precompiled (the zone answers SERVFAIL).
        let unsynced = DNSResponder(zone: .unsynced(options: KubernetesDNSOptions()))
        #expect(unsynced.precompiledReply(to: ByteBuffer(bytes: plain.bytes())) == nil)
    }
}
