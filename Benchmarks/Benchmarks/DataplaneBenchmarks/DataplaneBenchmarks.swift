// nftables onto a real kernel, each figure next to its anchor in the same run:
//  - a full load of the synthetic cluster: Seaway over netlink (NFTScript + one libnftnl batch)
//    vs `nft -f` of the same text, in kube-proxy's shape and in Seaway's compact shape;
//  - a one-endpoint change on a loaded node: NFTablesProxier end to end (state update,
//    partial render, netlink) vs `nft -f` of the same partial transaction text.
// Each runs in a network namespace of its own (root needed):
//   cd Benchmarks && swift package --disable-sandbox benchmark --target DataplaneBenchmarks
import Benchmark
import Glibc
import SeawayDataplane
import SeawayKernel
import SeawayModel
import SeawayProxyCore
import SeawayRender
import SyntheticCluster

private func options(compact: Bool, shards: Int = 1) -> ProxyOptions {
    var o = SyntheticCluster.nodeOptions
    o.nftablesCompactEndpointSelection = compact
    o.nftablesShards = shards
    return o
}

/// A network namespace for the run, made on first use and deleted at exit.
final class BenchNamespace: @unchecked Sendable {
    let name: String
    var path: String { "/var/run/netns/\(name)" }

    private init(_ label: String) {
        name = "seaway-bench-\(label)-\(getpid())"
        _ = try? Subprocess.run("/usr/sbin/ip", arguments: ["netns", "add", name], environment: [:], input: [])
    }

    nonisolated(unsafe) private static var made: [String: BenchNamespace] = [:]
    nonisolated(unsafe) static var all: [String] { made.values.map(\.name) }

    static func named(_ label: String) -> BenchNamespace {
        if let ns = made[label] { return ns }
        let ns = BenchNamespace(label)
        made[label] = ns
        return ns
    }

    static func deleteAll() {
        for n in all { _ = try? Subprocess.run("/usr/sbin/ip", arguments: ["netns", "del", n], environment: [:], input: []) }
    }

    func inside<T>(_ body: () throws -> T) -> T {
        do {
            return try NetworkNamespace(path: path).run { () throws(SystemError) -> T in
                do { return try body() } catch { fatalError("\(error)") }
            }
        } catch {
            fatalError("enter \(name): \(error)")
        }
    }

    /// `nft -f` of `script` inside this namespace.
    func nft(_ script: [UInt8]) {
        let outcome = inside { try Subprocess.run("/usr/sbin/nft", arguments: ["-f", "-"], environment: [:], input: script, captureStderr: true) }
        if outcome.status != 0 { fatalError("nft -f failed: \(outcome.stderrText)") }
    }

    func emptyTables() {
        inside { try NFTablesApplier(environment: [:]).cleanup() }
    }
}

/// Values the benchmark closures build once (ordo-one calls a closure once per iteration).
enum Cache {
    nonisolated(unsafe) private static var values: [String: Any] = [:]

    static func value<T>(_ key: String, _ make: () -> T) -> T {
        if let v = values[key] as? T { return v }
        let v = make()
        values[key] = v
        return v
    }

    /// Every value of type `T` made so far.
    static func all<T>(_ type: T.Type) -> [T] { values.values.compactMap { $0 as? T } }
}

/// The same cluster twice, one endpoint of service 0 apart, and the change between them.
struct EndpointFlip {
    let a: ClusterState, b: ClusterState
    let toB: [ClusterChange], toA: [ClusterChange]

    init(services: Int) {
        a = SyntheticCluster.state(services: services, endpoints: 10)
        var changed = a
        changed.endpointSlices[0].endpoints[0].addresses = ["10.255.0.1"]
        b = changed
        toB = a.changes(to: b)
        toA = b.changes(to: a)
    }
}

final class Flag: @unchecked Sendable { var value = true }

