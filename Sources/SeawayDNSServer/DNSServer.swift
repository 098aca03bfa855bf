#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import SeawayHTTP
import NIOPosix
import SeawayDNS

/// The cluster DNS server: UDP on one socket per core (SO_REUSEPORT, so the kernel spreads
/// clients over both), TCP with length framing, optional HTTP endpoints. Answers come from
/// the `ZoneStore`, which the caller loads and reloads.
public final class DNSServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// HTTP listeners for /health, /ready and /metrics.
        public var httpListeners: [(host: String, port: Int)] = []
        public var forwarder: Forwarder.Settings?
        public var logQueries = false
        public var threads = System.coreCount

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public let store: ZoneStore
    public let metrics: DNSMetrics
    let group: MultiThreadedEventLoopGroup
    let channels: [any Channel]
    /// The port UDP and TCP listen on (the one asked for, or the one the kernel chose for 0).
    public let port: Int
    public let httpPorts: [Int]

    public static func start(_ config: Configuration, store: ZoneStore, logger: Logger) throws -> DNSServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, config.threads))
        let metrics = DNSMetrics(server: "dns://\(config.host):\(config.port)")
        let forwarder = config.forwarder.map(Forwarder.init)
        @Sendable func processor(_ transport: QueryProcessor.Transport) -> QueryProcessor {
            QueryProcessor(store: store, forwarder: forwarder, transport: transport, metrics: metrics,
                           logger: logger, logQueries: config.logQueries)
        }
        var channels: [any Channel] = []
        do {
            // The first socket fixes the port (the kernel's choice when 0 was asked for).
            var port = config.port
            for loop in group.makeIterator() {
                let udp = try DatagramBootstrap(group: loop)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(.socket(SocketOptionLevel(SOL_SOCKET), SocketOptionName(SO_REUSEPORT)), value: 1)
                    .channelOption(.datagramVectorReadMessageCount, value: 32)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
                    // Replies go out after each vector read, so a burst does not wait for
                    // the next one.
                    .channelOption(.maxMessagesPerRead, value: 1)
                    .channelInitializer { ch in
                        ch.eventLoop.makeCompletedFuture {
                            DNSServer.enlargeSocketBuffers(ch)
                            try ch.pipeline.syncOperations.addHandler(UDPQueryHandler(processor(.udp)))
                        }
                    }
                    .bind(host: config.host, port: port).wait()
                port = udp.localAddress?.port ?? port
                channels.append(udp)
            }
            let tcp = try ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                        try ch.pipeline.syncOperations.addHandler(TCPQueryHandler(processor(.tcp)))
                    }
                }
                .bind(host: config.host, port: port).wait()
            channels.append(tcp)
            var httpPorts: [Int] = []
            for listener in config.httpListeners {
                let http = try HTTPEndpointsHandler.listen(host: listener.host, port: listener.port, group: group) { path in
                    switch path {
                    case "/health": .text("OK")
                    case "/ready": store.isLoaded ? .text("OK") : .text("cluster state not loaded\n", .serviceUnavailable)
                    case "/metrics": .metrics(metrics.exposition())
                    default: nil
                    }
                }
                httpPorts.append(http.localAddress?.port ?? listener.port)
                channels.append(http)
            }
            return DNSServer(store: store, metrics: metrics, group: group, channels: channels, port: port, httpPorts: httpPorts)
        } catch {
            for c in channels { try? c.close().wait() }
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    private init(store: ZoneStore, metrics: DNSMetrics, group: MultiThreadedEventLoopGroup, channels: [any Channel],
                 port: Int, httpPorts: [Int]) {
        self.store = store
        self.metrics = metrics
        self.group = group
        self.channels = channels
        self.port = port
        self.httpPorts = httpPorts
    }

    /// Blocks until the sockets close (after `shutdown`).
    public func wait() throws {
        for c in channels { try c.closeFuture.wait() }
    }

    public func shutdown() throws {
        for c in channels { try? c.close().wait() }
        try group.syncShutdownGracefully()
    }
}

extension DNSServer {
    /// Socket buffers for bursts: the kernel drops datagrams that find the receive buffer
    /// full (the default is about 200 KB, some 2,000 queries). As root the limit
    /// `net.core.rmem_max` does not apply (SO_RCVBUFFORCE), as NSD does it; otherwise the
    /// kernel caps the request at that limit.
    static let socketBufferSize: SocketOptionValue = 8 << 20

    static func enlargeSocketBuffers(_ channel: any Channel) {
        guard let options = channel.syncOptions else { return }
        for (force, plain) in [(SO_RCVBUFFORCE, SO_RCVBUF), (SO_SNDBUFFORCE, SO_SNDBUF)] {
            let level = SocketOptionLevel(SOL_SOCKET)
            if (try? options.setOption(.socket(level, SocketOptionName(force)), value: socketBufferSize)) == nil {
                _ = try? options.setOption(.socket(level, SocketOptionName(plain)), value: socketBufferSize)
            }
        }
    }
}
