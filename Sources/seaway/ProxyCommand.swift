import ArgumentParser
import Glibc
import SeawayDataplane
import SeawayKernel
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayProxyAgent
import SeawayProxyCore

struct ProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run as the node's kube-proxy on a manifest directory: watch it, keep the kernel's rules in step.",
        discussion: """
            Changes under --watch (inotify) queue a sync; syncs run at most once per
            --min-sync-period and at least once per --sync-period, as kube-proxy's do. nftables
            mode sends only what changed over netlink (the first sync replaces the tables);
            iptables mode restores only the changed chains (iptables-restore --noflush).
            userspace mode runs a TCP/UDP proxy (round robin, ClientIP affinity, retries on a
            failed connect) and redirects service traffic to it with nftables maps. Manifests that fail to load, and
            syncs the kernel refuses, change nothing and are logged and counted. /healthz and
            /livez answer on --healthz-bind-address, Prometheus /metrics (kube-proxy's names) on
            --metrics-bind-address. The rules stay when the agent stops (`seaway cleanup` removes them).
            """)

    @Option(help: "nftables, iptables or userspace.")
    var mode: ProxyMode

    @Option(help: "The directory of manifests to watch (Services, EndpointSlices, the Node...).")
    var watch: String?

    @OptionGroup var source: KubeSourceOptions

    @OptionGroup var proxy: ProxyInputOptions

    @Option(help: "Seconds between syncs at least (kube-proxy's --min-sync-period).")
    var minSyncPeriod: Double = 1

    @Option(help: "Seconds between syncs at most (kube-proxy's --sync-period).")
    var syncPeriod: Double = 30

    @Option(help: "Userspace mode: seconds an idle UDP session lives (kube-proxy's --udp-timeout).")
    var udpTimeout: Double = 0.25

    @Option(help: "host:port for /healthz and /livez; empty to disable.")
    var healthzBindAddress = "0.0.0.0:10256"

    @Option(help: "host:port for /metrics; empty to disable.")
    var metricsBindAddress = "127.0.0.1:10249"

    func run() throws {
        try reportingErrors {
            // Before anything changes (nfacct counters included).
            if mode == .ipvs { try IPVSApplier.requireIPVS() }
            guard minSyncPeriod >= 0, syncPeriod > 0 else { throw ValidationError("sync periods must be positive") }
            guard udpTimeout > 0 else { throw ValidationError("--udp-timeout must be positive") }
            let environment = ProcessIO.environment()
            let (agentSource, options) = try sourceAndOptions(environment)
            var config = ProxyAgent.Configuration(mode: mode, source: agentSource, options: options)
            config.minSyncPeriod = .milliseconds(Int64(minSyncPeriod * 1000))
            config.syncPeriod = .milliseconds(Int64(syncPeriod * 1000))
            config.udpIdleTimeout = .milliseconds(Int64(udpTimeout * 1000))
            config.healthz = try healthzBindAddress.isEmpty ? nil : ListenAddress(healthzBindAddress, option: "--healthz-bind-address").pair
            config.metrics = try metricsBindAddress.isEmpty ? nil : ListenAddress(metricsBindAddress, option: "--metrics-bind-address").pair
            // Whoever started us may have blocked these (a test runner's thread, a shell);
            // a DaemonSet's agent must stop on SIGTERM. Threads started later inherit this.
            var signals = sigset_t()
            sigemptyset(&signals)
            for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, s) }
            pthread_sigmask(SIG_UNBLOCK, &signals, nil)
            let agent = try ProxyAgent(config) { printNotice($0) }
            try agent.run()
        }
    }
}

extension ProxyCommand {
    /// Where the agent reads the cluster from, and the node's settings resolved against what
    /// it reads there now. (A function of its own so that the cluster read for the settings
    /// is freed before the agent runs: at 10,000 services a manifest directory's is 35 MB.)
    private func sourceAndOptions(_ environment: [String: String]) throws -> (ProxyAgent.Source, ProxyOptions) {
        let agentSource: ProxyAgent.Source
        let cluster: ClusterState
        switch (watch, source.isLive) {
        case let (directory?, false):
            cluster = try ManifestLoader().load([directory])
            agentSource = .directory(directory)
        case (nil, true):
            // The node and the ServiceCIDRs, read once to resolve the node's settings first
            // (the services come with the agent's own watch).
            let connection = try source.connection()
            let node = proxy.hostnameOverride ?? Self.hostname()
            cluster = try blocking { try await LiveCluster.read(connection, resources: KubeResource.proxyNodeSettings(node: node)).cluster }
            agentSource = .apiServer(connection)
        default:
            throw ValidationError("give --watch DIR or --kubeconfig/--context/--in-cluster (one of them)")
        }
        var options = try proxy.resolve(mode: mode, cluster: cluster) {
            try NodeProbe.host(nodeName: proxy.hostnameOverride, nodeIPs: nil, environment: environment)
        }
        options.nfacctCounters = Set(NodeProbe.ensureCounters(NFAcctCounter.all.filter(options.nfacctCounters.contains),
                                                              environment: environment))
        return (agentSource, options)
    }

    /// The node name kube-proxy assumes without --hostname-override: the host's name.
    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).lowercased()
    }
}

extension ListenAddress {
    var pair: (host: String, port: Int) { (host, port) }
}
