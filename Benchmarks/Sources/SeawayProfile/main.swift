// Usage: SeawayProfile servicemap|iptables|nftables|load|dns SERVICES [ITERATIONS]
//        SeawayProfile dns-memory CLUSTER.yaml   (what the DNS server keeps resident)
//        SeawayProfile yaml SERVICES > cluster.yaml
//        SeawayProfile policy-yaml PODS > policy-cluster.yaml   (100 namespaces, PODS / 2.5 policies)
//        SeawayProfile nft-commit [ITERATIONS] < transaction.nft   (inside a namespace holding the table)
// Runs one phase in a loop so `perf record` sees only it, or prints the synthetic cluster.
import Foundation
import NIOCore
import SeawayDataplane
import SeawayKernel
import SeawayLoader
import SeawayNetlink
import SeawayDNS
import SeawayModel
import SeawayProxyCore
import SeawayRender
import SyntheticCluster

let args = CommandLine.arguments
let phase = args.count > 1 ? args[1] : "iptables"
let services = args.count > 2 ? Int(args[2]) ?? 0 : 10_000
let iterations = args.count > 3 ? Int(args[3]) ?? 1 : 5

var options = ProxyOptions()
options.nodeName = "node-0"
options.nodeIPs = [IPAddress("192.168.0.10")!]
options.detectLocal = .clusterCIDR([CIDR("10.128.0.0/9")!])

