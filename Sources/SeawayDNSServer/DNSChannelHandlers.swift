import Logging
import NIOCore
import SeawayDNS

/// Answers length-prefixed queries on one TCP connection, in order.
final class TCPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var processor: QueryProcessor
    /// Replies must go out in request order; a pending upstream answer holds later ones back.
    private var pending: EventLoopFuture<Void>?

    init(_ processor: QueryProcessor) { self.processor = processor }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let packet = unwrapInboundIn(data)
        let peer = context.remoteAddress ?? (try! SocketAddress(ipAddress: "0.0.0.0", port: 0))
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        @Sendable func send(_ reply: ByteBuffer) {
            var frame = ByteBuffer()
            frame.writeInteger(UInt16(reply.readableBytes))
            var r = reply
            frame.writeBuffer(&r)
            boundContext.value.writeAndFlush(NIOAny(frame), promise: nil)
        }
        let outcome = processor.process(packet, from: peer, on: context.eventLoop)
        let previous = pending ?? context.eventLoop.makeSucceededVoidFuture()
        switch outcome {
        case .none:
            // FORMERR-worthy garbage is answered; a packet we drop ends the connection.
            context.close(promise: nil)
        case let .now(reply):
            if pending == nil { send(reply) } else { pending = previous.map { send(reply) } }
        case let .later(future):
            pending = previous.and(future).map { _, reply in send(reply) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Idle connections are closed (CoreDNS: 10 s without a query).
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
