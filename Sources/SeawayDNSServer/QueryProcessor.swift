import Logging
import NIOCore
import SeawayDNS

/// One socket's path from request bytes to reply bytes: the answer cache, the zone through the
/// responder, the upstream for everything else, and the metrics on the way.
struct QueryProcessor {
    enum Transport: String { case udp, tcp }

    enum Outcome {
        case none
        case now(ByteBuffer)
        case later(EventLoopFuture<ByteBuffer>)
    }

    let store: ZoneStore
    let forwarder: Forwarder?
    let transport: Transport
    let logger: Logger
    let logQueries: Bool
    var cache = AnswerCache()
    var metrics: MetricsRecorder
    /// The zone this socket answers from until the store has a newer one.
    private var zone: ZoneStore.Snapshot

    init(store: ZoneStore, forwarder: Forwarder?, transport: Transport, metrics: DNSMetrics, logger: Logger, logQueries: Bool) {
        self.store = store
        self.forwarder = forwarder
        self.transport = transport
        self.metrics = MetricsRecorder(metrics, proto: transport.rawValue)
        self.logger = logger
        self.logQueries = logQueries
        zone = store.current
    }

    /// The precompiled reply to the UDP datagram `packet`, written into `out`: its length, or
    /// nil when `process` must answer.
    mutating func precompiledReply(to packet: UnsafeRawBufferPointer, fromIPv6 ipv6: Bool,
                                   into out: UnsafeMutableRawBufferPointer) -> Int? {
        // With the query log on, every query takes `process`, which logs what it answered.
        guard !logQueries else { return nil }
        let started = NIODeadline.now()
        if store.generation != zone.generation { zone = store.current }
        guard let (length, type, rcode) = zone.precompiledReply(to: packet, into: out) else { return nil }
        recordPrecompiled(ipv6: ipv6, type: type, rcode: rcode, started: started)
        return length
    }

    private mutating func recordPrecompiled(ipv6: Bool, type: DNSType, rcode: DNSResponseCode, started: NIODeadline) {
        metrics.request(ipv6: ipv6, type: type)
        metrics.response(rcode: rcode, plugin: "kubernetes", type: type, elapsed: .nanoseconds((NIODeadline.now() - started).nanoseconds))
    }

    /// The reply to `packet` from `peer`, now or later. UDP replies are cut to the client's size.
    mutating func process(_ packet: ByteBuffer, from peer: SocketAddress, on loop: any EventLoop) -> Outcome {
        let started = NIODeadline.now()
        let ipv6 = peer.protocol == .inet6
        if store.generation != zone.generation { zone = store.current }
        if !logQueries, let (reply, type, rcode) = zone.responder.precompiledReply(to: packet, maxSize: transport == .udp ? nil : 65535) {
            recordPrecompiled(ipv6: ipv6, type: type, rcode: rcode, started: started)
            return .now(reply)
        }
        if !logQueries, let cached = cache.answer(for: packet, generation: zone.generation) {
            let type = QueryProcessor.questionType(packet)
            metrics.request(ipv6: ipv6, type: type)
            let rcode = DNSResponseCode(rawValue: UInt16(cached.getInteger(at: cached.readerIndex + 3, as: UInt8.self)! & 0xF))
            metrics.cache(hit: true, denial: rcode == .nameError)
            metrics.response(rcode: rcode, plugin: "kubernetes", type: type, elapsed: .nanoseconds((NIODeadline.now() - started).nanoseconds))
            return .now(cached)
        }
        switch zone.responder.decide(packet) {
        case .drop:
            return .none
        case let .reply(reply):
            let type = reply.questions.first?.type ?? DNSType(rawValue: 0)
            metrics.request(ipv6: ipv6, type: type)
            metrics.cache(hit: false, denial: false)
            let bytes = write(reply, limitFor: reply)
            // Only whole, well-formed questions are worth keeping.
            if !reply.questions.isEmpty { cache.store(bytes, for: packet, generation: zone.generation) }
            finish(reply, plugin: reply.authoritative ? "kubernetes" : "", started: started, peer: peer)
            return .now(bytes)
        case let .forward(request):
            let type = request.questions[0].type
            metrics.request(ipv6: ipv6, type: type)
            guard let forwarder else {
                // Nothing after the kubernetes zones: CoreDNS's end of the plugin chain.
                let reply = DNSMessage.reply(to: request, rcode: .serverFailure)
                finish(reply, plugin: "", started: started, peer: peer)
                return .now(write(reply, limitFor: request))
            }
            return .later(forwardAndWrite(request, forwarder: forwarder, started: started, on: loop))
        case let .chase(reply, questions):
            metrics.request(ipv6: ipv6, type: reply.questions[0].type)
            guard let forwarder else {
                finish(reply, plugin: "kubernetes", started: started, peer: peer)
                return .now(write(reply, limitFor: reply))
            }
            return .later(chaseAndWrite(reply, questions, forwarder: forwarder, started: started, on: loop))
        }
    }

