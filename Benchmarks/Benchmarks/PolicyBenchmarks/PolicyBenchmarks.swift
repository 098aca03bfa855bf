import Benchmark
import SeawayModel
import SeawayPolicy
import SyntheticCluster

/// The scale: 100 namespaces, 5,000 pods, 2,000 policies.
private let manifests = SyntheticPolicyCluster.yaml(namespaces: 100, pods: 5_000, policies: 2_000)
/// The same with 50 AdminNetworkPolicies and a BaselineAdminNetworkPolicy on top.
private let manifestsWithAdminTiers = SyntheticPolicyCluster.yaml(namespaces: 100, pods: 5_000, policies: 2_000,
                                                                  adminPolicies: 50)

private func loadEvaluator(_ yaml: String = manifests) throws -> PolicyEvaluator {
    var state = ClusterState()
    try ManifestDecoder().decode(yaml, file: "synthetic.yaml", into: &state)
    return PolicyEvaluator(cluster: state)
}

let benchmarks: @Sendable () -> Void = {
    let config = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 10)

    // Parse the YAML, decode and validate every object, build the index.
    Benchmark("policy load + index 5k pods 2k policies", configuration: config) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try loadEvaluator())
        }
    }

    // 1,000 queries between pods spread over the cluster, each with its reasons, on a named
    // port and a numeric one: the per-query figure is the reported time / 1,000.
    Benchmark("policy check x1000 5k pods 2k policies", configuration: config) { benchmark in
        let evaluator = try loadEvaluator()
        let keys = evaluator.podKeys
        let pairs = (0..<1_000).map { i in
            (try! evaluator.endpoint(keys[(i * 7_919) % keys.count]), try! evaluator.endpoint(keys[(i * 104_729 + 13) % keys.count]))
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var allowed = 0
            for (i, (from, to)) in pairs.enumerated() {
                let port: PortQuery = i % 2 == 0 ? .name("http") : .number(9090)
                if try evaluator.check(from: from, to: to, port: port, proto: .tcp).allowed { allowed += 1 }
            }
            blackHole(allowed)
        }
        benchmark.stopMeasurement()
    }

    // The full 5,000 x 5,000 matrix for one port and protocol, every cell read.
    matrixBenchmark("policy matrix 5k x 5k one port", config) { try loadEvaluator() }
    matrixBenchmark("policy matrix 5k x 5k one port with 50 ANPs + BANP", config) { try loadEvaluator(manifestsWithAdminTiers) }
}

private func matrixBenchmark(_ name: String, _ config: Benchmark.Configuration,
                             _ makeEvaluator: @escaping @Sendable () throws -> PolicyEvaluator) {
    Benchmark(name, configuration: config) { benchmark in
        let evaluator = try makeEvaluator()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let m = evaluator.matrix(port: 8080, proto: .tcp)
            var allowed = 0
            for f in m.pods.indices {
                for t in m.pods.indices where m.allowed(from: f, to: t) { allowed += 1 }
            }
            blackHole(allowed)
        }
        benchmark.stopMeasurement()
    }
}
