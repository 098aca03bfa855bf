import NIOCore
import SeawayDNS
import SeawayModel
import Testing

/// RFC 1035 messages: reading, writing, compression, EDNS0, truncation, and bad input.
struct WireFormatTests {
    static let name = DNSName("web.apps.svc.cluster.local.")!

    static var sample: DNSMessage {
        var m = DNSMessage(id: 0xBEEF, isResponse: true, authoritative: true, recursionDesired: true, rcode: .noError,
                           questions: [DNSQuestion(name: name, type: .srv)])
        m.answers = [
            DNSRecord(name: name, type: .srv, ttl: 5, data: .srv(priority: 0, weight: 100, port: 80, target: name)),
            DNSRecord.address(name, IPAddress("10.96.1.10")!, ttl: 5),
            DNSRecord.address(name, IPAddress("fd00:10:96::1:10")!, ttl: 5),
            DNSRecord(name: name, type: .cname, ttl: 5, data: .name(DNSName("search.example.com.")!)),
            DNSRecord(name: name, type: .txt, ttl: 28800, data: .txt([Array("1.1.0".utf8), []])),
            DNSRecord(name: DNSName("1.0.96.10.in-addr.arpa.")!, type: .ptr, ttl: 5, data: .name(name)),
            DNSRecord(name: name, type: DNSType(rawValue: 99), ttl: 1, data: .raw([1, 2, 3])),
        ]
        m.authority = [DNSRecord(name: DNSName("cluster.local.")!, type: .soa, ttl: 5, data: .soa(.init(
            mname: DNSName("ns.dns.cluster.local.")!, rname: DNSName("hostmaster.cluster.local.")!,
            serial: 42, refresh: 7200, retry: 1800, expire: 86400, minimum: 5)))]
        m.additional = [DNSRecord(name: DNSName("ns.dns.cluster.local.")!, type: .ns, ttl: 5, data: .name(name))]
        m.edns = EDNS(udpPayloadSize: 4096, dnssecOK: true, options: [.init(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])
        return m
    }

    @Test func messagesSurviveARoundTrip() throws {
        let m = Self.sample
        let parsed = try DNSMessage(parsing: m.bytes())
        #expect(parsed == m)
    }

    @Test func namesAreCompressedExceptSRVTargets() throws {
        let bytes = DNSMessage(id: 1, questions: [DNSQuestion(name: Self.name, type: .a)],
                               answers: [DNSRecord.address(Self.name, IPAddress("10.0.0.1")!, ttl: 5)]).bytes()
        // Header 12, question 28 + 4, answer: a 2-byte pointer to offset 12 + 10 + 4.
        #expect(bytes.count == 12 + 32 + 16)
        #expect(Array(bytes[44...45]) == [0xC0, 12])
        // The SRV target is written in full even though the name is known (RFC 2782).
        let srv = DNSMessage(id: 1, questions: [DNSQuestion(name: Self.name, type: .srv)],
                             answers: [DNSRecord(name: Self.name, type: .srv, ttl: 5, data: .srv(priority: 0, weight: 1, port: 80, target: Self.name))])
        #expect(srv.bytes().count == 12 + 32 + 2 + 10 + 6 + 28)
        // Compression is case-insensitive; each occurrence keeps its own spelling when read.
        let mixed = DNSMessage(id: 1, questions: [DNSQuestion(name: DNSName("WEB.apps.svc.cluster.local.")!, type: .a)],
                               answers: [DNSRecord.address(DNSName("x.Web.apps.svc.cluster.local.")!, IPAddress("10.0.0.1")!, ttl: 5)])
        #expect(try DNSMessage(parsing: mixed.bytes()).answers[0].name.description == "x.WEB.apps.svc.cluster.local.")
    }

    @Test func ednsFieldsAndExtendedRcode() throws {
        var m = DNSMessage(id: 7, isResponse: true, rcode: .badVersion, edns: EDNS(udpPayloadSize: 1232, version: 0))
        let parsed = try DNSMessage(parsing: m.bytes())
        #expect(parsed.rcode == .badVersion)
        #expect(parsed.edns?.udpPayloadSize == 1232)
        m.edns = nil
        #expect(m.udpResponseLimit == 512)
        #expect(DNSMessage(edns: EDNS(udpPayloadSize: 100)).udpResponseLimit == 512)
        #expect(DNSMessage(edns: EDNS(udpPayloadSize: 4096)).udpResponseLimit == 4096)
    }

    @Test func bigAnswersAreTruncatedAtTheLimitWithTC() throws {
        var m = DNSMessage(id: 9, isResponse: true, questions: [DNSQuestion(name: Self.name, type: .a)])
        m.answers = (1...100).map { DNSRecord.address(Self.name, IPAddress(v4: 0x0A00_0000 + UInt32($0)), ttl: 5) }
        m.additional = [DNSRecord.address(Self.name, IPAddress("10.9.9.9")!, ttl: 5)]
        m.edns = EDNS(udpPayloadSize: 512)
        let bytes = m.bytes(maxSize: 512)
        #expect(bytes.count <= 512)
        let parsed = try DNSMessage(parsing: bytes)
        #expect(parsed.truncated)
        #expect(parsed.answers.count == (512 - 12 - 32 - 11) / 16)
        #expect(parsed.answers == Array(m.answers.prefix(parsed.answers.count)))
        #expect(parsed.additional.isEmpty)
        #expect(parsed.edns != nil)
        // Over TCP everything fits and TC stays clear.
        let full = try DNSMessage(parsing: m.bytes())
        #expect(!full.truncated && full.answers.count == 100 && full.additional.count == 1)
    }

    @Test func malformedMessagesAreRejectedWithAReason() throws {
        func reason(_ bytes: [UInt8]) -> DNSWireError.Reason? {
            do { _ = try DNSMessage(parsing: bytes); return nil } catch { return error.reason }
        }
        let header: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        #expect(reason([0, 1, 0]) == .shortMessage)
        #expect(reason(header) == .shortMessage)
        // A pointer to itself, and one pointing forwards.
        #expect(reason(header + [0xC0, 12, 0, 1, 0, 1]) == .badPointer)
        #expect(reason(header + [0xC0, 20, 0, 1, 0, 1, 0, 0, 0, 0]) == .badPointer)
        // Two pointers chasing each other backwards cannot loop: the second must go lower.
        #expect(reason(header + [1, 0x61, 0xC0, 12, 0, 1, 0, 1]) == .badPointer)
        #expect(reason(header + [0x40, 0, 1, 0, 1]) == .badLabelType)
        #expect(reason(header + Array(repeating: [63] + [UInt8](repeating: 0x61, count: 63), count: 4).flatMap { $0 } + [0, 0, 1, 0, 1]) == .nameTooLong)
        // An A record with 3 bytes of data.
        var a = Array(DNSMessage(id: 1, answers: [DNSRecord.address(.root, IPAddress("1.2.3.4")!, ttl: 1)]).bytes())
        a[a.count - 5] = 3
        #expect(reason(Array(a.dropLast())) == .badRecordLength)
        // OPT outside the additional section.
        var opt = DNSMessage(id: 1, edns: EDNS()).bytes()
        opt[7] = 1; opt[11] = 0
        #expect(reason(opt) == .misplacedOPT)
    }

    @Test func namesParseAndPrintLikeDig() throws {
        #expect(DNSName("web.apps.svc.cluster.local")?.description == "web.apps.svc.cluster.local.")
        #expect(DNSName(".") == .root)
        #expect(DNSName("a..b") == nil)
        #expect(DNSName(String(repeating: "a", count: 64) + ".com") == nil)
        #expect(DNSName(#"a\.b.c"#)?.labels.count == 2)
        #expect(DNSName(#"a\.b.c"#)?.description == #"a\.b.c."#)
        #expect(DNSName(#"\001x.c"#)?.description == #"\001x.c."#)
        #expect(DNSName("Web.Cluster.Local") == DNSName("web.cluster.local"))
        #expect(DNSName("web.apps.svc.cluster.local")!.isSubdomain(of: DNSName("cluster.local")!))
        #expect(!DNSName("web.apps.svc.cluster.local")!.isSubdomain(of: DNSName("ster.local")!))
        #expect(DNSName("4.3.2.1.in-addr.arpa")?.reverseAddress == IPAddress("1.2.3.4"))
        #expect(DNSName(reverseOf: IPAddress("1.2.3.4")!).description == "4.3.2.1.in-addr.arpa.")
    }
}
