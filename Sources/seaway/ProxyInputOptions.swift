import ArgumentParser
import SeawayLoader
import SeawayModel
import SeawayProxyCore

extension ProxyMode: ExpressibleByArgument {}

/// What kube-proxy reads besides the manifests: its configuration file, its own flags, and
/// a description of the node. Shared by every command that renders rules.
struct ProxyInputOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "A KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1).")
    var configFile: String?

    @Option(name: .customLong("host"), help: "A host description: nodeName, nodeIPs, interfaceAddresses, kernel features.")
    var hostFile: String?

    @Option(name: .customLong("hostname-override"), help: "The node to render for (default: the only Node in the manifests).")
    var hostnameOverride: String?

    @Option(name: .customLong("cluster-cidr"), help: "Pod CIDR(s), comma separated (ClusterCIDR local-traffic detection).")
    var clusterCIDR: String?

    @Option(name: .customLong("detect-local-mode"), help: "ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix.")
    var detectLocalMode: String?

    @Flag(name: .customLong("masquerade-all"), help: "SNAT all traffic sent to ClusterIPs.")
    var masqueradeAll = false

    @Option(name: .customLong("nodeport-addresses"), help: "CIDRs (comma separated) or 'primary' that accept NodePort traffic.")
    var nodePortAddresses: String?

    @Option(name: .customLong("iptables-masquerade-bit"), help: "The fwmark bit for SNAT (0-31, default 14).")
    var masqueradeBit: Int?

    @Option(name: .customLong("iptables-localhost-nodeports"), help: "Allow NodePorts on 127.0.0.1 (IPv4, iptables mode).")
    var localhostNodePorts: Bool?

    @Option(name: .customLong("ipvs-scheduler"), help: "IPVS scheduler (rr, wrr, lc, wlc, lblc, lblcr, sh, dh, sed, nq, mh).")
    var ipvsScheduler: String?

    @Option(help: "nftables rule shape: kube-proxy (its exact rules) or compact (endpoints chosen without per-service anonymous maps, much faster for the kernel to load; Seaway's own).")
    var nftablesShape: NFTablesShape = .kubeProxy

    @Option(help: "nftables: spread the services over this many tables besides kube-proxy's (1-64; default 1, kube-proxy's one table), so an endpoint change makes the kernel re-validate one of them instead of all (Seaway's own).")
    var nftablesShards: Int?

    @Option(name: .customLong("proxy-port-range"), help: "Userspace mode: the ports its listeners take (begin-end or begin+offset; default 10000-29999).")
    var proxyPortRange: String?

    enum NFTablesShape: String, ExpressibleByArgument {
        case kubeProxy = "kube-proxy", compact
    }

    var flags: ProxyFlags {
        var f = ProxyFlags()
        f.hostnameOverride = hostnameOverride
        f.clusterCIDR = clusterCIDR
        f.detectLocalMode = detectLocalMode
        f.masqueradeAll = masqueradeAll ? true : nil
        f.nodePortAddresses = nodePortAddresses.map { $0.split(separator: ",").map(String.init) }
        f.masqueradeBit = masqueradeBit
        f.localhostNodePorts = localhostNodePorts
        f.ipvsScheduler = ipvsScheduler
        f.nftablesCompact = nftablesShape == .compact
        f.nftablesShards = nftablesShards
        f.proxyPortRange = proxyPortRange
        return f
    }

    /// Options for `mode` on the node, resolved against `cluster`. `probedHost` is what the
    /// real node says, used when no `--host` file is given (apply); it runs only after the
    /// inputs have been read and checked.
    func resolve(mode: ProxyMode, cluster: ClusterState, probedHost: (() throws -> HostDescription)? = nil) throws -> ProxyOptions {
        let config = try configFile.map { try KubeProxyConfiguration.decode(readTextFile($0), file: $0) }
        var host = try hostFile.map { try HostDescription.decode(readTextFile($0), file: $0) }
        if host == nil, let probedHost {
            // Validate the flags and config against the manifests before touching the node.
            _ = try ProxyOptions.resolve(mode: mode, flags: flags, config: config, host: nil, cluster: cluster)
            host = try probedHost()
        }
        return try ProxyOptions.resolve(mode: mode, flags: flags, config: config, host: host, cluster: cluster)
    }
}
