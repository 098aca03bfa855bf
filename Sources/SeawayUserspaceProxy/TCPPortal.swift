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
    static func listen(_ portal: UserspacePlan.Portal, family: IPFamily, balancer: SharedBalancer,
                       group: EventLoopGroup) -> EventLoopFuture<Channel> {
        ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { client in
                client.eventLoop.makeCompletedFuture {
                    try client.pipeline.syncOperations.addHandler(Dialer(balancer: balancer))
                }
            }
            .bind(host: family == .ipv4 ? "0.0.0.0" : "::", port: portal.proxyPort)
    }

    /// Connects an accepted client to an endpoint, then gets out of the way.
    final class Dialer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny

        let balancer: SharedBalancer

        init(balancer: SharedBalancer) {
            self.balancer = balancer
        }

        func channelActive(context: ChannelHandlerContext) {
            dial(context, attempt: 0)
            context.fireChannelActive()
        }

        private func dial(_ context: ChannelHandlerContext, attempt: Int) {
            let client = context.channel
            guard attempt < RoundRobinBalancer.dialTimeouts.count,
                  let endpoint = balancer.pick(client: client.remoteAddress?.seawayIP, resetAffinity: attempt > 0),
                  let address = try? SocketAddress(endpoint) else {
                context.close(promise: nil)
                return
            }
            let (near, far) = Splice.pair()
            let farBound = NIOLoopBound(far, eventLoop: context.eventLoop)
            let timeout = RoundRobinBalancer.dialTimeouts[attempt]
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            ClientBootstrap(group: context.eventLoop)
                .connectTimeout(TimeAmount(timeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { backend in
                    backend.eventLoop.makeCompletedFuture { try backend.pipeline.syncOperations.addHandler(farBound.value) }
                }
                .connect(to: address)
                .whenComplete { result in
                    let (dialer, context) = bound.value
                    switch result {
                    case let .success(backend):
                        // The client may have given up while the dial was under way.
                        guard client.isActive else {
                            backend.close(promise: nil)
                            return
                        }
                        do {
                            try context.pipeline.syncOperations.addHandler(near)
                            context.pipeline.syncOperations.removeHandler(dialer, promise: nil)
                            client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in client.read() }
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
