import Glibc
import SeawayKernel

/// A tiny node for the datapath benchmark: `node` routes between a `pod` (10.244.1.2, a TCP
/// server on 8080 that accepts and closes) and a `client` (10.244.2.2), each on a veth pair.
final class DatapathNode: @unchecked Sendable {
    let node: BenchNamespace, pod: BenchNamespace, client: BenchNamespace
    static let podIP = "10.244.1.2", clientIP = "10.244.2.2"

    /// `label` keeps two nodes of one run apart (their namespaces are named after it).
    init(label: String = "dp") {
        node = BenchNamespace.named("\(label)-node")
        pod = BenchNamespace.named("\(label)-pod")
        client = BenchNamespace.named("\(label)-client")
        func ip(_ ns: BenchNamespace, _ args: String) {
            let outcome = try! Subprocess.run("/usr/sbin/ip", arguments: ["-n", ns.name] + args.split(separator: " ").map(String.init),
                                              environment: [:], input: [], captureStderr: true)
            if outcome.status != 0 { fatalError("ip -n \(ns.name) \(args): \(outcome.stderrText)") }
        }
        ip(node, "link set lo up")
        for (peer, n, address) in [(pod, 1, DatapathNode.podIP), (client, 2, DatapathNode.clientIP)] {
            ip(node, "link add veth\(n) type veth peer name eth0 netns \(peer.name)")
            ip(node, "addr add 10.244.\(n).1/24 dev veth\(n)")
            ip(node, "link set veth\(n) up")
            ip(peer, "addr add \(address)/24 dev eth0")
            ip(peer, "link set eth0 up")
            ip(peer, "link set lo up")
            ip(peer, "route add default via 10.244.\(n).1")
        }
        _ = node.inside { try Sysctl.write("net/ipv4/ip_forward", "1") }
        startServer()
    }

    private func startServer() {
        let fd = pod.inside { () -> Int32 in
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = UInt16(8080).bigEndian
            _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            listen(s, 4096)
            return s
        }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(FD(fd)).toOpaque()
        pthread_create(&thread, nil, { raw in
            let fd = Unmanaged<FD>.fromOpaque(raw!).takeRetainedValue().value
            while true {
                let c = accept(fd, nil, nil)
                if c >= 0 { close(c) }
            }
        }, box)
    }

    final class FD { let value: Int32; init(_ v: Int32) { value = v } }

    /// Opens and closes `count` connections from the client to `address:port` (each closed
    /// with a reset, so no TIME_WAIT piles up); one connection failing stops the run.
    func connect(_ count: Int, to address: String, port: UInt16) {
        client.inside {
            for _ in 0..<count {
                let s = connectedSocket(address, port)
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(s, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                close(s)
            }
        }
    }
}
