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

private func options(compact: Bool) -> ProxyOptions {
    var o = ProxyOptions()
    o.nodeName = "node-0"
    o.nodeIPs = [IPAddress("192.168.0.10")!]
    o.interfaceAddresses = o.nodeIPs
    o.detectLocal = .clusterCIDR([CIDR("10.128.0.0/9")!])
    o.serviceCIDRs = [CIDR("10.96.0.0/12")!]
    o.nftablesCompactEndpointSelection = compact
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
    let many = Benchmark.Configuration(metrics: [.wallClock, .cpuTotal], warmupIterations: 5, maxDuration: .seconds(20), maxIterations: 200)

    // Full loads: the same text, into an empty namespace each time (emptied unmeasured).
    for (n, shapes) in [(1_000, [false, true]), (10_000, [true, false])] {
        for compact in shapes {
            let shape = compact ? "compact" : "kube-proxy"
            let config = n >= 10_000 && !compact ? once : few
            let text: () -> [UInt8] = { Cache.value("text \(n) \(shape)") {
                let cluster = SyntheticCluster.state(services: n, endpoints: 10)
                let rulesets = try! RulesetRenderer.render(mode: .nftables, cluster: cluster, options: options(compact: compact))
                return NFTablesApplier.transaction(rulesets.compactMap { if case let .nftables(t) = $0 { t } else { nil } })
            } }
            Benchmark("nftables full load \(n / 1000)k x 10 \(shape) shape: netlink", configuration: config) { benchmark in
                let ns = BenchNamespace.named("full-nl"), script = text()
                for _ in benchmark.scaledIterations {
                    benchmark.startMeasurement()
                    ns.inside { try NFTablesApplier(environment: [:]).send(script) }
                    benchmark.stopMeasurement()
                    ns.emptyTables()
                }
            }
            Benchmark("nftables full load \(n / 1000)k x 10 \(shape) shape: nft -f (anchor)", configuration: config) { benchmark in
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

    // One endpoint changing back and forth on a loaded node (kube-proxy's shape).
    for n in [1_000, 10_000] {
        let flip = Cache.value("flip \(n)") { EndpointFlip(services: n) }
        Benchmark("nftables one-endpoint change \(n / 1000)k x 10: proxier over netlink", configuration: many) { benchmark in
            // One loaded node for all iterations; each iteration flips the endpoint.
            let ns = BenchNamespace.named("change-nl-\(n)")
            let node = Cache.value("proxier \(n)") { () -> (NFTablesProxier, Flag) in
                let proxier = ns.inside { try NFTablesProxier(options: options(compact: false)) }
                ns.inside { _ = try proxier.sync(to: flip.a) }
                return (proxier, Flag())
            }
            let (proxier, atA) = node
            for _ in benchmark.scaledIterations {
                benchmark.startMeasurement()
                do {
                    _ = atA.value ? try proxier.sync(to: flip.b, changes: flip.toB) : try proxier.sync(to: flip.a, changes: flip.toA)
                } catch { fatalError("\(error)") }
                benchmark.stopMeasurement()
                atA.value.toggle()
            }
        }
        Benchmark("nftables one-endpoint change \(n / 1000)k x 10: nft -f of the same transaction (anchor)", configuration: few) { benchmark in
            let ns = BenchNamespace.named("change-nft-\(n)")
            let node = Cache.value("nft node \(n)") { () -> ([UInt8], [UInt8], Flag) in
                var state = ProxyState(cluster: flip.a, options: options(compact: false), family: .ipv4)
                var sync = NFTablesSync(state.serviceMap)
                ns.inside { try NFTablesApplier(environment: [:]).send(NFTablesApplier.transaction([sync.ruleset])) }
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
}
