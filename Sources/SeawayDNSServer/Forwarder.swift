import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SeawayDNS

/// Sends questions outside the cluster zones to one upstream server: UDP first, TCP when the
/// answer comes back truncated (CoreDNS's `forward`), with a small positive/negative cache
/// (CoreDNS's `cache`: TTLs clamped, served with the time already spent taken off).
public final class Forwarder: Sendable {
    public struct Settings: Sendable {
        public var upstream: SocketAddress
        public var timeout: TimeAmount = .seconds(2)
        /// Entries kept for answers and for NXDOMAIN/NODATA; 0 turns the cache off.
        public var cacheCapacity = 9984
        /// Longest time an answer / a denial is kept (CoreDNS: 3600 s and 1800 s; `cache N`
        /// sets both).
        public var maxSuccessTTL: UInt32 = 3600
        public var maxDenialTTL: UInt32 = 1800
        public var minTTL: UInt32 = 5

        public init(upstream: SocketAddress) { self.upstream = upstream }
    }

    public struct UpstreamError: Error, CustomStringConvertible {
        public var description: String
    }

    let settings: Settings
    private let cache: NIOLockedValueBox<ForwardCache>

    public init(_ settings: Settings) {
        self.settings = settings
        cache = NIOLockedValueBox(ForwardCache(capacity: settings.cacheCapacity))
    }

    /// Whether the last `resolve` was served from the cache, for metrics.
    public enum Source: Sendable { case cache, upstream }

    /// The upstream's reply to `request`, with `request`'s ID.
    public func resolve(_ request: DNSMessage, on loop: any EventLoop) -> EventLoopFuture<(DNSMessage, Source)> {
        let question = request.questions[0]
        let key = ForwardCache.Key(question, dnssecOK: request.edns?.dnssecOK ?? false, checkingDisabled: request.checkingDisabled)
        let now = NIODeadline.now()
        if var hit = cache.withLockedValue({ $0.lookup(key, now: now) }) {
            hit.id = request.id
            return loop.makeSucceededFuture((hit, .cache))
        }
        var query = request
        query.id = UInt16.random(in: .min ... .max)
        let upstreamQuery = query
        return exchangeUDP(upstreamQuery, on: loop)
            .flatMap { reply in reply.truncated ? self.exchangeTCP(upstreamQuery, on: loop) : loop.makeSucceededFuture(reply) }
            .map { reply in
                var reply = reply
                reply.id = request.id
                if reply.rcode == .noError || reply.rcode == .nameError {
                    self.cache.withLockedValue { $0.store(reply, key: key, settings: self.settings, now: now) }
                }
                return (reply, .upstream)
            }
    }

    private func exchangeUDP(_ query: DNSMessage, on loop: any EventLoop) -> EventLoopFuture<DNSMessage> {
        let promise = loop.makePromise(of: DNSMessage.self)
        let upstream = settings.upstream
        let bind = upstream.protocol == .inet6 ? "::" : "0.0.0.0"
        DatagramBootstrap(group: loop)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(UpstreamUDPHandler(query: query, upstream: upstream, promise: promise)) }
            }
            .bind(host: bind, port: 0)
            .whenComplete { result in
                self.exchange(over: result, promise: promise, on: loop) { channel in
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: upstream, data: ByteBuffer(bytes: query.bytes())), promise: nil)
                }
            }
        return promise.futureResult
    }

    /// Sends the query once the channel is up, fails the promise after the timeout, and closes
    /// the channel whatever happens.
    private func exchange(over result: Result<any Channel, any Error>, promise: EventLoopPromise<DNSMessage>,
                          on loop: any EventLoop, send: (any Channel) -> Void) {
        switch result {
        case let .success(channel):
            send(channel)
            let upstream = settings.upstream, timeout = settings.timeout
            let timer = loop.scheduleTask(in: timeout) {
                promise.fail(UpstreamError(description: "no answer from \(upstream) within \(timeout)"))
            }
            promise.futureResult.whenComplete { _ in
                timer.cancel()
                channel.close(promise: nil)
            }
        case let .failure(error):
            promise.fail(error)
        }
    }

    private func exchangeTCP(_ query: DNSMessage, on loop: any EventLoop) -> EventLoopFuture<DNSMessage> {
        let promise = loop.makePromise(of: DNSMessage.self)
        ClientBootstrap(group: loop)
            .connectTimeout(settings.timeout)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(UpstreamTCPHandler(id: query.id, promise: promise))
                }
            }
            .connect(to: settings.upstream)
            .whenComplete { result in
                self.exchange(over: result, promise: promise, on: loop) { channel in
                    var frame = ByteBuffer()
                    frame.writeDNSFrame(query)
                    channel.writeAndFlush(frame, promise: nil)
                }
            }
        return promise.futureResult
    }
}

