import Benchmark
import Glibc
import SeawayKernel
import SeawayModel
import SeawayProxyCore
import SeawayUserspaceProxy
import SyntheticCluster

// The userspace proxy under load, on the datapath benchmark's node: a pod echoing on 9090,
// reached from the client through Seaway's proxy (ClusterIP 10.96.0.1:90, redirected to its
// listener), through haproxy 2.6 in TCP mode (Debian's package, on the node, 10.244.2.1:7090,
// two threads as Seaway has two event loops), and directly. Both proxies run in the node on
// the same two cores; the load is the same for each, measured in turn in every iteration.

extension DatapathNode {
    /// A thread-per-connection echo server on `port` in the pod.
    func startEchoServer(port: UInt16) {
        let fd = pod.inside { listener(port) }
        spawn(fd) { fd in
            while true {
                let c = accept(fd, nil, nil)
                guard c >= 0 else { continue }
                var one: Int32 = 1
                setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
                DatapathNode.spawn(c) { c in
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while true {
                        let n = recv(c, &buffer, buffer.count, 0)
                        if n <= 0 || send(c, buffer, n, Int32(MSG_NOSIGNAL)) != n { break }
                    }
                    close(c)
                }
            }
        }
    }

    /// A listening TCP socket on `port`, every address, in the calling thread's namespace.
    func listener(_ port: UInt16) -> Int32 {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(s, 4096)
        return s
    }

    /// Runs `body(fd)` on a new thread.
    func spawn(_ fd: Int32, _ body: @escaping (Int32) -> Void) { pthread_detach(DatapathNode.start(fd, body)) }

    static func spawn(_ fd: Int32, _ body: @escaping (Int32) -> Void) { pthread_detach(start(fd, body)) }

