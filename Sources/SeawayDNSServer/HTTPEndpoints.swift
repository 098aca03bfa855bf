import NIOCore
import NIOHTTP1

/// `/health`, `/ready` and `/metrics` (CoreDNS's health, ready and prometheus plugins).
final class HTTPEndpointsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let isReady: @Sendable () -> Bool
    let metrics: @Sendable () -> [UInt8]
    private var path: String?
    private var keepAlive = true

    init(isReady: @escaping @Sendable () -> Bool, metrics: @escaping @Sendable () -> [UInt8]) {
        self.isReady = isReady
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            path = head.method == .GET ? String(head.uri.prefix { $0 != "?" }) : nil
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let (status, type, body): (HTTPResponseStatus, String, [UInt8])
            switch path {
            case "/health":
                (status, type, body) = (.ok, "text/plain", Array("OK".utf8))
            case "/ready":
                (status, type, body) = isReady() ? (.ok, "text/plain", Array("OK".utf8))
                    : (.serviceUnavailable, "text/plain", Array("cluster state not loaded\n".utf8))
            case "/metrics":
                (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics())
            default:
                (status, type, body) = (.notFound, "text/plain", Array("404 page not found\n".utf8))
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: String(body.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
                done.whenComplete { _ in boundContext.value.close(promise: nil) }
            }
        }
    }
}
