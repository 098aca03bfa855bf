import Benchmark
import Foundation
import Glibc
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayRender
import SyntheticCluster

private let options = SyntheticCluster.nodeOptions

let benchmarks: @Sendable () -> Void = {
    let config = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 20)

    // The full renders are timed without counting allocations, and their memory measured in
    // a run of their own: the counting allocator slows every allocation down, which would
    // be charged to the render's time.
    let timing = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal], warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 20)
    let memory = Benchmark.Configuration(
        metrics: [.peakMemoryResident, .mallocCountTotal], warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 10)
    let devNull = open("/dev/null", O_WRONLY)
    for n in [1_000, 10_000, 20_000] {
        for mode in [ProxyMode.iptables, .nftables] {
            for (suffix, configuration) in [("", timing), (" (memory)", memory)] {
                // The whole dry run after loading, as `seaway render` does it: service map,
                // rules, and the payload written out (to /dev/null) a few megabytes at a time.
                Benchmark("render \(mode.rawValue) \(n / 1000)k x 10\(suffix)", configuration: configuration) { benchmark in
                    let cluster = SyntheticCluster.state(services: n, endpoints: 10)
                    benchmark.startMeasurement()
                    for _ in benchmark.scaledIterations {
                        let rulesets = try RulesetRenderer.render(mode: mode, cluster: cluster, options: options)
                        for r in rulesets { r.forEachChunk { chunk in _ = write(devNull, chunk.baseAddress, chunk.count) } }
                        blackHole(rulesets)
                    }
                    benchmark.stopMeasurement()  // freeing the setup is not part of it
                }
            }
            if n == 10_000 { oneArrayRenderBenchmark(mode, services: n, timing) }
        }
    }

    // kube-proxy's partial sync: one endpoint of one service changes (back and forth) and
    // only what it touches is written: top-level and changed chains (iptables), or a
    // transaction of changed chains and elements (nftables).
    partialSyncBenchmark("re-render iptables after one endpoint change 10k x 10", config) { state in
        var sync = IPTablesSync(state.serviceMap)
        return { state, changed in sync.update(state, changed: changed).bytes }
    }
    partialSyncBenchmark("re-render nftables after one endpoint change 10k x 10", config) { state in
        var sync = NFTablesSync(state.serviceMap)
        return { state, changed in sync.update(state, changed: changed).bytes }
    }

    Benchmark("service map 10k x 10", configuration: config) { benchmark in
        let cluster = SyntheticCluster.state(services: 10_000, endpoints: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ServiceMap(cluster: cluster, options: options, family: .ipv4))
        }
        benchmark.stopMeasurement()  // freeing the setup is not part of it
    }

    // What `seaway render FILE` does before rendering: read the file, decode it, check that
    // no object is defined twice, mirror Endpoints into slices.
    Benchmark("load 10k x 10 manifests", configuration: config) { benchmark in
        let path = "/tmp/seaway-bench-load-\(getpid()).yaml"
        let yaml = SyntheticCluster.yaml(services: 10_000, endpoints: 10)
        guard FileManager.default.createFile(atPath: path, contents: Data(yaml.utf8)) else {
            fatalError("cannot write \(path)")
        }
        defer { unlink(path) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try ManifestLoader().load([path]))
        }
        benchmark.stopMeasurement()  // freeing the setup is not part of it
    }
}

/// A benchmark of one endpoint changing in a 10k x 10 cluster; `makeSync` sets up a renderer
/// and returns the partial-sync step to time.
private func partialSyncBenchmark(
    _ name: String, _ config: Benchmark.Configuration,
    makeSync: @escaping @Sendable (ProxyState) -> (ProxyState, Set<ServicePortName>) -> [UInt8]
) {
    Benchmark(name, configuration: config) { benchmark in
        let cluster = SyntheticCluster.state(services: 10_000, endpoints: 10)
        var state = ProxyState(cluster: cluster, options: options, family: .ipv4)
        let sync = makeSync(state)
        var slice = cluster.endpointSlices[5_000]
        let original = slice.endpoints[0].addresses
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            slice.endpoints[0].addresses = i % 2 == 0 ? ["10.255.0.1"] : original
            let changed = state.apply(.upsertEndpointSlice(slice))
            blackHole(sync(state, changed))
        }
        benchmark.stopMeasurement()  // freeing the setup is not part of it
    }
}

/// The full render with the payload joined into one array (`Ruleset.bytes`), for library
/// callers that want it that way.
private func oneArrayRenderBenchmark(_ mode: ProxyMode, services n: Int, _ configuration: Benchmark.Configuration) {
    Benchmark("render \(mode.rawValue) \(n / 1000)k x 10 (one array)", configuration: configuration) { benchmark in
        let cluster = SyntheticCluster.state(services: n, endpoints: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let rulesets = try RulesetRenderer.render(mode: mode, cluster: cluster, options: options)
            blackHole(rulesets.map(\.bytes))
        }
        benchmark.stopMeasurement()  // freeing the setup is not part of it
    }
}