    private func write(_ reply: DNSMessage, limitFor request: DNSMessage) -> ByteBuffer {
        var out = ByteBuffer()
        reply.write(into: &out, maxSize: transport == .udp ? request.udpResponseLimit : 65535)
        return out
    }

    private mutating func finish(_ reply: DNSMessage, plugin: String, started: NIODeadline, peer: SocketAddress) {
        let type = reply.questions.first?.type ?? DNSType(rawValue: 0)
        metrics.response(rcode: reply.rcode, plugin: plugin, type: type, elapsed: .nanoseconds((NIODeadline.now() - started).nanoseconds))
        if logQueries, let q = reply.questions.first {
            // CoreDNS's `log` plugin line, roughly: client, id, type, class, name, proto, rcode, flags.
            logger.info("\(peer) - \(reply.id) \"\(q.type) IN \(q.name) \(transport.rawValue)\" \(reply.rcode) aa=\(reply.authoritative) answers=\(reply.answers.count)")
        }
    }

    private func forwardAndWrite(_ request: DNSMessage, forwarder: Forwarder, started: NIODeadline,
                               on loop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        let metrics = self.metrics.metrics
        let this = self
        return forwarder.resolve(request, on: loop).map { reply, source in
            metrics.recordCache(hit: source == .cache, denial: reply.rcode == .nameError)
            metrics.recordResponse(rcode: reply.rcode, plugin: "forward", type: request.questions[0].type,
                             elapsed: .nanoseconds((NIODeadline.now() - started).nanoseconds))
            return this.write(reply, limitFor: request)
        }.flatMapErrorThrowing { error in
            this.logger.error("forward \(request.questions[0].name) \(request.questions[0].type): \(error)")
            let reply = DNSMessage.reply(to: request, rcode: .serverFailure)
            metrics.recordResponse(rcode: .serverFailure, plugin: "forward", type: request.questions[0].type,
                             elapsed: .nanoseconds((NIODeadline.now() - started).nanoseconds))
            return this.write(reply, limitFor: request)
        }
    }

    private func chaseAndWrite(_ reply: DNSMessage, _ questions: [DNSQuestion], forwarder: Forwarder, started: NIODeadline,
                               on loop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        let lookups = questions.map { q in
            forwarder.resolve(DNSMessage.query(id: 0, name: q.name, type: q.type, edns: reply.edns.map { _ in EDNS() }), on: loop)
                .map { Optional($0.0.answers) }.recover { _ in nil }
        }
        let this = self
        let metrics = self.metrics.metrics
        return EventLoopFuture.whenAllSucceed(lookups, on: loop).map { results in
            var full = reply
            for answers in results { full.answers += answers ?? [] }
            metrics.recordResponse(rcode: full.rcode, plugin: "kubernetes", type: reply.questions[0].type,
                             elapsed: .nanoseconds((NIODeadline.now() - started).nanoseconds))
            return this.write(full, limitFor: reply)
        }
    }

    /// The question's type, read past its name without parsing the message (cache hits).
    static func questionType(_ packet: ByteBuffer) -> DNSType {
        var at = packet.readerIndex + DNSHeader.size
        while let len: UInt8 = packet.getInteger(at: at), len != 0 {
            if len & 0xC0 != 0 { at += 1; break }
            at += 1 + Int(len)
        }
        return DNSType(rawValue: packet.getInteger(at: at + 1) ?? 0)
    }
}