let clock = ContinuousClock()
if phase == "policy-yaml" {
    print(SyntheticPolicyCluster.yaml(namespaces: 100, pods: services, policies: services * 2 / 5), terminator: "")
} else if phase == "yaml" {
    print(SyntheticCluster.yaml(services: services, endpoints: 10), terminator: "")
} else if phase == "nft-commit" {
    // How long the kernel takes to commit one transaction (nft syntax on stdin) sent over
    // netlink as the applier sends it, without the nft CLI's own cost (it lists the whole
    // ruleset first). Each iteration sends the same transaction; write it so it can repeat
    // (e.g. an element added, then deleted).
    var text: [UInt8] = []
    while let line = readLine(strippingNewline: false) { text += Array(line.utf8) }
    let socket = try NFTablesNetlink()
    for _ in 0..<(args.count > 2 ? Int(args[2])! : 5) {
        var batch = socket.makeBatch()
        var script = NFTScript()
        try script.compile(text, into: &batch)
        let started = clock.now
        try socket.apply(batch) { "operation \($0)" }
        print("commit: \(clock.now - started)")
    }
} else if phase == "proxy-memory" {
    // Where `seaway proxy`'s memory goes at SERVICES x 10, piece by piece (resident MB after
    // each, malloc_trim first so freed memory does not count).
    func residentMB() -> Int {
        _ = malloc_trim(0)
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
    var last = residentMB()
    func step(_ what: String) {
        let now = residentMB()
        print("\(what): +\(now - last) MB (resident \(now) MB)")
        last = now
    }
    let cluster = SyntheticCluster.state(services: services, endpoints: 10)
    step("cluster state")
    var compact = options
    compact.nftablesCompactEndpointSelection = args.count > 4 && args[4] == "compact"
    let state = ProxyState(cluster: cluster, options: compact, family: .ipv4)
    step("proxy state (service map, endpoints)")
    let sync = NFTablesSync(state.serviceMap)
    step("nftables ruleset kept for partial syncs (\(compact.nftablesCompactEndpointSelection ? "compact" : "kube-proxy") shape)")
    // What a full sync sends: the ruleset compiled part by part into one netlink batch.
    let socket = try NFTablesNetlink()
    var batch = socket.makeBatch(expectedOperations: 0)
    var script = NFTScript()
    for ruleset in sync.rulesets { try ruleset.forEachPart { (part: [UInt8]) throws(NFTScriptError) in try script.compile(part, into: &batch) } }
    step("netlink batch (\(batch.count) operations, \(batch.byteCount >> 20) MB)")
    withExtendedLifetime((cluster, state, sync)) {}
    _ = consume batch
} else if phase == "dns" {
    // What the DNS zone keeps in memory, and what answering costs without the server.
    func residentMB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
    print("rss at start: \(residentMB()) MB")
    var cluster: ClusterState? = SyntheticCluster.state(services: services, endpoints: 10)
    print("rss with the cluster state: \(residentMB()) MB")
    malloc_stats()
    var zone: KubernetesZone? = KubernetesZone(options: KubernetesDNSOptions(), cluster: cluster!)
    print("rss with the cluster state and the zone: \(residentMB()) MB")
    cluster = nil
    _ = malloc_trim(0)
    print("rss with the zone alone (after malloc_trim): \(residentMB()) MB")
    let compileStart = clock.now
    let responder = DNSResponder(zone: zone!)
    zone = nil
    _ = malloc_trim(0)
    print("precompiled in \(clock.now - compileStart); rss \(residentMB()) MB")
    malloc_stats()
    let names = (0..<10_000).map { i in "svc\(i % services).ns\(i % 100).ns\((i * 7) % 100).svc.cluster.local" }
        + (0..<10_000).map { i in "svc\(i % services).ns\(i % 100).svc.cluster.local" }
    let queries = names.map { n -> ByteBuffer in
        var b = ByteBuffer()
        DNSMessage.query(id: 1, name: DNSName(n)!, type: .a, edns: nil).write(into: &b)
        return b
    }
    let questions = names.map { DNSQuestion(name: DNSName($0)!, type: .a) }
    let zoneStart = clock.now
    var nx = 0
    for q in questions { if case let .answer(a) = responder.zone.answer(q), a.rcode == .nameError { nx += 1 } }
    print("zone.answer alone for \(questions.count) questions (\(nx) NXDOMAIN): \(clock.now - zoneStart)")
    for _ in 0..<iterations {
        let start = clock.now
        var bytes = 0
        var fast = 0
        for q in queries {
            if let r = responder.precompiledReply(to: q) {
                fast += 1
                bytes += r.reply.readableBytes
            } else if case let .reply(m) = responder.decide(q) {
                var out = ByteBuffer()
                m.write(into: &out)
                bytes += out.readableBytes
            }
        }
        let elapsed = clock.now - start
        print("answered \(queries.count) uncached in \(elapsed) (\(Int(Double(queries.count) / (Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)))) per second), \(bytes) bytes")
    }
} else if phase == "dns-memory" {
    // What `seaway dns serve` keeps resident after loading FILE (args[2]) as the server does
    // it: parsed on a loading queue, the zone built apart (`Heap.apart`), freed pages given
    // back. Then glibc's view per arena, and the whole process map in FILE.smaps.
    Heap.keepBigAllocationsApart()
    @Sendable func rss() -> String {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").filter { $0.hasPrefix("VmRSS") || $0.hasPrefix("RssAnon") || $0.hasPrefix("VmHWM") }.joined(separator: " ")
    }
    let file = args[2]
    print("at start: \(rss())")
    final class Box: @unchecked Sendable { var responder: DNSResponder? }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    // The peak of each stage: the kernel's high-water mark, reset between stages.
    @Sendable func stagePeak(_ what: String) {
        print("\(what): \(rss())")
        _ = system("echo 5 > /proc/\(getpid())/clear_refs")
    }
    DispatchQueue(label: "loading").async {
        stagePeak("before loading")
        let zone = { () -> KubernetesZone in
            let cluster = try! ManifestLoader().load([file])
            stagePeak("parsed")
            Heap.returnFreedMemory()
            stagePeak("parser's garbage returned")
            return Heap.apart { KubernetesZone(options: KubernetesDNSOptions(), cluster: cluster) }
        }()
        stagePeak("zone built")
        Heap.returnFreedMemory()
        stagePeak("cluster state returned")
        box.responder = Heap.apart { DNSResponder(zone: zone) }
        stagePeak("answers precompiled")
        done.signal()
    }
    done.wait()
    Heap.returnFreedMemory()
    print("after loading: \(rss())")
    malloc_stats()
    _ = system("cp /proc/\(getpid())/smaps \(file).smaps")
    _ = box.responder
} else if phase == "load" {
    let yaml = SyntheticCluster.yaml(services: services, endpoints: 10)
    for _ in 0..<iterations {
        let start = clock.now
        var state = ClusterState()
        try ManifestDecoder().decode(yaml, file: "x.yaml", into: &state)
        print("load \(yaml.utf8.count) bytes: \(clock.now - start)")
    }
} else if phase.hasSuffix("-partial") {
    // One endpoint of one service changes, back and forth.
    let cluster = SyntheticCluster.state(services: services, endpoints: 10)
    var state = ProxyState(cluster: cluster, options: options, family: .ipv4)
    var iptables = IPTablesSync(state.serviceMap)
    var nftables = NFTablesSync(state.serviceMap)
    var slice = cluster.endpointSlices[services / 2]
    let original = slice.endpoints[0].addresses
    for i in 0..<iterations {
        slice.endpoints[0].addresses = i % 2 == 0 ? ["10.255.0.1"] : original
        let start = clock.now
        let changed = state.apply(.upsertEndpointSlice(slice))
        let payload = phase == "iptables-partial" ? iptables.update(state, changed: changed).bytes
            : nftables.update(state, changed: changed).bytes
        print("\(phase): \(clock.now - start), \(payload.count) bytes")
    }
} else {
    let cluster = SyntheticCluster.state(services: services, endpoints: 10)
    let prebuiltMap = ServiceMap(cluster: cluster, options: options, family: .ipv4)
    // OFF_MAIN: the loop on a thread of its own (a non-main malloc arena, as in the harness).
    let offMain = ProcessInfo.processInfo.environment["OFF_MAIN"] != nil
    let options = options
    @Sendable func loop() throws {
        for _ in 0..<iterations {
            let start = clock.now
            switch phase {
            case "phases", "nft-phases":
                // Where a render spends its time: iptables (phases) or nftables (nft-phases).
                // Wall and CPU time per phase: where CPU is well above wall, both cores work.
                func cpuNow() -> Double {
                    var ts = timespec()
                    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
                    return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
                }
                var t = clock.now
                var cpu = cpuNow()
                func lap(_ what: String, _ extra: String = "") {
                    let wall = clock.now - t
                    let ms = Double(wall.components.attoseconds) / 1e15 + Double(wall.components.seconds) * 1e3
                    print("  \(what) wall \(Int(ms)) ms, cpu \(Int(cpuNow() - cpu)) ms\(extra)")
                    t = clock.now
                    cpu = cpuNow()
                }
                let devNull = open("/dev/null", O_WRONLY)
                defer { close(devNull) }
                // As `seaway render` does it: the rulesets, then written chunk by chunk; then
                // what is freed, part by part.
                func phases<Sync>(_ label: String, _ build: () -> Sync, _ ruleset: (Sync) -> Ruleset) {
                    var sync: Sync? = build()
                    lap(label)
                    var rendered: Ruleset? = ruleset(sync!)
                    lap("assemble")
                    rendered!.forEachChunk { chunk in _ = write(devNull, chunk.baseAddress, chunk.count) }
                    lap("chunks written")
                    rendered = nil
                    lap("ruleset freed")
                    sync = nil
                    lap("sync freed")
                }
                do {
                    let map = ServiceMap(cluster: cluster, options: options, family: .ipv4)
                    lap("service map")
                    if phase == "phases" {
                        phases("fragments + segments", { IPTablesSync(map) }, { .iptables($0.ruleset) })
                    } else {
                        phases("fragments", { NFTablesSync(map) }, { .nftables($0.rulesets[0]) })
                    }
                }
                lap("service map freed")
            case "iptables-sync", "nftables-sync":
                // Only the fragments (and what a sync keeps), from a service map built once.
                _ = phase == "iptables-sync" ? IPTablesSync(prebuiltMap).ruleset.nat.chainCount
                    : NFTablesSync(prebuiltMap).rulesets[0].chainCount
            case "servicemap":
                _ = ServiceMap(cluster: cluster, options: options, family: .ipv4)
            default:
                // What the render benchmarks time: the rulesets written out chunk by chunk.
                let rulesets = try RulesetRenderer.render(mode: ProxyMode(rawValue: phase)!, cluster: cluster, options: options)
                let devNull = open("/dev/null", O_WRONLY)
                for r in rulesets { r.forEachChunk { chunk in _ = write(devNull, chunk.baseAddress, chunk.count) } }
                close(devNull)
            }
            print("\(phase): \(clock.now - start)")
        }
    }
    if offMain { Heap.apart { try! loop() } } else { try loop() }
}

@_silgen_name("malloc_trim") func malloc_trim(_ pad: Int) -> Int32
@_silgen_name("malloc_stats") func malloc_stats()
