import Benchmark
import Foundation
import SeawayKernel
import SeawayTestSupport
import SyntheticCluster
import Synchronization

// Network programming latency as kube-proxy reports it: from a watch event leaving the API
// server to the agent's rules for it standing in the kernel. The real `seaway proxy`
// (release build) runs in a namespace of its own against the tests' fake API server, which
// serves the synthetic cluster there; each iteration changes one endpoint of another
// service and waits for the agent's log line that follows the kernel's acknowledgement of
// that sync. --min-sync-period 0, so the time is the agent's own (kube-proxy's default of 1 s
// would add up to a second of deliberate batching). The agent's memory is read from /proc.

/// The `seaway` binary to run: $SEAWAY_BINARY, or the main package's release build.
private var seawayBinary: String {
    let path = ProcessInfo.processInfo.environment["SEAWAY_BINARY"] ?? "../.build/release/seaway"
    guard FileManager.default.isExecutableFile(atPath: path) else {
        fatalError("no seaway binary at \(path): run `swift build -c release --product seaway` in the main package first")
    }
    return path
}

/// `seaway proxy --kubeconfig` in the namespace, its log read as it comes.
final class LiveAgent: @unchecked Sendable {
    let process = Process()
    private let pipe = Pipe()
    private let syncs = NSCondition()
    private var synced = 0
    private var lines: [String] = []

    init(namespace: String, kubeconfig: String, host: String, shape: String) {
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, seawayBinary, "proxy", "--mode", "nftables", "--kubeconfig", kubeconfig,
                             "--host", host, "--hostname-override", "node-0", "--cluster-cidr", "10.128.0.0/9",
                             "--nftables-shape", shape, "--min-sync-period", "0", "--sync-period", "600",
                             "--healthz-bind-address", "", "--metrics-bind-address", ""]
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { fatalError("start seaway proxy: \(error)") }
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                pending += chunk
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    syncs.lock()
                    lines.append(line)
                    if line.contains("synced nftables") { synced += 1; syncs.broadcast() }
                    syncs.unlock()
                }
            }
        }
    }

    /// Syncs that changed the kernel so far.
    var syncCount: Int { syncs.lock(); defer { syncs.unlock() }; return synced }

    /// Waits for sync number `count + 1`.
    func waitForSync(after count: Int, timeout: TimeInterval = 600) {
        let deadline = Date().addingTimeInterval(timeout)
        syncs.lock()
        defer { syncs.unlock() }
        while synced <= count {
            guard process.isRunning, syncs.wait(until: deadline) || synced > count else {
                fatalError("seaway proxy did not sync: \(lines.suffix(20).joined(separator: "\n"))")
            }
        }
    }

    /// The agent's resident and peak resident memory in MB (/proc/PID/status).
    var memory: (resident: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                  let kB = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
            return kB / 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// A node namespace with the fake API server serving the synthetic cluster inside it, and
/// the agent programming it.
final class LiveNode: @unchecked Sendable {
    let namespace: BenchNamespace
    let server: FakeAPIServer
    let agent: LiveAgent
    let services: Int
    private var flipped: Set<Int> = []
    private var next = 0

    init(services: Int, shape: String) {
        namespace = BenchNamespace.named("live-\(services)-\(shape)")
        _ = try? Subprocess.run("/usr/sbin/ip", arguments: ["-n", namespace.name, "link", "set", "lo", "up"], environment: [:], input: [])
        self.services = services
        server = namespace.inside { try FakeAPIServer() }
        server.state.withLock { $0.pageSize = 500 }
        server.seed(path: SyntheticAPIObjects.nodesPath, [SyntheticAPIObjects.node])
        server.seed(path: SyntheticAPIObjects.serviceCIDRsPath, [SyntheticAPIObjects.serviceCIDR])
        server.seed(path: SyntheticAPIObjects.servicesPath, (0..<services).map(SyntheticAPIObjects.service))
        server.seed(path: SyntheticAPIObjects.slicesPath, (0..<services).map { SyntheticAPIObjects.slice($0, endpoints: 10) })
        let directory = NSTemporaryDirectory() + namespace.name
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try! server.writeKubeconfig(to: directory + "/kubeconfig")
        try! """
            nodeName: node-0
            nodeIPs: [192.168.0.10]
            interfaceAddresses: [127.0.0.1/8, 192.168.0.10/24]
            """.write(toFile: directory + "/host.yaml", atomically: true, encoding: .utf8)
        agent = LiveAgent(namespace: namespace.name, kubeconfig: directory + "/kubeconfig", host: directory + "/host.yaml", shape: shape)
        agent.waitForSync(after: 0)  // the first, full sync
    }

    /// Moves the first endpoint of the next service (spread over the cluster) away from its
    /// address, or back.
    func changeOneEndpoint() {
        let i = (next * 7_919) % services
        next += 1
        let away = !flipped.contains(i)
        if away { flipped.insert(i) } else { flipped.remove(i) }
        let replacement = away ? "10.255.\(i >> 8 & 255).\(i & 255)" : nil
        server.apply(.modified, path: SyntheticAPIObjects.slicesPath, SyntheticAPIObjects.slice(i, endpoints: 10, replacingFirst: replacement))
    }
}

func watchToRulesBenchmarks() {
    let resident = BenchmarkMetric.custom("agent resident (MB)", polarity: .prefersSmaller)
    let peak = BenchmarkMetric.custom("agent peak resident (MB)", polarity: .prefersSmaller)
    let configuration = Benchmark.Configuration(metrics: [.wallClock, resident, peak], warmupIterations: 3,
                                                maxDuration: .seconds(120), maxIterations: 200)
    for (services, shape) in [(1_000, "kube-proxy"), (10_000, "kube-proxy"), (10_000, "compact")] {
        Benchmark("watch event to rules applied \(services / 1000)k x 10 \(shape) shape: seaway proxy --kubeconfig",
                  configuration: configuration) { benchmark in
            let node = Cache.value("live node \(services) \(shape)") { LiveNode(services: services, shape: shape) }
            for _ in benchmark.scaledIterations {
                let before = node.agent.syncCount
                benchmark.startMeasurement()
                node.changeOneEndpoint()
                node.agent.waitForSync(after: before)
                benchmark.stopMeasurement()
            }
            let memory = node.agent.memory
            benchmark.measurement(resident, memory.resident)
            benchmark.measurement(peak, memory.peak)
        }
    }
    atexit {
        for value in Cache.all(LiveNode.self) { value.agent.stop(); value.server.stop() }
    }
}
