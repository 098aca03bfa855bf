import ArgumentParser
import Dispatch
import Foundation
import Logging
import NIOCore
import SeawayDNS
import SeawayDNSServer
import SeawayKernel
import SeawayKube
import SeawayLoader
import Synchronization
import SeawayModel

struct DNSServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve cluster DNS from manifests over UDP and TCP, as CoreDNS with its kubernetes plugin would.",
        discussion: """
            Names in the zones are answered from the manifests (SERVFAIL until they have loaded); \
            everything else goes to --upstream. SIGHUP reloads the manifests (a bad reload keeps the \
            last good state); SIGINT/SIGTERM stop the server.
            """)

    @Option(help: ArgumentHelp("Address and port for UDP and TCP: 127.0.0.1:5353, [::1]:53, :53 (default 127.0.0.1:5353, or all addresses on the Corefile's port).", valueName: "addr:port"))
    var listen: String?

    @Option(help: ArgumentHelp("Where names outside the zones go (UDP, TCP on truncation).", valueName: "ip:port"))
    var upstream: String?

    @Option(help: ArgumentHelp("Serve /health, /ready and /metrics here (repeat it).", valueName: "addr:port"))
    var httpListen: [String] = []

    @Option(help: ArgumentHelp("Read the kubernetes, forward, cache, health, ready, prometheus, errors and log settings from a CoreDNS Corefile; flags given too take precedence.", valueName: "file"))
    var corefile: String?

    @Flag(help: "Log every query (CoreDNS's log plugin).")
    var log = false

    @Option(help: "Event loop threads (default: one per core, or one per CPU of --cpu-affinity).")
    var threads: Int?

    @Option(help: ArgumentHelp("Pin each UDP thread to a CPU of this list (0-1, 0,2), in turn, as NSD's cpu-affinity does (default: the scheduler places them).", valueName: "cpu-list"))
    var cpuAffinity: String?

    @OptionGroup var zone: DNSZoneArguments

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories (Services, EndpointSlices, Endpoints, Pods, Namespaces); '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws {
        try source.validate(manifests: manifests)
        if let listen { _ = try ListenAddress(listen, option: "--listen") }
        for h in httpListen { _ = try ListenAddress(h, option: "--http-listen") }
        if let upstream { _ = try ListenAddress(upstream, option: "--upstream") }
        if let cpuAffinity { _ = try cpuList(cpuAffinity) }
    }

    /// --cpu-affinity's CPUs, each one this process may use.
    private func cpuList(_ text: String) throws -> [Int] {
        do {
            let cpus = try CPUAffinity.parseList(text)
            try CPUAffinity.checkUsable(cpus)
            return cpus
        } catch let error as CPUUnusable {
            throw ValidationError("--cpu-affinity '\(text)': \(error)")
        } catch {
            throw ValidationError("--cpu-affinity \(error)")
        }
    }

    func run() throws {
        Heap.keepBigAllocationsApart()
        let (config, options) = try reportingErrors { try serverConfiguration() }
        var logger = Logger(label: "seaway.dns")
        logger.logLevel = .info
        let store = ZoneStore(options: options)
        let server = try reportingErrors { try DNSServer.start(config, store: store, logger: logger) }
        printNotice("dns: listening on \(config.host):\(server.port) (udp, tcp)"
            + zip(config.httpListeners, server.httpPorts).map { ", http \($0.0.host):\($0.1)" }.joined())
        let manifests = self.manifests
        @Sendable func load(initial: Bool) {
            do {
                let o = options.stampedNow()
                let (zone, loaded) = try { () throws -> (KubernetesZone, String) in
                    let cluster = try ManifestLoader().load(manifests)
                    // Parsing manifests takes several times the memory the zone keeps: the
                    // parser's garbage goes back before the zone is built, the cluster state
                    // (at the end of this scope) when `replace` starts. (glibc keeps freed
                    // pages in the loading thread's arena otherwise.)
                    Heap.returnFreedMemory()
                    return (ZoneStore.zone(options: o, cluster: cluster),
                            "\(cluster.services.count) services, \(cluster.endpointSlices.count) EndpointSlices, \(cluster.pods.count) pods")
                }()
                store.replace(zone)
                printNotice("dns: loaded \(loaded)")
            } catch {
                printError("dns: \(initial ? "cannot load" : "reload failed, keeping the last good state"): \(error)")
                // Nothing to serve: stop at once (the kernel closes the sockets).
                if initial { Foundation.exit(1) }
            }
        }
        // Loading (which may block on stdin) runs apart from signal handling, so a stop
        // signal is always heard.
        let live = self.source.isLive
        let signals = DispatchQueue(label: "seaway.dns.signals")
        let loading = DispatchQueue(label: "seaway.dns.loading")
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGHUP, SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: signals)
            source.setEventHandler {
                // Stopping needs no draining: UDP has no connections, and the kernel closes
                // the sockets.
                if sig == SIGHUP {
                    if !live { loading.async { load(initial: false) } }
                } else {
                    Foundation.exit(0)
                }
            }
            source.resume()
            sources.append(source)
        }
        if source.isLive {
            // Watched, as CoreDNS's kubernetes plugin does: until the first full list the
            // zone answers SERVFAIL; afterwards each change (coalesced) swaps the zone, and
            // when the API server goes away the last good zone keeps answering.
            let connection = try reportingErrors { try source.connection() }
            let client = try reportingErrors { try KubeClient(connection) }
            let scheduled = Mutex(false)
            let informerBox = InformerBox()
            let informer = KubeInformer(client: client, resources: KubeResource.dns, onChange: {
                guard scheduled.withLock({ s in defer { s = true }; return !s }) else { return }
                loading.asyncAfter(deadline: .now() + .milliseconds(100)) {
                    scheduled.withLock { $0 = false }
                    let o = options.stampedNow()
                    // The snapshot is gone once the zone is built, so `replace` gives its pages back.
                    guard let zone = informerBox.informer?.snapshot().map({ ZoneStore.zone(options: o, cluster: $0) }) else { return }
                    store.replace(zone)
                }
            }, log: { printError("dns: \($0)") })
            informerBox.informer = informer
            printNotice("dns: watching \(connection.server) (\(connection.origin))")
            _ = informer.start()
            // Staleness as a metric, not as unreadiness: CoreDNS keeps its replicas ready in
            // an API outage too, since all of them going unready would take DNS down with it.
            let stale = server.metrics.sourceStale()
            Task.detached {
                while true {
                    stale.set(Int64(informer.status.failingSince == nil ? 0 : 1))
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        } else {
            loading.async { load(initial: true) }
        }
        try server.wait()
        _ = sources
    }

    /// Flags over the Corefile over the defaults.
    func serverConfiguration() throws -> (DNSServer.Configuration, KubernetesDNSOptions) {
        var base = KubernetesDNSOptions()
        var file: Corefile?
        if let corefile {
            let parsed = try Corefile(text: readTextFile(corefile), file: corefile) { try? readTextFile($0) }
            for note in parsed.ignored { printNotice("\(corefile):\(note): has no effect in seaway") }
            base = parsed.kubernetesOptions
            file = parsed
        }
        let address = try listen.map { try ListenAddress($0, option: "--listen") }
            ?? file?.port.map { ListenAddress(host: "0.0.0.0", port: $0) } ?? ListenAddress(host: "127.0.0.1", port: 5353)
        var config = DNSServer.Configuration(host: address.host, port: address.port)
        var options = zone.options(over: base)
        if let file {
            if let u = file.upstream {
                config.forwarder = Forwarder.Settings(upstream: try SocketAddress(ipAddress: u.host, port: u.port))
                if let cache = file.cache { config.forwarder?.apply(cache) }
            }
            config.httpListeners = file.httpListeners.map { ($0.host, $0.port) }
            config.logQueries = file.logQueries
        }
        if let upstream {
            let u = try ListenAddress(upstream, option: "--upstream")
            config.forwarder = Forwarder.Settings(upstream: try SocketAddress(ipAddress: u.host, port: u.port))
        }
        if !httpListen.isEmpty {
            config.httpListeners = try httpListen.map { let a = try ListenAddress($0, option: "--http-listen"); return (a.host, a.port) }
        }
        if log { config.logQueries = true }
        if let cpuAffinity {
            config.udpCPUs = try cpuList(cpuAffinity)
            config.threads = config.udpCPUs.count
        }
        if let threads { config.threads = threads }
        if options.localIPs.isEmpty {
            options.localIPs = [IPAddress(address.host).flatMap { ip in ip.isUnspecified ? nil : ip } ?? IPAddress("127.0.0.1")!]
        }
        return (config, options)
    }
}

extension Forwarder.Settings {
    mutating func apply(_ cache: Corefile.Cache) {
        cacheCapacity = cache.successCapacity
        maxSuccessTTL = cache.maxSuccessTTL
        maxDenialTTL = cache.maxDenialTTL
        minTTL = cache.minTTL
    }
}

/// `host:port`, `[v6]:port` or `:port` (all IPv4 interfaces).
struct ListenAddress {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(_ text: String, option: String) throws {
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(after: close)...].dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        } else {
            throw ValidationError("\(option) '\(text)': expected address:port")
        }
        if hostPart.isEmpty { hostPart = "0.0.0.0" }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw ValidationError("\(option) '\(text)': the port must be a number from 0 to 65535")
        }
        guard IPAddress(hostPart) != nil else { throw ValidationError("\(option) '\(text)': '\(hostPart)' is not an IP address") }
        host = String(hostPart)
        self.port = port
    }
}

extension IPAddress {
    var isUnspecified: Bool { high == 0 && low == 0 }
}


/// The informer, for its own change callback (set once, before the informer runs).
private final class InformerBox: @unchecked Sendable {
    var informer: KubeInformer?
}
