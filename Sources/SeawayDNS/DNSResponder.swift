import NIOCore

/// What to do with one incoming packet.
public enum DNSDecision: Sendable {
    /// Not worth an answer (too short for a header, or itself a response).
    case drop
    /// Send this reply.
    case reply(DNSMessage)
    /// Outside the cluster zones: the upstream answers `request`.
    case forward(DNSMessage)
    /// A reply that still needs the upstream's records for these questions appended to its
    /// answers (CNAMEs of ExternalName services that leave the zone).
    case chase(DNSMessage, [DNSQuestion])
}

/// Turns request bytes into a decision: the checks CoreDNS's server (miekg/dns) makes before
/// any plugin sees a message, then the cluster zones. Pure; the server does the I/O.
public struct DNSResponder: Sendable {
    public let zone: KubernetesZone
    /// This responder's own replies to everyday questions, written when it is made.
    private var precompiled = PrecompiledAnswers.empty

    /// Precompiles the replies for every name the zone holds (about a second per 100,000
    /// names), so make it off the serving threads.
    public init(zone: KubernetesZone) {
        self.zone = zone
        precompiled = PrecompiledAnswers(responder: self)
    }

    /// The reply to an everyday query (see `PlainQuery`) from the precompiled answers,
    /// byte for byte what `decide` would give; nil when `decide` must answer. `maxSize` is
    /// the transport's limit; nil for UDP's (512, or the query's EDNS size).
    public func precompiledReply(to packet: ByteBuffer, maxSize: Int? = nil) -> (reply: ByteBuffer, type: DNSType, rcode: DNSResponseCode)? {
        packet.withUnsafeReadableBytes { bytes in
            guard let (query, found, size) = precompiledAnswer(bytes, maxSize: maxSize) else { return nil }
            var out = ByteBufferAllocator().buffer(capacity: size)
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { space in
                PrecompiledAnswers.write(found, for: query, from: bytes, into: space)
                return size
            }
            return (out, DNSType(rawValue: query.type), DNSResponseCode(rawValue: UInt16(found.rcode)))
        }
    }

    /// The same reply for the datagram in `packet`, written at the start of `out` without
    /// allocating; nil when `decide` must answer or the reply does not fit in `out`.
    public func precompiledReply(to packet: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                                 maxSize: Int? = nil) -> (length: Int, type: DNSType, rcode: DNSResponseCode)? {
        guard let (query, found, size) = precompiledAnswer(packet, maxSize: maxSize), size <= out.count else { return nil }
        PrecompiledAnswers.write(found, for: query, from: packet, into: out)
        return (size, DNSType(rawValue: query.type), DNSResponseCode(rawValue: UInt16(found.rcode)))
    }

    private func precompiledAnswer(_ packet: UnsafeRawBufferPointer, maxSize: Int?)
        -> (PlainQuery, PrecompiledAnswers.Found, size: Int)? {
        guard let query = PlainQuery(packet), let found = precompiled.find(query, in: packet) else { return nil }
        let size = PrecompiledAnswers.size(of: found, for: query)
        guard size <= maxSize ?? query.udpLimit else { return nil }
        return (query, found, size)
    }

    public func decide(_ packet: ByteBuffer) -> DNSDecision {
        guard let header = DNSHeader(packet), !header.isResponse else { return .drop }
        // Only standard queries with one question; a query carries at most one record in the
        // answer and authority sections (NOTIFY, IXFR) and two additional (OPT, TSIG).
        guard header.opcode == DNSMessage.opcodeQuery else { return .reply(DNSResponder.headerOnly(header, .notImplemented)) }
        guard header.questionCount == 1, header.answerCount <= 1, header.authorityCount <= 1, header.additionalCount <= 2 else {
            return .reply(DNSResponder.headerOnly(header, .formatError))
        }
        guard let request = try? DNSMessage(parsing: packet) else { return .reply(DNSResponder.headerOnly(header, .formatError)) }
        return decide(request)
    }

    public func decide(_ request: DNSMessage) -> DNSDecision {
        if let edns = request.edns, edns.version > 0 {
            // RFC 6891: we speak version 0 only.
            var reply = DNSMessage.reply(to: request, rcode: .badVersion)
            reply.questions = []
            reply.edns = EDNS(udpPayloadSize: DNSMessage.ourUDPPayloadSize)
            return .reply(reply)
        }
        let question = request.questions[0]
        guard question.dnsClass == DNSClass.internet else { return .reply(DNSMessage.reply(to: request, rcode: .refused)) }
        switch zone.answer(question) {
        case .next:
            return .forward(request)
        case let .answer(a):
            var reply = DNSMessage.reply(to: request, rcode: a.rcode)
            reply.authoritative = true
            reply.answers = a.answers
            reply.authority = a.authority
            reply.additional = a.additional
            return a.chase.isEmpty ? .reply(reply) : .chase(reply, a.chase)
        }
    }

    /// FORMERR / NOTIMP replies carry the header only, as miekg/dns writes them.
    static func headerOnly(_ header: DNSHeader, _ rcode: DNSResponseCode) -> DNSMessage {
        DNSMessage(id: header.id, isResponse: true, opcode: rcode == .notImplemented ? header.opcode : DNSMessage.opcodeQuery,
                   recursionDesired: header.recursionDesired, rcode: rcode)
    }
}
