#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import SeawayHTTP
import NIOPosix
import SeawayDNS
import SeawayKernel

/// The cluster DNS server: UDP on one socket and thread per core (SO_REUSEPORT, so the
/// kernel spreads clients over them; see `UDPQueryLoop`), TCP with length framing and the
/// optional HTTP endpoints on NIO's event loops. Answers come from
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
        /// When not empty, UDP thread i runs on CPU `udpCPUs[i % count]` only (NSD's
        /// `cpu-affinity`); otherwise the scheduler places the threads.
        public var udpCPUs: [Int] = []

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public let store: ZoneStore
    public let metrics: DNSMetrics
    let group: MultiThreadedEventLoopGroup
    let channels: [any Channel]
    let udpSockets: [DatagramBatchSocket]
    /// One thread per UDP socket, each in its `UDPQueryLoop`.
    let udpThreads: NIOThreadPool
    /// The port UDP and TCP listen on (the one asked for, or the one the kernel chose for 0).
    public let port: Int
    public let httpPorts: [Int]

    public static func start(_ config: Configuration, store: ZoneStore, logger: Logger) throws -> DNSServer {
        try CPUAffinity.checkUsable(config.udpCPUs)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, config.threads))
        let metrics = DNSMetrics(server: "dns://\(config.host):\(config.port)")
        let forwarder = config.forwarder.map(Forwarder.init)
        @Sendable func processor(_ transport: QueryProcessor.Transport) -> QueryProcessor {
            QueryProcessor(store: store, forwarder: forwarder, transport: transport, metrics: metrics,
                           logger: logger, logQueries: config.logQueries)
        }
        var channels: [any Channel] = []
        var udpSockets: [DatagramBatchSocket] = []
        let udpThreads = NIOThreadPool(numberOfThreads: max(1, config.threads))
        do {
            let tcpBootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                .childChannelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                        try ch.pipeline.syncOperations.addHandler(TCPQueryHandler(processor(.tcp)))
                    }
                }
            let (tcp, sockets, port) = try bindListeners(config, tcp: tcpBootstrap)
            udpSockets = sockets
            channels.append(tcp)
            udpThreads.start()
            for (i, socket) in udpSockets.enumerated() {
                let upstreamLoop = group.next()
                let cpu = config.udpCPUs.isEmpty ? nil : config.udpCPUs[i % config.udpCPUs.count]
                udpThreads.submit { _ in
                    if let cpu {
                        do { try CPUAffinity.pinCurrentThread(to: cpu) } catch {
                            logger.warning("UDP thread \(i): \(error); it runs where the scheduler puts it")
                        }
                    }
                    UDPQueryLoop(socket: socket, processor: processor(.udp), upstreamLoop: upstreamLoop).run()
                }
            }
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
            return DNSServer(store: store, metrics: metrics, group: group, channels: channels, udpSockets: udpSockets,
                             udpThreads: udpThreads, port: port, httpPorts: httpPorts)
        } catch {
            for socket in udpSockets { socket.shutdown() }
            try? udpThreads.syncShutdownGracefully()
            for c in channels { try? c.close().wait() }
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// The TCP listener and one UDP socket per thread, all on one port. With port 0 the
    /// kernel picks it for TCP, where a free port matters most (a client's connection can
    /// hold any port), and UDP then takes the same; a port whose UDP side is taken is given
    /// back and another tried.
    private static func bindListeners(_ config: Configuration, tcp: ServerBootstrap) throws
        -> (tcp: any Channel, udp: [DatagramBatchSocket], port: Int) {
        var attempt = 0
        while true {
            attempt += 1
            let listener = try tcp.bind(host: config.host, port: config.port).wait()
            let port = listener.localAddress?.port ?? config.port
            var sockets: [DatagramBatchSocket] = []
            do {
                for _ in 0..<max(1, config.threads) {
                    sockets.append(try DatagramBatchSocket(bindingTo: config.host, port: port, reusePort: true,
                                                           bufferBytes: DNSServer.socketBufferSize))
                }
                return (listener, sockets, port)
            } catch let error as SystemError where error.errno == EADDRINUSE && config.port == 0 && attempt < 20 {
                try? listener.close().wait()
            } catch {
                try? listener.close().wait()
                throw error
            }
        }
    }

    private init(store: ZoneStore, metrics: DNSMetrics, group: MultiThreadedEventLoopGroup, channels: [any Channel],
                 udpSockets: [DatagramBatchSocket], udpThreads: NIOThreadPool, port: Int, httpPorts: [Int]) {
        self.store = store
        self.metrics = metrics
        self.group = group
        self.channels = channels
        self.udpSockets = udpSockets
        self.udpThreads = udpThreads
        self.port = port
        self.httpPorts = httpPorts
    }

    /// Blocks until the sockets close (after `shutdown`).
    public func wait() throws {
        for c in channels { try c.closeFuture.wait() }
    }

    public func shutdown() throws {
        // The UDP threads stop first; replies still coming from the upstream are sent by the
        // event loops, which go last, while the sockets are still open.
        for socket in udpSockets { socket.shutdown() }
        try udpThreads.syncShutdownGracefully()
        for c in channels { try? c.close().wait() }
        try group.syncShutdownGracefully()
    }
}

extension DNSServer {
    /// Socket buffers for bursts: the kernel drops datagrams that find the receive buffer
    /// full (the default is about 200 KB, some 2,000 queries). As root the limit
    /// `net.core.rmem_max` does not apply (SO_RCVBUFFORCE), as NSD does it; otherwise the
    /// kernel caps the request at that limit.
    static let socketBufferSize = 8 << 20
}
