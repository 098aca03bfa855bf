import NIOCore
import SeawayDNS
import SeawayModel
import Testing

/// What the server does with a packet before and after the zone: header checks as CoreDNS's
/// DNS library makes them, EDNS, and thousands of random and mutated packets.
struct ResponderTests {
    let responder = DNSResponder(zone: DNSFixture.zone())

    func decide(_ bytes: [UInt8]) -> DNSDecision { responder.decide(ByteBuffer(bytes: bytes)) }

    func reply(_ bytes: [UInt8]) throws -> DNSMessage {
        guard case let .reply(m) = decide(bytes) else { Issue.record("expected a reply"); throw CancellationError() }
        return m
    }

    @Test func answersAQueryAuthoritatively() throws {
        let q = DNSMessage.query(id: 77, name: DNSName("web.apps.svc.cluster.local.")!, type: .a, edns: EDNS(udpPayloadSize: 1400, dnssecOK: true))
        let r = try reply(q.bytes())
        #expect(r.id == 77 && r.isResponse && r.authoritative && r.recursionDesired && !r.recursionAvailable)
        #expect(r.questions == q.questions)
        #expect(r.answers.count == 1)
        #expect(r.edns == EDNS(udpPayloadSize: 1400, dnssecOK: true))
    }

    @Test func headerChecks() throws {
        // Too short for a header, or a response: silence.
        guard case .drop = decide([1, 2, 3]) else { Issue.record("short packet answered"); return }
        var response = DNSMessage.query(id: 1, name: DNSName("a.")!, type: .a)
        response.isResponse = true
        guard case .drop = decide(response.bytes()) else { Issue.record("response answered"); return }
        // Not a QUERY: NOTIMP with the opcode; no or two questions: FORMERR. Header only.
        var notify = DNSMessage.query(id: 2, name: DNSName("a.")!, type: .a)
        notify.opcode = 5
        let notimp = try reply(notify.bytes())
        #expect(notimp.rcode == .notImplemented && notimp.opcode == 5 && notimp.questions.isEmpty && notimp.id == 2)
        var two = DNSMessage.query(id: 3, name: DNSName("a.")!, type: .a)
        two.questions.append(two.questions[0])
        #expect(try reply(two.bytes()).rcode == .formatError)
        #expect(try reply(DNSMessage(id: 4).bytes()).rcode == .formatError)
        // A body that does not parse: FORMERR, same id.
        let broken = Array(DNSMessage.query(id: 5, name: DNSName("web.apps.svc.cluster.local.")!, type: .a).bytes().dropLast(3))
        let formerr = try reply(broken)
        #expect(formerr.rcode == .formatError && formerr.id == 5 && formerr.isResponse)
    }

    @Test func ednsVersionAndClass() throws {
        let v1 = DNSMessage.query(id: 6, name: DNSName("web.apps.svc.cluster.local.")!, type: .a, edns: EDNS(version: 1))
        let bad = try DNSMessage(parsing: reply(v1.bytes()).bytes())
        #expect(bad.rcode == .badVersion && bad.edns?.version == 0)
        var chaos = DNSMessage.query(id: 7, name: DNSName("version.bind.")!, type: .txt)
        chaos.questions[0].dnsClass = 3
        #expect(try reply(chaos.bytes()).rcode == .refused)
    }

    @Test func outsideTheZoneIsForwardedAndExternalNamesAreChased() throws {
        guard case let .forward(q) = decide(DNSMessage.query(id: 8, name: DNSName("example.com.")!, type: .a).bytes()) else {
            Issue.record("not forwarded"); return
        }
        #expect(q.id == 8)
        guard case let .chase(r, questions) = decide(DNSMessage.query(id: 9, name: DNSName("search.apps.svc.cluster.local.")!, type: .aaaa).bytes()) else {
            Issue.record("not chased"); return
        }
        #expect(r.answers.map(\.type) == [.cname])
        #expect(questions == [DNSQuestion(name: DNSName("search.example.com.")!, type: .aaaa)])
    }

    /// Random bytes, and valid queries with bytes flipped, cut or spliced: every packet gets
    /// a decision, and every reply written parses back and fits the client's limit.
    @Test func fuzzedPacketsNeverCrash() throws {
        var rng = SplitMix64(seed: 0x5EA_3A7)
        let names = ["web.apps.svc.cluster.local.", "_postgres._tcp.db.apps.svc.cluster.local.", "1.0.96.10.in-addr.arpa.",
                     "kube-dns.kube-system.svc.cluster.local.", "example.com."]
        let types: [DNSType] = [.a, .aaaa, .srv, .ptr, .txt, .any, .ns, .soa]
        var replies = 0
        for i in 0..<4000 {
            var bytes: [UInt8]
            if i % 4 == 0 {
                bytes = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                let q = DNSMessage.query(id: UInt16(truncatingIfNeeded: i), name: DNSName(names[i % names.count])!,
                                         type: types[i % types.count], edns: i % 3 == 0 ? EDNS() : nil)
                bytes = q.bytes()
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let at = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: bytes.removeSubrange(at...)
                    default: bytes.insert(contentsOf: [0xC0, UInt8(truncatingIfNeeded: rng.next())], at: at)
                    }
                    if bytes.isEmpty { break }
                }
            }
            switch decide(bytes) {
            case let .reply(m), let .chase(m, _):
                let limit = 512
                let out = m.bytes(maxSize: limit)
                #expect(out.count <= limit)
                let back = try DNSMessage(parsing: out)
                #expect(back.id == m.id && back.isResponse)
                replies += 1
            case .drop, .forward:
                break
            }
        }
        #expect(replies > 1000)
    }
}

/// A small deterministic generator, so a failing packet can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
