// swift-tools-version:6.0
//
// Seaway: Kubernetes service networking in Swift.
// The arrows point one way: the `seaway` executable -> renderers -> proxy core -> model.
import PackageDescription

/// The static Swift runtime for the CNI plugin executables (start-up time: see JSONParser).
let cniPluginLinking: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux]))]

let package = Package(
    name: "Seaway",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "seaway", targets: ["seaway"]),
        .executable(name: "seaway-ipam", targets: ["seaway-ipam"]),
        .executable(name: "seaway-bridge", targets: ["seaway-bridge"]),
        .library(name: "SeawayModel", targets: ["SeawayModel"]),
        .library(name: "SeawayProxyCore", targets: ["SeawayProxyCore"]),
        .library(name: "SeawayRender", targets: ["SeawayRender"]),
        .library(name: "SeawayLoader", targets: ["SeawayLoader"]),
        .library(name: "SeawayPolicy", targets: ["SeawayPolicy"]),
        .library(name: "SeawayDNS", targets: ["SeawayDNS"]),
        .library(name: "SeawayKernel", targets: ["SeawayKernel"]),
        .library(name: "SeawayNetlink", targets: ["SeawayNetlink"]),
        .library(name: "SeawayDataplane", targets: ["SeawayDataplane"]),
        .library(name: "SeawayUserspaceProxy", targets: ["SeawayUserspaceProxy"]),
        // The tests' fake API server and namespaces, for the benchmarks (not an API).
        .library(name: "SeawayTestSupport", targets: ["SeawayTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
    ],
    targets: [
        // IP addresses and networks, as Go's net package reads and prints them. Pure.
        .target(name: "SeawayNet"),
        // Kubernetes objects, selectors, manifest decoding (re-exports SeawayNet). Pure: no I/O.
        // (Yams for the libyaml it builds, whose events YAMLDocuments reads.)
        .target(name: "SeawayModel", dependencies: ["SeawayNet", .product(name: "Yams", package: "Yams")]),
        // Reads manifest files, directories and stdin into a ClusterState.
        .target(name: "SeawayLoader", dependencies: ["SeawayModel"]),
        // Services + EndpointSlices -> the per-node, per-family service map every backend uses. Pure.
        .target(name: "SeawayProxyCore", dependencies: ["SeawayModel"]),
        // iptables / nftables / IPVS renderers: service map + node settings -> ruleset values. Pure.
        // (swift-crypto for its BoringSSL, whose C SHA-256 ChainHash calls for chain names.)
        .target(name: "SeawayRender", dependencies: [
            "SeawayProxyCore", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // NetworkPolicy evaluation: verdicts with reasons. Pure.
        .target(name: "SeawayPolicy", dependencies: ["SeawayModel"]),
        // Cluster DNS: wire format (NIO ByteBuffer) and CoreDNS's kubernetes answers. Pure.
        .target(name: "SeawayDNS", dependencies: [
            "SeawayModel", .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // The Kubernetes API: connection settings (kubeconfig, in-cluster), list+watch over
        // async-http-client, and the informer cache that turns watches into a ClusterState.
        .target(name: "SeawayKube", dependencies: [
            "SeawayModel", "SeawayKernel",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // `seaway trace`: one connection through DNS, the node's rules and policy. Pure.
        .target(name: "SeawayTrace", dependencies: ["SeawayDNS", "SeawayModel", "SeawayPolicy", "SeawayProxyCore", "SeawayRender"]),
        // Small HTTP endpoint servers (health, readiness, Prometheus metrics) on swift-nio.
        .target(name: "SeawayHTTP", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // The DNS server: UDP/TCP sockets (swift-nio), the upstream forwarder, metrics, HTTP endpoints.
        .target(name: "SeawayDNSServer", dependencies: [
            "SeawayDNS", "SeawayHTTP", "SeawayKernel", "SeawayModel",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // libnl-3 and libnl-route-3 (links, addresses, routes over rtnetlink).
        .systemLibrary(name: "CNetlink", path: "Sources/CNetlink", pkgConfig: "libnl-route-3.0",
                       providers: [.apt(["libnl-3-dev", "libnl-route-3-dev", "libnl-genl-3-dev"])]),
        // libnftnl + libmnl (nftables rulesets as netlink batches).
        .systemLibrary(name: "CNftables", path: "Sources/CNftables", pkgConfig: "libnftnl",
                       providers: [.apt(["libnftnl-dev", "libmnl-dev"])]),
        // The kernel layer, the only code that touches the OS, in two targets so a plugin
        // that needs no netlink (seaway-ipam) does not load libnl and libnftnl at start-up:
        // files and locks, processes, network namespaces, sysctls (no C libraries) ...
        .systemLibrary(name: "CSeawayKernel", path: "Sources/CSeawayKernel"),
        .target(name: "SeawayKernel", dependencies: ["CSeawayKernel", "SeawayNet"]),
        // ... and rtnetlink (links, addresses, routes) and nftables batches.
        .target(name: "SeawayNetlink", dependencies: ["CNetlink", "CNftables", "SeawayKernel", "SeawayNet"]),
        // The CNI protocol (environment, config, results per spec version, errors) and the
        // host-local IPAM configuration and range arithmetic. Pure.
        .target(name: "SeawayCNI", dependencies: ["SeawayNet"]),
        // host-local IPAM: reservations on disk in host-local's format, under a file lock.
        .target(name: "SeawayIPAM", dependencies: ["SeawayCNI", "SeawayKernel", "SeawayNet"]),
        // The CNI IPAM plugin executable (host-local compatible). CNI plugins are exec'd once
        // per pod: linked with the static Swift runtime, they start in under 2 ms.
        .executableTarget(name: "seaway-ipam", dependencies: ["SeawayCNI", "SeawayIPAM", "SeawayKernel"],
                          linkerSettings: cniPluginLinking),
        // The bridge + veth plugin: host and container sides over SeawayKernel, IPAM delegated.
        .target(name: "SeawayBridge", dependencies: ["SeawayCNI", "SeawayIPAM", "SeawayKernel", "SeawayNetlink", "SeawayNet"]),
        .executableTarget(name: "seaway-bridge", dependencies: ["SeawayBridge", "SeawayCNI", "SeawayKernel"],
                          linkerSettings: cniPluginLinking),
        // Rules onto the kernel: iptables through its tools, nftables, IPVS detection; the
        // node probe for what kube-proxy reads from the node.
        .target(name: "SeawayDataplane", dependencies: [
            "SeawayModel", "SeawayProxyCore", "SeawayRender", "SeawayKernel", "SeawayNetlink",
        ]),
        // The userspace mode: a TCP/UDP proxy (TCP on SeawayKernel's relay, UDP on swift-nio)
        // and its nftables redirect rules.
        .target(name: "SeawayUserspaceProxy", dependencies: [
            "SeawayDataplane", "SeawayKernel", "SeawayModel", "SeawayProxyCore", "SeawayRender",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // `seaway proxy`: the node agent (manifest watch, sync scheduling, healthz, metrics).
        .target(name: "SeawayProxyAgent", dependencies: [
            "SeawayDataplane", "SeawayHTTP", "SeawayKernel", "SeawayLoader", "SeawayModel", "SeawayProxyCore", "SeawayRender",
            "SeawayUserspaceProxy", "SeawayKube",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "seaway", dependencies: [
            "SeawayDataplane", "SeawayKernel", "SeawayProxyAgent",
            "SeawayModel", "SeawayLoader", "SeawayProxyCore", "SeawayRender", "SeawayPolicy", "SeawayDNS", "SeawayDNSServer",
            "SeawayTrace", "SeawayKube",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Helpers the test targets share: throwaway network namespaces, running commands.
        .target(name: "SeawayTestSupport", dependencies: [
            "SeawayKernel",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Tests/SeawayTestSupport"),
        .testTarget(name: "SeawayCNITests", dependencies: [
            "SeawayCNI", "SeawayIPAM", "SeawayKernel", "SeawayNet", "SeawayTestSupport", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "SeawayBridgeTests", dependencies: ["SeawayCNI", "SeawayKernel", "SeawayNet", "SeawayTestSupport"]),
        // Runs the built `seaway` and `seaway-bridge` in throwaway namespaces.
        .testTarget(name: "SeawayDataplaneTests", dependencies: [
            "SeawayDataplane", "SeawayKernel", "SeawayLoader", "SeawayNetlink", "SeawayModel", "SeawayProxyCore", "SeawayRender", "SeawayTestSupport",
        ]),
        .testTarget(name: "SeawayKernelTests", dependencies: ["SeawayKernel", "SeawayNetlink", "SeawayNet", "SeawayTestSupport"]),
        .testTarget(name: "SeawayModelTests", dependencies: ["SeawayModel", "SeawayLoader"]),
        .testTarget(name: "SeawayProxyCoreTests", dependencies: ["SeawayModel", "SeawayProxyCore"]),
        .testTarget(name: "SeawayDNSTests", dependencies: ["SeawayModel", "SeawayLoader", "SeawayDNS"]),
        .testTarget(name: "SeawayDNSServerTests", dependencies: ["SeawayDNSServer", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "SeawayPolicyTests", dependencies: ["SeawayModel", "SeawayLoader", "SeawayPolicy"]),
        // Runs the built `seaway` binary (built by `swift build --build-tests`).
        .testTarget(name: "SeawayCLITests", dependencies: ["SeawayDNS", "SeawayKernel", "SeawayTestSupport", .product(name: "NIOCore", package: "swift-nio")]),
        // The agent's feeds without a kernel: the informer feed's deltas against a fake API server.
        .testTarget(name: "SeawayProxyAgentTests", dependencies: [
            "SeawayProxyAgent", "SeawayKube", "SeawayModel", "SeawayProxyCore", "SeawayTestSupport",
        ]),
        // The API client against a fake API server (list/watch wire protocol, faults).
        .testTarget(name: "SeawayKubeTests", dependencies: [
            "SeawayKube", "SeawayLoader", "SeawayModel", "SeawayProxyCore", "SeawayRender", "SeawayTestSupport",
            .product(name: "Yams", package: "Yams"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .testTarget(name: "SeawayTraceTests", dependencies: [
            "SeawayDNS", "SeawayLoader", "SeawayModel", "SeawayPolicy", "SeawayProxyCore", "SeawayTrace",
        ]),
        // The userspace proxy on loopback (no namespaces, no root).
        .testTarget(name: "SeawayUserspaceProxyTests", dependencies: ["SeawayModel", "SeawayProxyCore", "SeawayUserspaceProxy"]),
        .testTarget(name: "SeawayRenderTests", dependencies: [
            "SeawayModel", "SeawayLoader", "SeawayProxyCore", "SeawayRender", "SeawayTestSupport",
            // ChainHash calls BoringSSL directly; its tests check it against swift-crypto's API.
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
