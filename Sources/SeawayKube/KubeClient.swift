import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// One object as the API server sent it: its key, resourceVersion, and JSON (with kind and
/// apiVersion filled in, as list items lack them).
public struct KubeObject: Sendable {
    public var key: String
    public var resourceVersion: String
    public var json: Data
}

/// A page of a list.
public struct KubeListPage: Sendable {
    public var items: [KubeObject]
    public var resourceVersion: String
    public var continueToken: String?
}

/// One line of a watch stream.
public enum KubeWatchEvent: Sendable {
    case added(KubeObject), modified(KubeObject), deleted(KubeObject)
    /// A progress mark: nothing changed up to this resourceVersion.
    case bookmark(resourceVersion: String)
    /// A `Status` from the server (410 Gone: the resourceVersion is too old, relist).
    case error(code: Int, message: String)
    /// A line that is not a watch event, kept for the log.
    case malformed(String)
}

/// The API server over HTTP/1.1 and HTTP/2 (async-http-client), TLS per the connection's
/// settings: list pages and watch streams, the two requests an informer needs.
public final class KubeClient: Sendable {
    public let connection: APIServerConnection
    private let http: HTTPClient

    public init(_ connection: APIServerConnection) throws {
        self.connection = connection
        if connection.serverName != nil {
            throw KubeError("\(connection.origin): tls-server-name is not supported; use the server's own name in server:")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = connection.certificateAuthorityPEM { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca)) }
            if let cert = connection.clientCertificatePEM, let key = connection.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubeError("\(connection.origin): bad certificate or key: \(error)")
        }
        if connection.insecureSkipTLSVerify { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(10))
        // Every watch holds an HTTP/1.1 connection for minutes (HTTP/2 servers multiplex
        // them): leave room for one per resource and the lists beside them.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    private func request(_ pathAndQuery: String) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: connection.server + pathAndQuery)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "seaway")
        if let authorization = try connection.authorization() { request.headers.add(name: "Authorization", value: authorization) }
        return request
    }

    /// One page of `resource` (kube-proxy's informers page by 500).
    public func list(_ resource: KubeResource, limit: Int = 500, continue token: String? = nil,
                     timeout: TimeAmount = .seconds(60)) async throws -> KubeListPage {
        var query = [("limit", "\(limit)")]
        if let token { query.append(("continue", token)) }
        let response = try await http.execute(try request(resource.url(query)), timeout: timeout)
        let body = try await response.body.collect(upTo: 512 << 20)
        let status = Int(response.status.code)
        if status == 404 && resource.optional { return KubeListPage(items: [], resourceVersion: "", continueToken: nil) }
        guard status == 200 else { throw Self.statusError(status, body, "list \(resource)") }
        guard let root = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            throw KubeError("list \(resource): the answer is not a JSON object")
        }
        let metadata = root["metadata"] as? [String: Any]
        let items = (root["items"] as? [[String: Any]]) ?? []
        return KubeListPage(items: items.compactMap { Self.object($0, of: resource) },
                            resourceVersion: metadata?["resourceVersion"] as? String ?? "",
                            continueToken: (metadata?["continue"] as? String).flatMap { $0.isEmpty ? nil : $0 })
    }

    /// A watch from `resourceVersion`, ended by the server after about `timeoutSeconds` (it
    /// ends watches itself; so does a dropped connection: either way the sequence finishes and
    /// the caller watches again from its last resourceVersion). The events are read in the
    /// caller's task, so they run where it runs.
    public func watch(_ resource: KubeResource, from resourceVersion: String, timeoutSeconds: Int = 300) async throws -> KubeWatchStream {
        let query = [("watch", "1"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"),
                     ("timeoutSeconds", "\(timeoutSeconds)")]
        let response = try await http.execute(try request(resource.url(query)), timeout: .seconds(Int64(timeoutSeconds) + 30))
        let status = Int(response.status.code)
        if status == 404 && resource.optional { return KubeWatchStream(body: nil, resource: resource) }
        guard status == 200 else {
            throw Self.statusError(status, try await response.body.collect(upTo: 1 << 20), "watch \(resource)")
        }
        return KubeWatchStream(body: response.body, resource: resource)
    }

    static func event(_ line: [UInt8], of resource: KubeResource) -> KubeWatchEvent {
        let text = String(decoding: line, as: UTF8.self)
        guard let root = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let type = root["type"] as? String, let object = root["object"] as? [String: Any] else {
            return .malformed(text)
        }
        switch type {
        case "BOOKMARK":
            guard let rv = (object["metadata"] as? [String: Any])?["resourceVersion"] as? String else { return .malformed(text) }
            return .bookmark(resourceVersion: rv)
        case "ERROR":
            return .error(code: object["code"] as? Int ?? 0, message: object["message"] as? String ?? text)
        case "ADDED", "MODIFIED", "DELETED":
            guard let o = Self.object(object, of: resource) else { return .malformed(text) }
            return type == "ADDED" ? .added(o) : type == "MODIFIED" ? .modified(o) : .deleted(o)
        default:
            return .malformed(text)
        }
    }

    /// `nil` for an object without a name or resourceVersion.
    static func object(_ item: [String: Any], of resource: KubeResource) -> KubeObject? {
        guard let metadata = item["metadata"] as? [String: Any], let name = metadata["name"] as? String,
              let rv = metadata["resourceVersion"] as? String else { return nil }
        var full = item
        full["kind"] = resource.kind
        full["apiVersion"] = resource.apiVersion
        guard let json = try? JSONSerialization.data(withJSONObject: full, options: [.sortedKeys]) else { return nil }
        let namespace = metadata["namespace"] as? String
        return KubeObject(key: namespace.map { "\($0)/\(name)" } ?? name, resourceVersion: rv, json: json)
    }

    static func statusError(_ status: Int, _ body: ByteBuffer, _ what: String) -> KubeError {
        let message = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["message"] as? String
        return KubeError("\(what): HTTP \(status)\(message.map { ": \($0)" } ?? "")", status: status)
    }
}

/// A watch's events, one per line of the response body; a last line without its newline was
/// cut short (the connection dropped) and is discarded.
public struct KubeWatchStream: AsyncSequence, Sendable {
    public typealias Element = KubeWatchEvent
    let body: HTTPClientResponse.Body?
    let resource: KubeResource

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPClientResponse.Body.AsyncIterator?
        let resource: KubeResource
        var pending: [UInt8] = []

        public mutating func next() async throws -> KubeWatchEvent? {
            while true {
                if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(pending[..<newline])
                    pending.removeSubrange(...newline)
                    if !line.isEmpty { return KubeClient.event(line, of: resource) }
                    continue
                }
                guard var iterator = chunks, let chunk = try await iterator.next() else { return nil }
                chunks = iterator
                pending += chunk.readableBytesView
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body?.makeAsyncIterator(), resource: resource)
    }
}