/// Waits for the reply with the query's ID from the upstream's address; anything else is
/// ignored (spoofed or stale datagrams).
private final class UpstreamUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let query: DNSMessage
    let upstream: SocketAddress
    let promise: EventLoopPromise<DNSMessage>

    init(query: DNSMessage, upstream: SocketAddress, promise: EventLoopPromise<DNSMessage>) {
        self.query = query
        self.upstream = upstream
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == upstream, let reply = try? DNSMessage(parsing: envelope.data),
              reply.id == query.id, reply.isResponse, reply.questions == query.questions else { return }
        promise.succeed(reply)
    }
}

private final class UpstreamTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let id: UInt16
    let promise: EventLoopPromise<DNSMessage>

    init(id: UInt16, promise: EventLoopPromise<DNSMessage>) {
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let reply = try? DNSMessage(parsing: unwrapInboundIn(data)), reply.id == id else { return }
        promise.succeed(reply)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(Forwarder.UpstreamError(description: "upstream closed the TCP connection"))
    }
}

/// Forwarded answers by question, kept for their TTL (clamped), served with ages taken off.
struct ForwardCache {
    struct Key: Hashable {
        var name: DNSName
        var type: DNSType
        var dnsClass: UInt16
        var dnssecOK: Bool
        var checkingDisabled: Bool

        init(_ q: DNSQuestion, dnssecOK: Bool, checkingDisabled: Bool) {
            name = q.name
            type = q.type
            dnsClass = q.dnsClass
            self.dnssecOK = dnssecOK
            self.checkingDisabled = checkingDisabled
        }
    }

    struct Entry {
        var reply: DNSMessage
        var stored: NIODeadline
        var ttl: UInt32
        var denial: Bool
    }

    let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var denials = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func lookup(_ key: Key, now: NIODeadline) -> DNSMessage? {
        guard let e = entries[key] else { return nil }
        let age = UInt32(max(0, (now - e.stored).nanoseconds / 1_000_000_000))
        guard age < e.ttl else {
            remove(key)
            return nil
        }
        var reply = e.reply
        func aged(_ records: [DNSRecord]) -> [DNSRecord] {
            records.map { var r = $0; r.ttl = r.ttl > age ? r.ttl - age : 0; return r }
        }
        reply.answers = aged(reply.answers)
        reply.authority = aged(reply.authority)
        reply.additional = aged(reply.additional)
        return reply
    }

    mutating func store(_ reply: DNSMessage, key: Key, settings: Forwarder.Settings, now: NIODeadline) {
        guard capacity > 0 else { return }
        let denial = reply.rcode == .nameError || reply.answers.isEmpty
        // A denial lives as long as its SOA says (RFC 2308); an answer as its shortest TTL.
        let ttls = denial ? reply.authority.filter { $0.type == .soa }.map { r -> UInt32 in
            if case let .soa(s) = r.data { return min(r.ttl, s.minimum) }
            return r.ttl
        } : reply.answers.map(\.ttl)
        let ttl = min(max(ttls.min() ?? settings.minTTL, settings.minTTL), denial ? settings.maxDenialTTL : settings.maxSuccessTTL)
        if entries.count >= capacity, entries[key] == nil, let victim = entries.keys.first { remove(victim) }
        entries[key] = Entry(reply: reply, stored: now, ttl: ttl, denial: denial)
    }

    private mutating func remove(_ key: Key) { entries[key] = nil }
}
