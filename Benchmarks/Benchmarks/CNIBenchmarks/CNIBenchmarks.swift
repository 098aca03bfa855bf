// CNI ADD and DEL latency: seaway-bridge + seaway-ipam against the reference bridge +
// host-local (/usr/lib/cni), in the same run, on the same node namespace, with and without
// ipMasq. ADD and DEL are measured apart (each benchmark does the other, unmeasured, to
// keep the node in the same state; DEL 100 ms after its ADD). The plugins are spawned from a thread inside the node
// namespace, as a runtime in the host namespace would run them: no `ip netns exec` time.
// Needs root; build the plugins first:
//   swift build -c release --product seaway-bridge --product seaway-ipam
//   cd Benchmarks && swift package --disable-sandbox benchmark --target CNIBenchmarks
import Benchmark
import Glibc
import SeawayKernel

/// A node namespace and one pod namespace, made once for the whole run.
final class BenchmarkNode: @unchecked Sendable {
    let node: String, pod: String
    let dataDirectory: String

    init() throws {
        node = "seaway-bench-node-\(getpid())"
        pod = "seaway-bench-pod-\(getpid())"
        dataDirectory = "/tmp/seaway-cni-bench-\(getpid())"
        for ns in [node, pod] { _ = try Subprocess.run("/usr/sbin/ip", arguments: ["netns", "add", ns], environment: [:], input: []) }
        atexit { BenchmarkNode.cleanUp() }
    }

    nonisolated(unsafe) static var created: BenchmarkNode?

    static func cleanUp() {
        guard let n = created else { return }
        for ns in [n.node, n.pod] { _ = try? Subprocess.run("/usr/sbin/ip", arguments: ["netns", "del", ns], environment: [:], input: []) }
    }
}

struct PluginPair {
    var label: String
    var bridge: String
    var ipamType: String
}

func config(_ pair: PluginPair, ipMasq: Bool, dataDirectory: String) -> [UInt8] {
    Array(#"{"cniVersion":"1.0.0","name":"bench-\#(pair.label)","type":"bridge","bridge":"cni-\#(pair.label.prefix(4))","isGateway":true,"ipMasq":\#(ipMasq),"ipam":{"type":"\#(pair.ipamType)","subnet":"10.\#(pair.label == "seaway" ? 31 : 32).0.0/16","dataDir":"\#(dataDirectory)"}}"#.utf8)
}

/// Runs one plugin command in the node namespace; a failure stops the benchmark loudly.
func run(_ command: String, _ pair: PluginPair, _ n: BenchmarkNode, _ conf: [UInt8], cniPath: String) {
    let env = ["CNI_COMMAND": command, "CNI_CONTAINERID": "bench", "CNI_NETNS": "/var/run/netns/\(n.pod)", "CNI_IFNAME": "eth0",
               "CNI_PATH": cniPath, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
    do {
        let outcome = try NetworkNamespace(path: "/var/run/netns/\(n.node)").run { () throws(SystemError) in
            try Subprocess.run(pair.bridge, environment: env, input: conf)
        }
        if outcome.status != 0 { fatalError("\(pair.label) \(command) failed: \(String(decoding: outcome.stdout, as: UTF8.self))") }
    } catch {
        fatalError("\(pair.label) \(command): \(error)")
    }
}

let benchmarks: @Sendable () -> Void = {
    guard getuid() == 0 else {
        print("SKIPPED: the CNI benchmarks need root (they make network namespaces)")
        return
    }
    let bin = ProcessIO.environment()["SEAWAY_CNI_BIN"] ?? "../.build/release"
    let cniPath = bin + ":/usr/lib/cni"
    guard let n = try? BenchmarkNode() else { fatalError("cannot create the benchmark namespaces") }
    BenchmarkNode.created = n
    let pairs = [PluginPair(label: "reference", bridge: "/usr/lib/cni/bridge", ipamType: "host-local"),
                 PluginPair(label: "seaway", bridge: bin + "/seaway-bridge", ipamType: "seaway-ipam")]
    let settings = Benchmark.Configuration(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 3,
                                           maxDuration: .seconds(60), maxIterations: 50)
    for ipMasq in [true, false] {
        for pair in pairs {
            let conf = config(pair, ipMasq: ipMasq, dataDirectory: n.dataDirectory)
            let suffix = ipMasq ? "isGateway + ipMasq" : "isGateway"
            Benchmark("CNI ADD \(pair.label) (\(suffix))", configuration: settings) { benchmark in
                benchmark.startMeasurement()
                run("ADD", pair, n, conf, cniPath: cniPath)
                benchmark.stopMeasurement()
                run("DEL", pair, n, conf, cniPath: cniPath)
            }
            Benchmark("CNI DEL \(pair.label) (\(suffix))", configuration: settings) { benchmark in
                run("ADD", pair, n, conf, cniPath: cniPath)
                // A DEL right after an ADD waits for the kernel's deferred work on the new link
                // (linkwatch, IPv6 address configuration, both under the RTNL lock); real pods
                // live longer than that, so let it settle.
                usleep(100_000)
                benchmark.startMeasurement()
                run("DEL", pair, n, conf, cniPath: cniPath)
                benchmark.stopMeasurement()
            }
        }
    }
}
