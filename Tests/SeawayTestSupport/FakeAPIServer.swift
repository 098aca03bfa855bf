import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A stand-in Kubernetes API server speaking the list+watch wire protocol as the real one
/// does: typed lists whose items carry no kind, paged with `limit`/`continue` (pages of at
/// most `pageSize`, so paging always happens), one resourceVersion sequence for everything,
/// watches as chunked streams of `{"type":...,"object":...}` lines from a resourceVersion,
/// BOOKMARK events on request, and `ERROR` with a 410 Status for a resourceVersion older
/// than the last compaction. Faults on request: a watch dropped in the middle of an event, a
/// malformed line, requests failing with 500, a required bearer token, stalled lists, held
/// watch requests, silent watch streams. (It never ends a watch at its timeoutSeconds by
/// itself: `closeWatches()` does.)
public final class FakeAPIServer: @unchecked Sendable {
    public struct Watcher: Sendable {
        public let id: Int
        public let path: String
        public let channel: Channel
    }

    public struct State {
        public var resourceVersion = 100
        /// path -> key -> object JSON (with kind, apiVersion and metadata.resourceVersion).
        public var objects: [String: [String: [String: Any]]] = [:]
        public var log: [(rv: Int, path: String, line: [UInt8])] = []
        public var compactedBefore = 0
        public var watchers: [Watcher] = []
        public var nextWatcher = 0
        public var requests: [String] = []
        public var failNext = 0
        public var requiredToken: String?
        public var dropNextEventHalfway = false
        public var pageSize = 2
        /// While set, list requests are never answered (a stalled API server).
        public var stallLists = false
        /// While set, watch requests wait unanswered (until `releaseWatches()`).
        public var holdWatches = false
        /// While set, open watches get no events (a stream gone silent: a dead peer, a proxy
        /// holding the connection); watches opened later get the backlog as usual.
        public var muteWatches = false
        var heldWatches: [() -> Void] = []
    }

