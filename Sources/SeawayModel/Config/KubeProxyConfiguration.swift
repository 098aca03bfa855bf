/// The parts of kubeproxy.config.k8s.io/v1alpha1 `KubeProxyConfiguration` (the file a
/// kube-proxy ConfigMap holds) that change what kube-proxy writes. Absent fields stay nil
/// so that flags and defaults can fill them.
public struct KubeProxyConfiguration: Sendable, Hashable {
    public struct ModeSettings: Sendable, Hashable {
        public var masqueradeAll: Bool?
        public var masqueradeBit: Int?
        public var localhostNodePorts: Bool?
    }

    public var mode: String?
    public var hostnameOverride: String?
    public var clusterCIDR: String?
    public var detectLocalMode: String?
    public var bridgeInterface: String?
    public var interfaceNamePrefix: String?
    public var nodePortAddresses: [String]?
    public var iptables = ModeSettings()
    public var nftables = ModeSettings()
    public var ipvsScheduler: String?

    public init() {}

    /// Decodes the file text; `file` names it in errors. Also takes the kube-proxy ConfigMap
    /// itself (as `kubectl get configmap kube-proxy -o yaml` prints it) and reads its
    /// `config.conf` entry (kubeadm's key), or its only entry.
    public static func decode(_ text: String, file: String) throws -> KubeProxyConfiguration {
        let root: YAMLValue?
        do {
            root = try YAMLDocuments.single(in: text)
        } catch let error as YAMLDocuments.SyntaxError {
            throw ManifestDecoder.syntaxError(error, file: file)
        }
        guard let root else {
            throw ManifestError(file: file, line: nil, object: nil, field: nil, message: "empty configuration")
        }
        let f = Field(node: root, path: "")
        let object = "KubeProxyConfiguration"
        do {
            let kind = try f["kind"]?.string()
            if kind == "ConfigMap" {
                let data = try f["data"]?.stringMap() ?? [:]
                guard let entry = data["config.conf"].map({ ("config.conf", $0) }) ?? (data.count == 1 ? data.first : nil) else {
                    throw FieldError(path: "data", line: f.line,
                                     message: "expected a config.conf entry holding a KubeProxyConfiguration")
                }
                return try decode(entry.1, file: "\(file) (data.\(entry.0))")
            }
            guard kind == "KubeProxyConfiguration" else {
                throw f.error("expected kind KubeProxyConfiguration, found \(kind ?? "none")")
            }
            var c = KubeProxyConfiguration()
            c.mode = try f["mode"]?.string()
            if let m = c.mode, !["", "iptables", "ipvs", "nftables", "kernelspace"].contains(m) {
                throw f["mode"]!.error("unsupported mode '\(m)'")
            }
            c.hostnameOverride = try f["hostnameOverride"]?.string()
            c.clusterCIDR = try f["clusterCIDR"]?.string()
            c.detectLocalMode = try f["detectLocalMode"]?.string()
            c.bridgeInterface = try f["detectLocal"]?["bridgeInterface"]?.string()
            c.interfaceNamePrefix = try f["detectLocal"]?["interfaceNamePrefix"]?.string()
            c.nodePortAddresses = try f["nodePortAddresses"]?.stringList()
            for (key, path) in [("iptables", \KubeProxyConfiguration.iptables), ("nftables", \.nftables)] {
                guard let section = f[key] else { continue }
                c[keyPath: path].masqueradeAll = try section["masqueradeAll"]?.bool()
                c[keyPath: path].masqueradeBit = try section["masqueradeBit"]?.int(in: 0...31)
                c[keyPath: path].localhostNodePorts = try section["localhostNodePorts"]?.bool()
            }
            c.ipvsScheduler = try f["ipvs"]?["scheduler"]?.string()
            return c
        } catch let e as FieldError {
            throw ManifestError(file: file, line: e.line, object: object, field: e.path, message: e.message)
        }
    }
}
