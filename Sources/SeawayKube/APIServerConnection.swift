import SeawayKernel
import SeawayModel

/// How to reach and authenticate to one API server, with every file a kubeconfig or the
/// service account names already read (the token file excepted: it is re-read per request,
/// as client-go does, so a rotated token is picked up).
public struct APIServerConnection: Sendable {
    public enum Credentials: Sendable {
        case none
        case token(String)
        case tokenFile(String)
    }

    /// `https://host:port` (or `http://` for a test server), no trailing slash.
    public var server: String
    /// PEM certificates to trust; nil: the system's roots.
    public var certificateAuthorityPEM: [UInt8]?
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    public var insecureSkipTLSVerify = false
    public var serverName: String?
    public var credentials: Credentials = .none
    /// The context's namespace (informational: Seaway lists cluster-wide).
    public var namespace = "default"
    /// What the settings came from, for errors: `kubeconfig F (context C)` or `in-cluster`.
    public var origin: String

    public init(server: String, origin: String) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.origin = origin
    }

    /// From kubeconfig: `--kubeconfig FILE`, else `KUBECONFIG`'s files merged, else
    /// `~/.kube/config`; the context `--context` names, else the current one.
    public static func kubeconfig(path: String?, context: String?, environment: [String: String]) throws -> APIServerConnection {
        let files = path.map { [$0] } ?? KubeConfig.files(kubeconfigVariable: environment["KUBECONFIG"], home: environment["HOME"])
        var merged: KubeConfig? = nil
        for file in files {
            guard let text = try read(file, what: "kubeconfig").map({ String(decoding: $0, as: UTF8.self) }) else {
                // kubectl skips KUBECONFIG entries that do not exist; an explicit file must.
                if path != nil { throw KubeError("kubeconfig \(file): no such file") }
                continue
            }
            let config = try KubeConfig.decode(text, file: file)
            merged = merged.map { $0.merging(config) } ?? config
        }
        guard let merged else { throw KubeError("no kubeconfig: give --kubeconfig, set KUBECONFIG, or create ~/.kube/config") }
        let s = try merged.select(context: context)
        var c = APIServerConnection(server: s.cluster.server, origin: "kubeconfig \(merged.file) (context \(s.context))")
        c.certificateAuthorityPEM = try s.cluster.certificateAuthorityData ?? s.cluster.certificateAuthority.map { try required($0, what: "certificate-authority") }
        c.insecureSkipTLSVerify = s.cluster.insecureSkipTLSVerify
        c.serverName = s.cluster.tlsServerName
        c.clientCertificatePEM = try s.user.clientCertificateData ?? s.user.clientCertificate.map { try required($0, what: "client-certificate") }
        c.clientKeyPEM = try s.user.clientKeyData ?? s.user.clientKey.map { try required($0, what: "client-key") }
        if (c.clientCertificatePEM == nil) != (c.clientKeyPEM == nil) {
            throw KubeError("\(c.origin): a client certificate needs its key and the key its certificate")
        }
        if let token = s.user.token { c.credentials = .token(token) } else if let file = s.user.tokenFile { c.credentials = .tokenFile(file) }
        c.namespace = s.namespace
        return c
    }

    public static let serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// In a pod: KUBERNETES_SERVICE_HOST/PORT and the service account's token, CA and
    /// namespace (what client-go's InClusterConfig reads).
    public static func inCluster(environment: [String: String], directory: String = serviceAccount) throws -> APIServerConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"], !host.isEmpty else {
            throw KubeError("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var c = APIServerConnection(server: "https://\(authority)", origin: "in-cluster")
        c.certificateAuthorityPEM = try required("\(directory)/ca.crt", what: "service account CA")
        c.credentials = .tokenFile("\(directory)/token")
        _ = try required("\(directory)/token", what: "service account token")
        if let ns = try read("\(directory)/namespace", what: "namespace") {
            c.namespace = String(decoding: ns, as: UTF8.self).trimmingWhitespace
        }
        return c
    }

    /// The `Authorization` header value, reading the token file now.
    func authorization() throws -> String? {
        switch credentials {
        case .none: return nil
        case let .token(t): return "Bearer \(t)"
        case let .tokenFile(file):
            return "Bearer " + String(decoding: try Self.required(file, what: "token file"), as: UTF8.self).trimmingWhitespace
        }
    }

    private static func read(_ path: String, what: String) throws -> [UInt8]? {
        do { return try FileSystem.read(path) } catch { throw KubeError("\(what) \(path): \(error)") }
    }

    private static func required(_ path: String, what: String) throws -> [UInt8] {
        guard let bytes = try read(path, what: what) else { throw KubeError("\(what) \(path): no such file") }
        return bytes
    }
}

/// A failure talking to the API server, or in its settings.
public struct KubeError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The HTTP status, when the server answered with an error.
    public var status: Int?

    public init(_ description: String, status: Int? = nil) {
        self.description = description
        self.status = status
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\n" || c == "\r" || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\n" || c == "\r" || c == "\t" { s.removeLast() }
        return String(s)
    }
}