let benchmarks: @Sendable () -> Void = {
    guard getuid() == 0 else {
        print("SKIPPED: the dataplane benchmarks need root (they make network namespaces)")
        return
    }
    atexit { BenchNamespace.deleteAll() }
    let once = Benchmark.Configuration(metrics: [.wallClock], warmupIterations: 0, maxDuration: .seconds(1), maxIterations: 1)
    let few = Benchmark.Configuration(metrics: [.wallClock], warmupIterations: 0, maxDuration: .seconds(60), maxIterations: 3)
    let kernel = BenchmarkMetric.custom("kernel batch (µs)")
    let many = Benchmark.Configuration(metrics: [.wallClock, kernel], warmupIterations: 5, maxDuration: .seconds(20), maxIterations: 200)

    // Full loads: the same text, into an empty namespace each time (emptied unmeasured).
    // Last, both shapes over 32 shard tables: the kernel names each anonymous map by
    // scanning its own table's sets, so kube-proxy's shape loads faster when split.
    for (n, shapes, shards) in [(1_000, [false, true], 1), (10_000, [true, false], 1), (10_000, [true, false], 32)] {
        for compact in shapes {
            let shape = (compact ? "compact" : "kube-proxy") + (shards > 1 ? " shape, \(shards) shard tables" : " shape")
            let config = n >= 10_000 && !compact && shards == 1 ? once : few
            let text: () -> [UInt8] = { Cache.value("text \(n) \(shape)") {
                let cluster = SyntheticCluster.state(services: n, endpoints: 10)
                let rulesets = try! RulesetRenderer.render(mode: .nftables, cluster: cluster, options: options(compact: compact, shards: shards))
                return NFTablesApplier.transaction(rulesets.compactMap { if case let .nftables(t) = $0 { t } else { nil } })
            } }
            Benchmark("nftables full load \(n / 1000)k x 10 \(shape): netlink", configuration: config) { benchmark in
                let ns = BenchNamespace.named("full-nl"), script = text()
                for _ in benchmark.scaledIterations {
                    benchmark.startMeasurement()
                    ns.inside { try NFTablesApplier(environment: [:]).send(script) }
                    benchmark.stopMeasurement()
                    ns.emptyTables()
                }
            }
            Benchmark("nftables full load \(n / 1000)k x 10 \(shape): nft -f (anchor)", configuration: config) { benchmark in
                let ns = BenchNamespace.named("full-nft"), script = text()
                for _ in benchmark.scaledIterations {
                    benchmark.startMeasurement()
                    ns.nft(script)
                    benchmark.stopMeasurement()
                    ns.emptyTables()
                }
            }
        }
    }

    // One endpoint changing back and forth on a loaded node: kube-proxy's shape (with nft -f
    // of the same transaction as the anchor), and the compact shape up to 20k.
    // Then both shapes spread over 32 shard tables (`--nftables-shards 32`), where a commit
    // revalidates one shard's chains instead of every service's; kube-proxy's shape again
    // with its nft -f anchor.
    for (n, compact, shards) in [(1_000, false, 1), (10_000, false, 1), (1_000, true, 1), (10_000, true, 1), (20_000, true, 1),
                                 (10_000, false, 32), (10_000, true, 32), (20_000, true, 32)] {
        let flip = Cache.value("flip \(n)") { EndpointFlip(services: n) }
        let shape = (compact ? "compact" : "kube-proxy") + (shards > 1 ? " shape, \(shards) shard tables" : " shape")
        Benchmark("nftables one-endpoint change \(n / 1000)k x 10 \(shape): proxier over netlink", configuration: many) { benchmark in
            // One loaded node for all iterations; each iteration flips the endpoint.
            let ns = BenchNamespace.named("change-nl-\(n)-\(compact ? "compact" : "kp")-\(shards)")
            let node = Cache.value("proxier \(n) \(shape)") { () -> (NFTablesProxier, Flag) in
                let proxier = ns.inside { try NFTablesProxier(options: options(compact: compact, shards: shards)) }
                ns.inside { _ = try proxier.sync(to: flip.a) }
                return (proxier, Flag())
            }
            let (proxier, atA) = node
            for _ in benchmark.scaledIterations {
                benchmark.startMeasurement()
                let sync: NFTablesProxier.Sync
                do {
                    sync = atA.value ? try proxier.sync(to: flip.b, changes: flip.toB) : try proxier.sync(to: flip.a, changes: flip.toA)
                } catch { fatalError("\(error)") }
                benchmark.stopMeasurement()
                benchmark.measurement(kernel, Int(sync.kernel.components.seconds * 1_000_000 + sync.kernel.components.attoseconds / 1_000_000_000_000))
                atA.value.toggle()
            }
        }
        guard !compact else { continue }
        let tables = shards > 1 ? ", \(shards) shard tables" : ""
        Benchmark("nftables one-endpoint change \(n / 1000)k x 10\(tables): nft -f of the same transaction (anchor)", configuration: few) { benchmark in
            let ns = BenchNamespace.named("change-nft-\(n)-\(shards)")
            let node = Cache.value("nft node \(n) \(shards)") { () -> ([UInt8], [UInt8], Flag) in
                var state = ProxyState(cluster: flip.a, options: options(compact: false, shards: shards), family: .ipv4)
                var sync = NFTablesSync(state.serviceMap)
                ns.inside { try NFTablesApplier(environment: [:]).send(NFTablesApplier.transaction(sync.rulesets)) }
                func delta(_ changes: [ClusterChange]) -> [UInt8] {
                    var changed: Set<ServicePortName> = []
                    for c in changes { changed.formUnion(state.apply(c)) }
                    return sync.update(state, changed: changed).bytes
                }
                return (delta(flip.toB), delta(flip.toA), Flag())
            }
            let (toB, toA, atA) = node
            for _ in benchmark.scaledIterations {
                benchmark.startMeasurement()
                ns.nft(atA.value ? toB : toA)
                benchmark.stopMeasurement()
                atA.value.toggle()
            }
        }
    }

    // iptables: a first load, a full resync of the loaded node (apply's path: save, then one
    // restore of every chain), and the one-endpoint partial sync against restoring only the
    // changed service's chains (the anchor: what the change itself costs). At 2k unless
    // SEAWAY_BENCH_IPTABLES_SERVICES says otherwise: at 10k iptables-nft 1.8.9's own first
    // load runs for many minutes (its chain lookups are linear).
    // SEAWAY_BENCH_IPTABLES_BACKEND=legacy runs the same on iptables' legacy backend (the
    // tools kube-proxy's image picks on a node whose rules are legacy), through PATH as
    // Debian's alternatives would: it loads 10k in seconds.
    let n = getenv("SEAWAY_BENCH_IPTABLES_SERVICES").flatMap { Int(String(cString: $0)) } ?? 2_000
    let iptables = IPTablesBackend(getenv("SEAWAY_BENCH_IPTABLES_BACKEND").map { String(cString: $0) } ?? "nft")
    let flip = Cache.value("flip \(n)") { EndpointFlip(services: n) }
    let rulesets = { (cluster: ClusterState) -> [IPTablesRuleset] in
        try! RulesetRenderer.render(mode: .iptables, cluster: cluster, options: options(compact: false))
            .compactMap { if case let .iptables(t) = $0 { t } else { nil } }
    }
    Benchmark("iptables first load \(n / 1000)k x 10\(iptables.label)", configuration: few) { benchmark in
        let ns = BenchNamespace.named("ipt-first"), tables = Cache.value("ipt rulesets a") { rulesets(flip.a) }
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            ns.inside { _ = try IPTablesApplier(environment: iptables.environment).apply(tables) }
            benchmark.stopMeasurement()
            ns.inside { try IPTablesApplier(environment: iptables.environment).cleanup() }
        }
    }
    Benchmark("iptables full resync \(n / 1000)k x 10 (loaded node)\(iptables.label)", configuration: few) { benchmark in
        let ns = BenchNamespace.named("ipt-resync")
        let tables = Cache.value("ipt rulesets a") { rulesets(flip.a) }
        _ = Cache.value("ipt resync loaded") { ns.inside { _ = try IPTablesApplier(environment: iptables.environment).apply(tables) }; return true }
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            ns.inside { _ = try IPTablesApplier(environment: iptables.environment).apply(tables) }
            benchmark.stopMeasurement()
        }
    }
    Benchmark("iptables one-endpoint change \(n / 1000)k x 10: proxier partial restore\(iptables.label)", configuration: few) { benchmark in
        let ns = BenchNamespace.named("ipt-change")
        let node = Cache.value("ipt proxier") { () -> (IPTablesProxier, Flag) in
            let proxier = IPTablesProxier(options: options(compact: false), environment: iptables.environment)
            ns.inside { _ = try proxier.sync(to: flip.a) }
            return (proxier, Flag())
        }
        let (proxier, atA) = node
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            ns.inside { _ = atA.value ? try proxier.sync(to: flip.b, changes: flip.toB) : try proxier.sync(to: flip.a, changes: flip.toA) }
            benchmark.stopMeasurement()
            atA.value.toggle()
        }
    }
    Benchmark("iptables one-endpoint change \(n / 1000)k x 10: restore of the changed chains alone (anchor)\(iptables.label)", configuration: few) { benchmark in
        let ns = BenchNamespace.named("ipt-anchor")
        let payloads = Cache.value("ipt anchor") { () -> ([UInt8], [UInt8]) in
            ns.inside { _ = try IPTablesApplier(environment: iptables.environment).apply(rulesets(flip.a)) }
            // The changed service's own chains, as the partial payload has them, without the
            // top-level chains around them.
            func changedChains(_ from: ClusterState, _ changes: [ClusterChange]) -> [UInt8] {
                var state = ProxyState(cluster: from, options: options(compact: false), family: .ipv4)
                var sync = IPTablesSync(state.serviceMap)
                var changed: Set<ServicePortName> = []
                for c in changes { changed.formUnion(state.apply(c)) }
                let partial = sync.update(state, changed: changed)
                return partial.serviceChainsOnly.bytes
            }
            return (changedChains(flip.a, flip.toB), changedChains(flip.b, flip.toA))
        }
        let atA = Cache.value("ipt anchor flag") { Flag() }
        for _ in benchmark.scaledIterations {
            let payload = atA.value ? payloads.0 : payloads.1
            benchmark.startMeasurement()
            let outcome = ns.inside { try Subprocess.run(iptables.restore, arguments: ["--noflush", "--wait"], environment: iptables.environment, input: payload, captureStderr: true) }
            benchmark.stopMeasurement()
            if outcome.status != 0 { fatalError("iptables-restore: \(outcome.stderrText)") }
            atA.value.toggle()
        }
    }

    // The datapath with 10,000 services (kube-proxy's nftables shape) on the node: new TCP
    // connections per second from a client to the first and the last service (both served by
    // one pod), and to that pod directly, the anchor. One node for all three, measured in
    // turn within each iteration (500 connections each), so drift hits all alike. Then the
    // same with the services spread over 32 shard tables, where every new connection passes
    // each shard's nat chains.
    let first = BenchmarkMetric.custom("to the first service (conn/s)", polarity: .prefersLarger)
    let last = BenchmarkMetric.custom("to the last service (conn/s)", polarity: .prefersLarger)
    let direct = BenchmarkMetric.custom("to the pod directly, anchor (conn/s)", polarity: .prefersLarger)
    let datapath = Benchmark.Configuration(metrics: [first, last, direct], warmupIterations: 3, maxDuration: .seconds(30), maxIterations: 60)
    for shards in [1, 32] {
        let tables = shards == 1 ? "" : ", \(shards) shard tables"
        Benchmark("datapath 10k services nftables\(tables): new connections per second", configuration: datapath) { benchmark in
            let node = Cache.value("datapath node \(shards)") { () -> DatapathNode in
                let node = DatapathNode(label: "dp\(shards)")
                var cluster = SyntheticCluster.state(services: 10_000, endpoints: 10)
                for i in [1, 9_999] {
                    cluster.endpointSlices[i].endpoints = [.init(addresses: [DatapathNode.podIP], conditions: .init(ready: true), nodeName: "node-0")]
                }
                let rulesets = try! RulesetRenderer.render(mode: .nftables, cluster: cluster, options: options(compact: false, shards: shards))
                node.node.inside { try NFTablesApplier(environment: [:]).apply(rulesets.compactMap { if case let .nftables(t) = $0 { t } else { nil } }) }
                return node
            }
            let clock = ContinuousClock()
            for _ in benchmark.scaledIterations {
                for (metric, address, port) in [(first, "10.96.0.1", UInt16(80)), (last, "10.96.39.15", 80), (direct, DatapathNode.podIP, 8080)] {
                    let started = clock.now
                    node.connect(500, to: address, port: port)
                    let elapsed = clock.now - started
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    benchmark.measurement(metric, Int(500 / seconds))
                }
            }
        }
    }

    userspaceBenchmarks()
    watchToRulesBenchmarks()
}

/// The iptables tools the iptables benchmarks run: Debian's default (nf_tables backend), or
/// the legacy ones first on PATH under the names the applier calls, as Debian's
/// alternatives would put them.
struct IPTablesBackend {
    let environment: [String: String]
    let restore: String
    let label: String

    init(_ name: String) {
        guard name == "legacy" else {
            environment = [:]
            restore = "/usr/sbin/iptables-restore"
            label = ""
            return
        }
        let directory = "/tmp/seaway-bench-iptables-legacy-\(getpid())"
        mkdir(directory, 0o755)
        for tool in ["iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"] {
            symlink("/usr/sbin/xtables-legacy-multi", directory + "/" + tool)
        }
        environment = ["PATH": directory]
        restore = directory + "/iptables-restore"
        label = ", legacy backend"
    }
}
