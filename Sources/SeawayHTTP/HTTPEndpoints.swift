import NIOCore
import NIOHTTP1
import NIOPosix

/// What one GET path answers: status, content type and body.
public struct HTTPAnswer: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]

    public init(_ status: HTTPResponseStatus = .ok, contentType: String = "text/plain", _ body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public static func text(_ text: String, _ status: HTTPResponseStatus = .ok) -> HTTPAnswer { HTTPAnswer(status, Array(text.utf8)) }

    /// The Prometheus text exposition format.
    public static func metrics(_ body: [UInt8]) -> HTTPAnswer {
        HTTPAnswer(.ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body)
    }

    static let notFound = HTTPAnswer.text("404 page not found\n", .notFound)
}

/// The small HTTP endpoints both servers expose (CoreDNS's health/ready/metrics, kube-proxy's
/// healthz/livez/metrics): each GET path answered by a closure, anything else 404.
public final class HTTPEndpointsHandler: ChannelInboundHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    public typealias Routes = @Sendable (_ path: String) -> HTTPAnswer?

    let routes: Routes
    private var path: String?
    private var keepAlive = true

    public init(_ routes: @escaping Routes) { self.routes = routes }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            path = head.method == .GET ? String(head.uri.prefix { $0 != "?" }) : nil
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let answer = path.flatMap(routes) ?? .notFound
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: answer.contentType)
            headers.add(name: "Content-Length", value: String(answer.body.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer.body)))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
                done.whenComplete { _ in boundContext.value.close(promise: nil) }
            }
        }
    }

    /// Listens on `host:port` (0 picks a free port) with `routes`.
    public static func listen(host: String, port: Int, group: any EventLoopGroup, _ routes: @escaping Routes) throws -> any Channel {
        try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.configureHTTPServerPipeline()
                    try ch.pipeline.syncOperations.addHandler(HTTPEndpointsHandler(routes))
                }
            }
            .bind(host: host, port: port).wait()
    }
}
