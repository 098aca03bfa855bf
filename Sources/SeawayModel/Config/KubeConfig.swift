import Foundation

/// A kubeconfig file (what kubectl reads): clusters, users, contexts and the current one.
/// Decoding is pure; file paths inside (certificate-authority, client-certificate,
/// client-key, tokenFile) are made absolute against the file's own directory, as kubectl
/// does, but not read here.
public struct KubeConfig: Sendable, Hashable {
    public struct Cluster: Sendable, Hashable {
        public var server: String
        public var certificateAuthority: String?
        public var certificateAuthorityData: [UInt8]?
        public var insecureSkipTLSVerify = false
        public var tlsServerName: String?
    }

    public struct User: Sendable, Hashable {
        public var clientCertificate: String?
        public var clientCertificateData: [UInt8]?
        public var clientKey: String?
        public var clientKeyData: [UInt8]?
        public var token: String?
        public var tokenFile: String?
        /// `exec` or `auth-provider` credentials, which Seaway does not run.
        public var unsupported: String?
    }

    public struct Context: Sendable, Hashable {
        public var cluster: String
        public var user: String
        public var namespace: String?
    }

    /// Where each entry came from, for errors.
    public var file: String
    public var clusters: [String: Cluster] = [:]
    public var users: [String: User] = [:]
    public var contexts: [String: Context] = [:]
    public var currentContext: String?

    /// The context, cluster and user in effect.
    public struct Selection: Sendable, Hashable {
        public var context: String
        public var cluster: Cluster
        public var user: User
        public var namespace: String
    }

    /// The files `KUBECONFIG` names, or `~/.kube/config`, as kubectl picks them.
    public static func files(kubeconfigVariable: String?, home: String?) -> [String] {
        if let v = kubeconfigVariable, !v.isEmpty { return v.split(separator: ":").map(String.init).filter { !$0.isEmpty } }
        return home.map { ["\($0)/.kube/config"] } ?? []
    }

    /// `other` merged in as kubectl merges KUBECONFIG's files: the first file to set a
    /// cluster, user, context or current-context wins.
    public func merging(_ other: KubeConfig) -> KubeConfig {
        var m = self
        m.clusters.merge(other.clusters) { mine, _ in mine }
        m.users.merge(other.users) { mine, _ in mine }
        m.contexts.merge(other.contexts) { mine, _ in mine }
        if m.currentContext == nil { m.currentContext = other.currentContext }
        return m
    }

    /// The context `name` (default: current-context) with its cluster and user.
    public func select(context name: String?) throws -> Selection {
        guard let chosen = name ?? currentContext else {
            throw ManifestError(file: file, line: nil, object: "kubeconfig", field: "current-context",
                                message: "no current-context set and no --context given")
        }
        guard let context = contexts[chosen] else {
            throw ManifestError(file: file, line: nil, object: "kubeconfig", field: "contexts",
                                message: "no context named '\(chosen)' (have: \(contexts.keys.sorted().joined(separator: ", ")))")
        }
        guard let cluster = clusters[context.cluster] else {
            throw ManifestError(file: file, line: nil, object: "context \(chosen)", field: "context.cluster",
                                message: "no cluster named '\(context.cluster)'")
        }
        let user = users[context.user] ?? User()
        if let unsupported = user.unsupported {
            throw ManifestError(file: file, line: nil, object: "user \(context.user)", field: "user.\(unsupported)",
                                message: "\(unsupported) credentials are not supported; use a token, a token file or a client certificate")
        }
        return Selection(context: chosen, cluster: cluster, user: user, namespace: context.namespace ?? "default")
    }

    public static func decode(_ text: String, file: String) throws -> KubeConfig {
        let root: YAMLValue?
        do { root = try YAMLDocuments.single(in: text) } catch let error as YAMLDocuments.SyntaxError { throw ManifestDecoder.syntaxError(error, file: file) }
        var config = KubeConfig(file: file)
        guard let root else { return config }
        let directory = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? ""
        func path(_ f: Field?) throws -> String? {
            guard let p = try f?.string(), !p.isEmpty else { return nil }
            return p.hasPrefix("/") || directory.isEmpty ? p : "\(directory)/\(p)"
        }
        func base64(_ f: Field?) throws -> [UInt8]? {
            guard let f else { return nil }
            let text = try f.string()
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else { throw f.error("not base64") }
            return Array(data)
        }
        let f = Field(node: root, path: "")
        do {
            if let kind = try f["kind"]?.string(), kind != "Config" { throw f.error("expected kind Config, found \(kind)") }
            for (i, entry) in try (f["clusters"]?.list() ?? []).enumerated() {
                let name = try entry["name"]?.string() ?? { throw entry.error("clusters[\(i)] has no name") }()
                guard let c = entry["cluster"] else { throw entry.error("cluster \(name) has no cluster section") }
                guard let server = try c["server"]?.string() else { throw c.error("cluster \(name) has no server") }
                config.clusters[name] = Cluster(
                    server: server, certificateAuthority: try path(c["certificate-authority"]),
                    certificateAuthorityData: try base64(c["certificate-authority-data"]),
                    insecureSkipTLSVerify: try c["insecure-skip-tls-verify"]?.bool() ?? false,
                    tlsServerName: try c["tls-server-name"]?.string())
            }
            for (i, entry) in try (f["users"]?.list() ?? []).enumerated() {
                let name = try entry["name"]?.string() ?? { throw entry.error("users[\(i)] has no name") }()
                let u = entry["user"]
                var user = User(
                    clientCertificate: try path(u?["client-certificate"]), clientCertificateData: try base64(u?["client-certificate-data"]),
                    clientKey: try path(u?["client-key"]), clientKeyData: try base64(u?["client-key-data"]),
                    token: try u?["token"]?.string(), tokenFile: try path(u?["tokenFile"]))
                if u?["exec"] != nil { user.unsupported = "exec" } else if u?["auth-provider"] != nil { user.unsupported = "auth-provider" }
                config.users[name] = user
            }
            for (i, entry) in try (f["contexts"]?.list() ?? []).enumerated() {
                let name = try entry["name"]?.string() ?? { throw entry.error("contexts[\(i)] has no name") }()
                guard let c = entry["context"], let cluster = try c["cluster"]?.string() else {
                    throw entry.error("context \(name) names no cluster")
                }
                config.contexts[name] = Context(cluster: cluster, user: try c["user"]?.string() ?? "", namespace: try c["namespace"]?.string())
            }
            config.currentContext = try f["current-context"]?.string().nilIfEmpty
        } catch let e as FieldError {
            throw ManifestError(file: file, line: e.line, object: "kubeconfig", field: e.path, message: e.message)
        }
        return config
    }
}

private extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