    private let lock = NSLock()
    private var storage = State()
    /// The server's state, under its lock (the objects are JSON dictionaries: not Sendable).
    public var state: Locked { Locked(server: self) }
    public struct Locked: @unchecked Sendable {
        unowned let server: FakeAPIServer
        public func withLock<T>(_ body: (inout State) throws -> T) rethrows -> T {
            server.lock.lock()
            defer { server.lock.unlock() }
            return try body(&server.storage)
        }
    }
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: Channel!
    public private(set) var port = 0
    let tls: NIOSSLContext?
    public var url: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)" }

    /// With `tls`, HTTPS (the test's certificates; client certificates as it requires).
    public init(tls: TLSConfiguration? = nil) throws {
        self.tls = try tls.map { try NIOSSLContext(configuration: $0) }
        let context = self.tls
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] ch in
                ch.eventLoop.makeCompletedFuture {
                    if let context { try ch.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try ch.pipeline.syncOperations.configureHTTPServerPipeline()
                    try ch.pipeline.syncOperations.addHandler(Handler(self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress?.port ?? 0
    }

    private var stopped = false

    /// Idempotent.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Writes a kubeconfig for this server (context `fake`, no credentials) to `path`.
    public func writeKubeconfig(to path: String) throws {
        try """
            apiVersion: v1
            kind: Config
            current-context: fake
            clusters: [{name: fake, cluster: {server: "\(url)"}}]
            contexts: [{name: fake, context: {cluster: fake, user: nobody}}]
            """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    // MARK: Changing the cluster

    public enum Change: String { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }

    /// Stores (or deletes) `object` under `path` at a new resourceVersion and tells watchers.
    public func apply(_ change: Change, path: String, _ object: [String: Any]) {
        var o = object
        let watchers: [Watcher], line: [UInt8], drop: Bool
        (watchers, line, drop) = state.withLock { s in
            s.resourceVersion += 1
            var metadata = o["metadata"] as? [String: Any] ?? [:]
            metadata["resourceVersion"] = "\(s.resourceVersion)"
            o["metadata"] = metadata
            let key = Self.key(o)
            if change == .deleted { s.objects[path]?[key] = nil } else { s.objects[path, default: [:]][key] = o }
            let line = Self.eventLine(change.rawValue, o)
            s.log.append((s.resourceVersion, path, line))
            let drop = s.dropNextEventHalfway
            s.dropNextEventHalfway = false
            return (s.muteWatches ? [] : s.watchers.filter { $0.path == path }, line, drop)
        }
        for w in watchers { send(line, to: w, dropHalfway: drop) }
    }

    /// Stores `objects` under `path` as if they had been there before anyone watched (no
    /// events): a large cluster to list, for benchmarks.
    public func seed(path: String, _ objects: [[String: Any]]) {
        state.withLock { s in
            var stored = s.objects[path] ?? [:]
            for object in objects {
                s.resourceVersion += 1
                var o = object
                var metadata = o["metadata"] as? [String: Any] ?? [:]
                metadata["resourceVersion"] = "\(s.resourceVersion)"
                o["metadata"] = metadata
                stored[Self.key(o)] = o
            }
            s.objects[path] = stored
        }
    }

    public func bookmark() {
        let (watchers, rv) = state.withLock { ($0.watchers, $0.resourceVersion) }
        for w in watchers {
            send(Self.eventLine("BOOKMARK", ["kind": "Bookmark", "metadata": ["resourceVersion": "\(rv)"]]), to: w, dropHalfway: false)
        }
    }

    public func sendMalformed(path: String) {
        for w in state.withLock({ $0.watchers.filter { $0.path == path } }) { send(Array("{this is not json\n".utf8), to: w, dropHalfway: false) }
    }

    /// Forgets history: watches from before now get 410 Gone; open watches are closed.
    public func compact() {
        let watchers = state.withLock { s in
            s.compactedBefore = s.resourceVersion + 1
            s.log = []
            return s.watchers
        }
        for w in watchers { end(w) }
    }

    /// Answers the watch requests held meanwhile, in the state the server is in now.
    public func releaseWatches() {
        let held = state.withLock { s -> [() -> Void] in
            s.holdWatches = false
            defer { s.heldWatches = [] }
            return s.heldWatches
        }
        for h in held { h() }
    }

    /// Whether a watch of `path` is open (a fault aimed at open watches needs one first).
    public func isWatching(_ path: String) -> Bool {
        state.withLock { $0.watchers.contains { $0.path == path } }
    }

    /// Ends every open watch, as the API server does at its timeout or on a restart.
    public func closeWatches() {
        for w in state.withLock({ $0.watchers }) { end(w) }
    }

    private func send(_ line: [UInt8], to w: Watcher, dropHalfway: Bool) {
        let bytes = dropHalfway ? Array(line.prefix(line.count / 2)) : line
        w.channel.eventLoop.execute {
            let done = w.channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes))))
            if dropHalfway { done.whenComplete { _ in w.channel.close(promise: nil) } }
        }
        if dropHalfway { state.withLock { s in s.watchers.removeAll { $0.id == w.id } } }
    }

    private func end(_ w: Watcher) {
        state.withLock { s in s.watchers.removeAll { $0.id == w.id } }
        w.channel.eventLoop.execute {
            w.channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in w.channel.close(promise: nil) }
        }
    }

    static func key(_ o: [String: Any]) -> String {
        let m = o["metadata"] as? [String: Any] ?? [:]
        let name = m["name"] as? String ?? ""
        return (m["namespace"] as? String).map { "\($0)/\(name)" } ?? name
    }

    static func eventLine(_ type: String, _ object: [String: Any]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: ["type": type, "object": object], options: [.sortedKeys])) + [UInt8(ascii: "\n")]
    }

    // MARK: Requests

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: FakeAPIServer
        init(_ server: FakeAPIServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case let .head(head) = unwrapInboundIn(data) else { return }
            let parts = head.uri.split(separator: "?", maxSplits: 1)
            let path = String(parts[0])
            var query: [String: String] = [:]
            for item in (parts.count > 1 ? parts[1] : "").split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1)
                query[String(kv[0])] = kv.count > 1 ? String(kv[1]).removingPercentEncoding : ""
            }
            let (fail, token) = server.state.withLock { s -> (Bool, String?) in
                s.requests.append(head.uri)
                let fail = s.failNext > 0
                if fail { s.failNext -= 1 }
                return (fail, s.requiredToken)
            }
            if let token, head.headers["Authorization"].first != "Bearer \(token)" {
                return respond(context, .unauthorized, ["kind": "Status", "code": 401, "message": "Unauthorized"])
            }
            if fail { return respond(context, .internalServerError, ["kind": "Status", "code": 500, "message": "injected failure"]) }
            if query["watch"] == "1" {
                let query = query
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let held = server.state.withLock { s -> Bool in
                    guard s.holdWatches else { return false }
                    s.heldWatches.append { bound.eventLoop.execute { bound.value.0.watch(bound.value.1, path, query) } }
                    return true
                }
                if !held { watch(context, path, query) }
            } else if !server.state.withLock({ $0.stallLists }) {
                list(context, path, query)
            }
        }

        private func list(_ context: ChannelHandlerContext, _ path: String, _ query: [String: String]) {
            let page: [String: Any] = server.state.withLock { s in
                var offset = 0, rv = s.resourceVersion
                if let token = query["continue"], !token.isEmpty {
                    let p = token.split(separator: ":")
                    offset = Int(p[0]) ?? 0
                    rv = Int(p[1]) ?? rv
                }
                let all = (s.objects[path] ?? [:]).sorted { $0.key < $1.key }.map { o -> [String: Any] in
                    var item = o.value
                    item["kind"] = nil  // typed lists' items carry no kind or apiVersion
                    item["apiVersion"] = nil
                    return item
                }
                let limit = min(Int(query["limit"] ?? "") ?? Int.max, s.pageSize)
                let items = Array(all.dropFirst(offset).prefix(limit))
                var metadata: [String: Any] = ["resourceVersion": "\(rv)"]
                if offset + items.count < all.count { metadata["continue"] = "\(offset + items.count):\(rv)" }
                return ["kind": "List", "apiVersion": "v1", "metadata": metadata, "items": items]
            }
            respond(context, .ok, page)
        }

        private func watch(_ context: ChannelHandlerContext, _ path: String, _ query: [String: String]) {
            let from = Int(query["resourceVersion"] ?? "") ?? 0
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Transfer-Encoding", value: "chunked")
            // The connection is closed when the watch ends (closeWatches, compact): said up
            // front, so the client never sends its next request on it (it would fail with the
            // connection closed under it, and the informer relist without the 410 under test).
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            let channel = context.channel
            let backlog: [[UInt8]]? = server.state.withLock { s in
                guard from >= s.compactedBefore - 1 || s.compactedBefore == 0 else { return nil }
                let lines = s.log.filter { $0.path == path && $0.rv > from }.map(\.line)
                s.nextWatcher += 1
                s.watchers.append(Watcher(id: s.nextWatcher, path: path, channel: channel))
                return lines
            }
            guard let backlog else {
                let gone = FakeAPIServer.eventLine("ERROR", ["kind": "Status", "code": 410, "reason": "Expired",
                                                               "message": "too old resource version: \(from)"])
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: gone)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            for line in backlog { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: line)))), promise: nil) }
            context.flush()
        }

        private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ body: [String: Any]) {
            let bytes = try! JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(bytes.count)")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            let channel = context.channel
            server.state.withLock { s in s.watchers.removeAll { $0.channel === channel } }
        }
    }
}
