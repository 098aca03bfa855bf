import Benchmark
import SeawayModel
import SeawayProxyCore
import SeawayRender
import SyntheticCluster

/// Node settings of a typical cluster node for the render benchmarks.
private let options: ProxyOptions = {
    var o = ProxyOptions()
    o.nodeName = "node-0"
    o.nodeIPs = [IPAddress("192.168.0.10")!]
    o.interfaceAddresses = o.nodeIPs
    o.detectLocal = .clusterCIDR([CIDR("10.128.0.0/9")!])
    o.serviceCIDRs = [CIDR("10.96.0.0/12")!]
    return o
}()

let benchmarks: @Sendable () -> Void = {
    let config = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 10)

    for n in [1_000, 10_000, 20_000] {
        for mode in [ProxyMode.iptables, .nftables] {
            // The whole dry run after loading: service map, rules, payload bytes.
            Benchmark("render \(mode.rawValue) \(n / 1000)k x 10", configuration: config) { benchmark in
                let cluster = SyntheticCluster.state(services: n, endpoints: 10)
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    let rulesets = try RulesetRenderer.render(mode: mode, cluster: cluster, options: options)
                    blackHole(rulesets.map(\.bytes))
                }
            }
        }
    }

    Benchmark("service map 10k x 10", configuration: config) { benchmark in
        let cluster = SyntheticCluster.state(services: 10_000, endpoints: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(ServiceMap(cluster: cluster, options: options, family: .ipv4))
        }
    }

    Benchmark("load 10k x 10 manifests", configuration: config) { benchmark in
        let yaml = SyntheticCluster.yaml(services: 10_000, endpoints: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var state = ClusterState()
            try ManifestDecoder().decode(yaml, file: "cluster.yaml", into: &state)
            blackHole(state)
        }
    }
}
