import Logging
import NIOCore
import SeawayDNS

/// Answers datagrams on one UDP socket. Replies written while a batch of datagrams is read
/// go out together at the end of the batch (one sendmmsg).
final class UDPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private var processor: QueryProcessor

    init(_ processor: QueryProcessor) { self.processor = processor }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        switch processor.process(envelope.data, from: envelope.remoteAddress, on: context.eventLoop) {
        case .none:
            break
        case let .now(reply):
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
        case let .later(future):
            let peer = envelope.remoteAddress
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            future.whenSuccess { reply in
                boundContext.value.writeAndFlush(NIOAny(AddressedEnvelope(remoteAddress: peer, data: reply)), promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A failed send to one client (ICMP unreachable, say) must not stop the socket.
    }
}

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