    /// Starts `body(fd)` on a new thread, to join.
    static func start(_ fd: Int32, _ body: @escaping (Int32) -> Void) -> pthread_t {
        final class Job { let fd: Int32; let body: (Int32) -> Void; init(_ f: Int32, _ b: @escaping (Int32) -> Void) { fd = f; body = b } }
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.body(job.fd)
            return nil
        }, Unmanaged.passRetained(Job(fd, body)).toOpaque())
        return thread
    }

    /// A TCP connection to `address:port`, Nagle off, from the calling thread's namespace
    /// (callers run whole loops inside `client`: entering costs a thread each time).
    func connectedSocket(_ address: String, _ port: UInt16) -> Int32 {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &a.sin_addr)
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 { fatalError("connect \(address):\(port): \(String(cString: strerror(errno)))") }
        return s
    }

    /// Requests per second: `connections` keep-alive connections, each on its own thread
    /// sending a 64-byte request and waiting for its echo, `rounds` times.
    func keepAliveRequests(connections: Int, rounds: Int, to address: String, port: UInt16) -> Double {
        let sockets = client.inside { (0..<connections).map { _ in connectedSocket(address, port) } }
        let clock = ContinuousClock(), started = clock.now
        let threads = sockets.map { s in
            DatapathNode.start(s) { s in
                var request = [UInt8](repeating: 0x61, count: 64), reply = [UInt8](repeating: 0, count: 64)
                for i in 0..<rounds {
                    request[0] = UInt8(truncatingIfNeeded: i)
                    guard send(s, request, 64, Int32(MSG_NOSIGNAL)) == 64 else { fatalError("send: \(String(cString: strerror(errno)))") }
                    var got = 0
                    while got < 64 {
                        let n = reply.withUnsafeMutableBytes { recv(s, $0.baseAddress! + got, 64 - got, 0) }
                        guard n > 0 else { fatalError("the echo stopped after \(i) rounds") }
                        got += n
                    }
                }
                close(s)
            }
        }
        for t in threads { pthread_join(t, nil) }
        let elapsed = clock.now - started
        return Double(connections * rounds) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// New connections per second, one after another: connect, one 64-byte exchange (so the
    /// proxy has reached the pod), close with a reset.
    func exchangesPerSecond(_ count: Int, to address: String, port: UInt16) -> Double {
        client.inside {
            let clock = ContinuousClock(), started = clock.now
            var request = [UInt8](repeating: 0x61, count: 64), reply = [UInt8](repeating: 0, count: 64)
            for _ in 0..<count {
                let s = connectedSocket(address, port)
                guard send(s, &request, 64, Int32(MSG_NOSIGNAL)) == 64 else { fatalError("send") }
                var got = 0
                while got < 64 {
                    let n = reply.withUnsafeMutableBytes { recv(s, $0.baseAddress! + got, 64 - got, 0) }
                    guard n > 0 else { fatalError("no echo from \(address):\(port)") }
                    got += n
                }
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(s, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                close(s)
            }
            let elapsed = clock.now - started
            return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }
}

/// haproxy in TCP mode inside the node, daemonised; stopped at exit.
enum HAProxy {
    nonisolated(unsafe) static var pidFile: String? = nil

    static func start(in node: BenchNamespace, listen: String, backend: String) {
        let directory = "/tmp/seaway-bench-haproxy-\(getpid())"
        mkdir(directory, 0o755)
        let config = """
            global
              nbthread 2
              maxconn 4000
            defaults
              mode tcp
              timeout connect 2s
              timeout client 60s
              timeout server 60s
            frontend echo
              bind \(listen)
              default_backend pod
            backend pod
              server pod \(backend)

            """
        let file = directory + "/haproxy.cfg"
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = config.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        pidFile = directory + "/haproxy.pid"
        let outcome = try! Subprocess.run("/usr/sbin/ip", arguments: ["netns", "exec", node.name, "/usr/sbin/haproxy", "-D", "-p", pidFile!, "-f", file],
                                          environment: [:], input: [], captureStderr: true)
        if outcome.status != 0 { fatalError("haproxy: \(outcome.stderrText)") }
        atexit {
            guard let file = HAProxy.pidFile else { return }
            let fd = open(file, O_RDONLY)
            var bytes = [UInt8](repeating: 0, count: 32)
            let n = read(fd, &bytes, 32)
            close(fd)
            if n > 0, let pid = Int32(String(decoding: bytes[0..<n], as: UTF8.self).split(separator: "\n").first ?? "") { kill(pid, SIGTERM) }
        }
    }
}

/// The node with the echo pod, Seaway's userspace proxy for 10.96.0.1:90 and haproxy.
func userspaceNode() -> DatapathNode {
    Cache.value("userspace node") { () -> DatapathNode in
        let node = DatapathNode()
        node.startEchoServer(port: 9090)
        // Both proxies close towards the pod first; reuse TIME_WAIT ports as a busy node would.
        _ = node.node.inside { try Sysctl.write("net/ipv4/tcp_tw_reuse", "1") }
        var cluster = ClusterState()
        cluster.services = [Service(metadata: ObjectMeta(name: "echo", namespace: "bench"), clusterIPs: [IPAddress("10.96.0.1")!],
                                    ports: [.init(name: "echo", port: 90)])]
        cluster.endpointSlices = [EndpointSlice(
            metadata: ObjectMeta(name: "echo-1", namespace: "bench", labels: [EndpointSlice.serviceNameLabel: "echo"]),
            addressType: .ipv4, endpoints: [.init(addresses: [DatapathNode.podIP], conditions: .init(ready: true), nodeName: "node-0")],
            ports: [.init(name: "echo", port: 9090)])]
        node.node.inside {
            // Created inside the node, so its event loops' sockets are the node's.
            let proxier = UserspaceProxier(options: SyntheticCluster.nodeOptions, environment: [:])
            _ = try proxier.sync(to: cluster)
            Cache.value("userspace proxier") { proxier }
        }
        HAProxy.start(in: node.node, listen: "10.244.2.1:7090", backend: "\(DatapathNode.podIP):9090")
        return node
    }
}

func userspaceBenchmarks() {
    let seaway = BenchmarkMetric.custom("through Seaway's proxy (req/s)", polarity: .prefersLarger)
    let haproxy = BenchmarkMetric.custom("through haproxy, anchor (req/s)", polarity: .prefersLarger)
    let direct = BenchmarkMetric.custom("to the pod directly (req/s)", polarity: .prefersLarger)
    let targets = [(seaway, "10.96.0.1", UInt16(90)), (haproxy, "10.244.2.1", 7090), (direct, DatapathNode.podIP, 9090)]
    let keepAlive = Benchmark.Configuration(metrics: [seaway, haproxy, direct], warmupIterations: 2, maxDuration: .seconds(90), maxIterations: 20)
    Benchmark("userspace proxy: keep-alive requests per second (8 connections)", configuration: keepAlive) { benchmark in
        let node = userspaceNode()
        for _ in benchmark.scaledIterations {
            for (metric, address, port) in targets {
                benchmark.measurement(metric, Int(node.keepAliveRequests(connections: 8, rounds: 2_500, to: address, port: port)))
            }
        }
    }

    let seawayConn = BenchmarkMetric.custom("through Seaway's proxy (conn/s)", polarity: .prefersLarger)
    let haproxyConn = BenchmarkMetric.custom("through haproxy (conn/s)", polarity: .prefersLarger)
    let directConn = BenchmarkMetric.custom("to the pod directly, anchor (conn/s)", polarity: .prefersLarger)
    let connections = Benchmark.Configuration(metrics: [seawayConn, haproxyConn, directConn], warmupIterations: 2, maxDuration: .seconds(90), maxIterations: 20)
    Benchmark("userspace proxy: new connections per second (connect, one exchange, close)", configuration: connections) { benchmark in
        let node = userspaceNode()
        for _ in benchmark.scaledIterations {
            for (metric, address, port) in [(seawayConn, "10.96.0.1", UInt16(90)), (haproxyConn, "10.244.2.1", 7090), (directConn, DatapathNode.podIP, 9090)] {
                benchmark.measurement(metric, Int(node.exchangesPerSecond(1_000, to: address, port: port)))
            }
        }
    }
}
