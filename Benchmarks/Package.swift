// swift-tools-version:6.1
//
// Seaway's benchmarks (ordo-one/benchmark), a package of their own so that the main
// package's build and tests do not pay for the benchmark harness.
//   cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "SeawayBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Seaway", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        // Only the malloc interposer: the runtime interposer's package is not mirrored here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Deterministic synthetic clusters, as values and as YAML.
        .target(name: "SyntheticCluster", dependencies: [
            .product(name: "SeawayModel", package: "Seaway"), .product(name: "SeawayProxyCore", package: "Seaway"),
        ]),
        // Runs one phase in a loop, for `perf record` (not a benchmark).
        .executableTarget(name: "SeawayProfile", dependencies: [
            "SyntheticCluster",
            .product(name: "SeawayProxyCore", package: "Seaway"),
            .product(name: "SeawayRender", package: "Seaway"),
            .product(name: "SeawayDNS", package: "Seaway"),
            .product(name: "SeawayDataplane", package: "Seaway"),
            .product(name: "SeawayNetlink", package: "Seaway"),
            .product(name: "SeawayLoader", package: "Seaway"),
            .product(name: "SeawayKernel", package: "Seaway"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .executableTarget(
            name: "RenderBenchmarks",
            dependencies: [
                "SyntheticCluster",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SeawayModel", package: "Seaway"),
                .product(name: "SeawayLoader", package: "Seaway"),
                .product(name: "SeawayProxyCore", package: "Seaway"),
                .product(name: "SeawayRender", package: "Seaway"),
            ],
            path: "Benchmarks/RenderBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "PolicyBenchmarks",
            dependencies: [
                "SyntheticCluster",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SeawayModel", package: "Seaway"),
                .product(name: "SeawayPolicy", package: "Seaway"),
            ],
            path: "Benchmarks/PolicyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "DataplaneBenchmarks",
            dependencies: [
                "SyntheticCluster",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SeawayDataplane", package: "Seaway"),
                .product(name: "SeawayKernel", package: "Seaway"),
                .product(name: "SeawayModel", package: "Seaway"),
                .product(name: "SeawayProxyCore", package: "Seaway"),
                .product(name: "SeawayRender", package: "Seaway"),
                .product(name: "SeawayUserspaceProxy", package: "Seaway"),
                .product(name: "SeawayTestSupport", package: "Seaway"),
            ],
            path: "Benchmarks/DataplaneBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "CNIBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SeawayKernel", package: "Seaway"),
            ],
            path: "Benchmarks/CNIBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
