import NIOCore
import NIOPosix
import SeawayModel
import SeawayProxyCore

/// A TCP listener of the proxy. Each accepted connection stays unread until an endpoint
/// takes it: the balancer picks one, the dial gets kube-proxy userspace's timeout for that
/// attempt (250 ms, 500 ms, 1 s, 2 s), and a refused or timed-out dial tries the next
/// endpoint without affinity. Then the two sockets are spliced. Established connections
/// belong to themselves: endpoint changes and even closing the listener leave them be.
enum TCPPortal {
    /// One listening socket per event loop, all on the port (SO_REUSEPORT): the kernel
    /// spreads new connections over them, and each connection stays on the loop that
    /// accepted it, with no hand-over between threads (what costs most per connection).
    static func listen(_ portal: UserspacePlan.Portal, family: IPFamily, balancer: SharedBalancer,
                       group: MultiThreadedEventLoopGroup) -> EventLoopFuture<[Channel]> {
        let loops = Array(group.makeIterator())
        let binds = loops.map { loop in
            var bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            if family == .ipv6 { bootstrap = bootstrap.serverChannelOption(v6Only, value: 1) }
            return bootstrap
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(ChannelOptions.Types.SocketOption(level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                // Options set in the initializer, synchronously: the bootstraps' own option
                // lists are applied through a future each, per connection.
                .childChannelInitializer { client in
                    client.eventLoop.makeCompletedFuture {
                        try client.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
                        try client.syncOptions?.setOption(.autoRead, value: false)
                        try client.pipeline.syncOperations.addHandler(Dialer(balancer: balancer))
                    }
                }
                .bind(host: family == .ipv4 ? "0.0.0.0" : "::", port: portal.proxyPort)
        }
        return EventLoopFuture<Channel>.whenAllComplete(binds, on: loops[0]).flatMapThrowing { results in
            var channels: [Channel] = []
            var failure: Error? = nil
            for r in results {
                switch r {
                case let .success(c): channels.append(c)
                case let .failure(e): failure = failure ?? e
                }
            }
            if let failure {
                for c in channels { c.close(promise: nil) }
                throw failure
            }
            return channels
        }
    }

    /// IPv6 listeners take IPv6 only: a dual-stack service's IPv4 listener has the same port.
    static let v6Only = ChannelOptions.Types.SocketOption(level: .init(rawValue: Int32(IPPROTO_IPV6)), name: .init(rawValue: IPV6_V6ONLY))

    /// Connects an accepted client to an endpoint, then gets out of the way. The client's
    /// first bytes are read while the dial is under way (one read: reading then waits for
    /// an endpoint), and replayed to the endpoint that takes the connection: a connection
    /// costs one trip through the event loop less than reading only once connected.
    final class Dialer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny

        let balancer: SharedBalancer
        private var early: [NIOAny] = []
        private var earlyInputClosed = false

        init(balancer: SharedBalancer) {
            self.balancer = balancer
        }

        func channelActive(context: ChannelHandlerContext) {
            dial(context, attempt: 0)
            context.read()
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            early.append(data)
        }

        func channelReadComplete(context: ChannelHandlerContext) {}

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event {
                earlyInputClosed = true
            } else {
                context.fireUserInboundEventTriggered(event)
            }
        }

        /// Hands the connection to the splice: what was read early goes through it to the
        /// endpoint, as would a half-close that came with it.
        private func handOver(_ context: ChannelHandlerContext, to near: Splice) throws {
            try context.pipeline.syncOperations.addHandler(near)
            for data in early { context.fireChannelRead(data) }
            if !early.isEmpty { context.fireChannelReadComplete() }
            early = []
            if earlyInputClosed { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
            try context.channel.syncOptions?.setOption(.autoRead, value: true)
            if !earlyInputClosed { context.channel.read() }
        }

        private func dial(_ context: ChannelHandlerContext, attempt: Int) {
            let client = context.channel
            guard attempt < RoundRobinBalancer.dialTimeouts.count,
                  let (_, address) = balancer.pick(client: client.remoteAddress?.seawayIP, resetAffinity: attempt > 0) else {
                context.close(promise: nil)
                return
            }
            let (near, far) = Splice.pair()
            let farBound = NIOLoopBound(far, eventLoop: context.eventLoop)
            let timeout = RoundRobinBalancer.dialTimeouts[attempt]
            let bound = NIOLoopBound((self, context, near), eventLoop: context.eventLoop)
            ClientBootstrap(group: context.eventLoop)
                .connectTimeout(TimeAmount(timeout))
                .channelInitializer { backend in
                    backend.eventLoop.makeCompletedFuture {
                        try backend.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
                        try backend.pipeline.syncOperations.addHandler(farBound.value)
                    }
                }
                .connect(to: address)
                .whenComplete { result in
                    let (dialer, context, near) = bound.value
                    switch result {
                    case let .success(backend):
                        // The client may have given up while the dial was under way.
                        guard client.isActive else {
                            backend.close(promise: nil)
                            return
                        }
                        do {
                            try dialer.handOver(context, to: near)
                        } catch {
                            context.close(promise: nil)
                        }
                    case .failure:
                        if client.isActive { dialer.dial(context, attempt: attempt + 1) }
                    }
                }
        }
    }
}
