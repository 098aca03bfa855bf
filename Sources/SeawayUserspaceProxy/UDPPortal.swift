import NIOCore
import NIOPosix
import SeawayModel
import SeawayProxyCore

/// A UDP listener of the proxy. Each client address is a session: its own socket towards
/// the endpoint the balancer picked, replies relayed back from the listener's address, the
/// session closed after `idleTimeout` without traffic (kube-proxy userspace's --udp-timeout).
/// When the session's endpoint leaves the service, its next datagram opens a new session to
/// an endpoint that is still there, so a DNS client on a fixed port is not blackholed.
enum UDPPortal {
    /// IPv6 listeners take IPv6 only: a dual-stack service's IPv4 listener has the same port.
    static let v6Only = ChannelOptions.Types.SocketOption(level: .init(rawValue: Int32(IPPROTO_IPV6)), name: .init(rawValue: IPV6_V6ONLY))

    static func listen(_ portal: UserspacePlan.Portal, family: IPFamily, balancer: SharedBalancer,
                       idleTimeout: TimeAmount, group: MultiThreadedEventLoopGroup) -> EventLoopFuture<[Channel]> {
        var bootstrap = DatagramBootstrap(group: group)
        if family == .ipv6 { bootstrap = bootstrap.channelOption(v6Only, value: 1) }
        return bootstrap
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Relay(balancer: balancer, family: family, idleTimeout: idleTimeout))
                }
            }
            .bind(host: family == .ipv4 ? "0.0.0.0" : "::", port: portal.proxyPort)
            .map { [$0] }
    }

    final class Relay: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        final class Session {
            let endpoint: EndpointInfo
            let address: SocketAddress
            let generation: Int
            var channel: Channel?
            /// Datagrams that arrived before the session's socket was bound.
            var queued: [ByteBuffer] = []
            var lastUsed: NIODeadline

            init(endpoint: EndpointInfo, address: SocketAddress, generation: Int) {
                self.endpoint = endpoint
                self.address = address
                self.generation = generation
                lastUsed = .now()
            }
        }

        let balancer: SharedBalancer
        let family: IPFamily
        let idleTimeout: TimeAmount
        private var sessions: [SocketAddress: Session] = [:]
        private var sweep: RepeatedTask?

        init(balancer: SharedBalancer, family: IPFamily, idleTimeout: TimeAmount) {
            self.balancer = balancer
            self.family = family
            self.idleTimeout = idleTimeout
        }

        func channelActive(context: ChannelHandlerContext) {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let period = TimeAmount.nanoseconds(max(idleTimeout.nanoseconds / 2, 10_000_000))
            sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
                bound.value.closeIdle()
            }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            sweep?.cancel()
            for s in sessions.values { s.channel?.close(promise: nil) }
            sessions = [:]
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let datagram = unwrapInboundIn(data)
            let client = datagram.remoteAddress
            if let s = sessions[client], s.generation != balancer.generation, !balancer.contains(s.endpoint) {
                // Its endpoint is gone: the next datagram goes to one that is still there.
                s.channel?.close(promise: nil)
                sessions[client] = nil
            }
            let session: Session
            if let s = sessions[client] {
                session = s
            } else {
                guard let (endpoint, address, _) = balancer.pick(client: client.seawayIP, resetAffinity: false) else { return }
                session = Session(endpoint: endpoint, address: address, generation: balancer.generation)
                sessions[client] = session
                open(session, for: client, context: context)
            }
            session.lastUsed = .now()
            if let channel = session.channel {
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: session.address, data: datagram.data), promise: nil)
            } else {
                session.queued.append(datagram.data)
            }
        }

        /// The session's own socket: what the endpoint answers to it goes back to `client`
        /// from the listener's address.
        private func open(_ session: Session, for client: SocketAddress, context: ChannelHandlerContext) {
            let listener = context.channel
            let relay = NIOLoopBound(self, eventLoop: context.eventLoop)
            let boundSession = NIOLoopBound(session, eventLoop: context.eventLoop)
            let endpoint = session.address
            DatagramBootstrap(group: context.eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Replies(from: endpoint, to: client, listener: listener))
                    }
                }
                .bind(host: family == .ipv4 ? "0.0.0.0" : "::", port: 0)
                .whenComplete { result in
                    let session = boundSession.value
                    switch result {
                    case let .success(channel):
                        guard relay.value.sessions[client] === session else {
                            channel.close(promise: nil)
                            return
                        }
                        session.channel = channel
                        for data in session.queued {
                            channel.write(AddressedEnvelope(remoteAddress: session.address, data: data), promise: nil)
                        }
                        session.queued = []
                        channel.flush()
                    case .failure:
                        if relay.value.sessions[client] === session { relay.value.sessions[client] = nil }
                    }
                }
        }

        private func closeIdle() {
            let cutoff = NIODeadline.now() - idleTimeout
            for (client, s) in sessions where s.lastUsed < cutoff {
                s.channel?.close(promise: nil)
                sessions[client] = nil
            }
        }
    }

    /// Relays an endpoint's answers to the client the session belongs to.
    final class Replies: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>

        let endpoint: SocketAddress
        let client: SocketAddress
        let listener: Channel

        init(from endpoint: SocketAddress, to client: SocketAddress, listener: Channel) {
            self.endpoint = endpoint
            self.client = client
            self.listener = listener
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let datagram = unwrapInboundIn(data)
            // Only the endpoint's answers: anything else reaching this port is not a reply.
            guard datagram.remoteAddress == endpoint else { return }
            listener.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: datagram.data), promise: nil)
        }
    }
}
