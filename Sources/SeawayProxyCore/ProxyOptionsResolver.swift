import SeawayModel

/// kube-proxy's own flags, as given on Seaway's command line (nil: not given).
public struct ProxyFlags: Sendable, Hashable {
    public var hostnameOverride: String?
    public var clusterCIDR: String?
    public var detectLocalMode: String?
    public var masqueradeAll: Bool?
    public var nodePortAddresses: [String]?
    public var masqueradeBit: Int?
    public var localhostNodePorts: Bool?
    public var ipvsScheduler: String?
    /// Seaway's `--nftables-shape compact` (see ProxyOptions).
    public var nftablesCompact = false
    /// Seaway's `--nftables-shards` (see ProxyOptions).
    public var nftablesShards: Int?
    /// `--proxy-port-range`: `begin-end` or `begin+offset`, as kube-proxy writes it.
    public var proxyPortRange: String?

    public init() {}
}

/// A configuration value that cannot be used, named the way kube-proxy's flag is.
public struct ProxyConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var setting: String
    public var message: String

    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }

    public var description: String { "\(setting): \(message)" }
}

extension ProxyOptions {
    /// Resolves the options kube-proxy would run with on one node. Precedence: flags, then
    /// the KubeProxyConfiguration file, then the host description, then the Node object in
    /// the manifests, then kube-proxy's defaults.
    public static func resolve(mode: ProxyMode, flags: ProxyFlags, config: KubeProxyConfiguration?,
                               host: HostDescription?, cluster: ClusterState) throws -> ProxyOptions {
        var o = ProxyOptions()
        let config = config ?? KubeProxyConfiguration()
        let modeSettings = mode == .nftables ? config.nftables : config.iptables

        // Node identity: the one Node object in the manifests is a fine default for a dry run.
        let nodeName = flags.hostnameOverride ?? config.hostnameOverride ?? host?.nodeName
            ?? (cluster.nodes.count == 1 ? cluster.nodes[0].metadata.name : nil)
        o.nodeName = nodeName ?? ""
        let node = nodeName.flatMap(cluster.node(named:))
        if let ips = host?.nodeIPs {
            o.nodeIPs = IPFamily.allCases.compactMap { f in ips.first { $0.family == f } }
        } else if let node {
            o.nodeIPs = IPFamily.allCases.compactMap(node.primaryIP)
        }
        o.nodeLabels = node?.metadata.labels ?? [:]
        o.interfaceAddresses = host?.interfaceAddresses ?? o.nodeIPs

        o.masqueradeAll = flags.masqueradeAll ?? modeSettings.masqueradeAll ?? config.iptables.masqueradeAll ?? false
        o.masqueradeBit = flags.masqueradeBit ?? modeSettings.masqueradeBit ?? config.iptables.masqueradeBit ?? 14
        guard (0...31).contains(o.masqueradeBit) else {
            throw ProxyConfigurationError(setting: "--iptables-masquerade-bit", message: "must be 0-31")
        }
        o.localhostNodePorts = flags.localhostNodePorts ?? config.iptables.localhostNodePorts ?? true

        // kube-proxy defaults nftables mode to the node's primary IPs, the others to all.
        o.nodePortAddresses = flags.nodePortAddresses ?? config.nodePortAddresses ?? (mode == .nftables ? ["primary"] : [])
        for spec in o.nodePortAddresses where spec != "primary" && CIDR(spec) == nil {
            throw ProxyConfigurationError(setting: "--nodeport-addresses", message: "'\(spec)' is not a CIDR or 'primary'")
        }

        let detectMode = flags.detectLocalMode ?? config.detectLocalMode ?? "ClusterCIDR"
        switch detectMode {
        case "ClusterCIDR", "":
            let text = flags.clusterCIDR ?? config.clusterCIDR ?? ""
            var cidrs: [CIDR] = []
            for part in text.split(separator: ",") {
                guard let cidr = CIDR(part.trimmingASCIIWhitespace()) else {
                    throw ProxyConfigurationError(setting: "--cluster-cidr", message: "'\(part)' is not a CIDR")
                }
                cidrs.append(cidr)
            }
            o.detectLocal = cidrs.isEmpty ? .none : .clusterCIDR(cidrs)
        case "NodeCIDR":
            guard let node, !node.podCIDRs.isEmpty else {
                throw ProxyConfigurationError(setting: "--detect-local-mode",
                                              message: "NodeCIDR needs the Node object (with spec.podCIDRs) in the manifests")
            }
            o.detectLocal = .nodeCIDR(node.podCIDRs)
        case "BridgeInterface":
            guard let name = config.bridgeInterface, !name.isEmpty else {
                throw ProxyConfigurationError(setting: "detectLocal.bridgeInterface", message: "required for BridgeInterface mode")
            }
            o.detectLocal = .bridgeInterface(name)
        case "InterfaceNamePrefix":
            guard let prefix = config.interfaceNamePrefix, !prefix.isEmpty else {
                throw ProxyConfigurationError(setting: "detectLocal.interfaceNamePrefix", message: "required for InterfaceNamePrefix mode")
            }
            o.detectLocal = .interfaceNamePrefix(prefix)
        default:
            throw ProxyConfigurationError(setting: "--detect-local-mode",
                                          message: "unsupported mode '\(detectMode)' (ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix)")
        }

        o.nfacctCounters = Set(host?.nfacctCounters ?? [])
        o.tcpBeLiberal = host?.tcpBeLiberal ?? false
        o.iptablesRandomFully = host?.iptablesRandomFully ?? true
        o.serviceCIDRs = cluster.serviceCIDRs.flatMap(\.cidrs)
        o.ipvsScheduler = flags.ipvsScheduler ?? config.ipvsScheduler ?? "rr"
        o.nftablesCompactEndpointSelection = flags.nftablesCompact
        if let shards = flags.nftablesShards {
            guard (1...ProxyOptions.maxNFTablesShards).contains(shards) else {
                throw ProxyConfigurationError(setting: "--nftables-shards",
                                              message: "\(shards) is not a number of tables from 1 to \(ProxyOptions.maxNFTablesShards)")
            }
            o.nftablesShards = shards
        }
        if let text = flags.proxyPortRange {
            guard let range = Self.portRange(text) else {
                throw ProxyConfigurationError(setting: "--proxy-port-range",
                                              message: "'\(text)' is not a port range (begin-end or begin+offset, within 1-65535)")
            }
            o.userspacePortRange = range
        }
        let schedulers = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh"]
        guard schedulers.contains(o.ipvsScheduler) else {
            throw ProxyConfigurationError(setting: "--ipvs-scheduler",
                                          message: "unsupported scheduler '\(o.ipvsScheduler)' (\(schedulers.joined(separator: ", ")))")
        }
        return o
    }
}

extension ProxyOptions {
    /// kube-proxy's port range syntax (`30000-32767`, `30000+2767`).
    static func portRange(_ text: String) -> ClosedRange<Int>? {
        let parts: [Substring], offset: Bool
        if text.contains("+") { (parts, offset) = (text.split(separator: "+", omittingEmptySubsequences: false), true) }
        else { (parts, offset) = (text.split(separator: "-", omittingEmptySubsequences: false), false) }
        guard parts.count == 2, let begin = Int(parts[0].trimmingSpaces), let second = Int(parts[1].trimmingSpaces) else { return nil }
        let end = offset ? begin + second : second
        guard begin >= 1, end <= 65535, begin <= end else { return nil }
        return begin...end
    }
}

private extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
