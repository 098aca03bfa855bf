import Foundation
import SeawayTestSupport

/// A node for dataplane tests: a node namespace (br_netfilter on, as any node running
/// kube-proxy has it), pods attached to its bridge by our own CNI plugin, each endpoint pod
/// answering TCP with its name, and `seaway apply` run inside the node.
final class DataplaneNode: @unchecked Sendable {
    let node: ThrowawayNamespace
    /// Beyond the node's uplink (192.168.77.1 on the node, .2 here), where its default route
    /// points, as on a real node: ClusterIP packets with no endpoint are routed, then rejected.
    let outside: ThrowawayNamespace
    private(set) var pods: [String: (ns: ThrowawayNamespace, ip: String)] = [:]
    private var servers: [NamespaceSockets.EchoPeerServer] = []
    private var lineServers: [NamespaceSockets.LineEchoServer] = []
    /// Each serving pod's UDP responder on 5353 (it answers with the pod's name).
    private(set) var udpServers: [String: NamespaceSockets.UDPIdentityServer] = [:]
    let directory: String

    static var seaway: String { PluginBinaries.directory + "/seaway" }
    static var available: Bool {
        ThrowawayNamespace.available(requiring: ["/usr/sbin/iptables-save", "/usr/sbin/iptables-restore", "/usr/sbin/nft"])
    }
    static let unavailable = "SKIPPED LOUDLY: dataplane tests need root, iproute2, iptables and nft (CI runs as root)"

    init() throws {
        node = try ThrowawayNamespace(prefix: "dp-node")
        outside = try ThrowawayNamespace(prefix: "dp-out")
        directory = NSTemporaryDirectory() + "seaway-dp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try node.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        try node.exec(["ip", "link", "add", "uplink0", "type", "veth", "peer", "name", "eth0", "netns", outside.name])
        try node.exec(["ip", "addr", "add", "192.168.77.1/24", "dev", "uplink0"])
        try node.exec(["ip", "link", "set", "uplink0", "up"])
        try node.exec(["ip", "route", "add", "default", "via", "192.168.77.2"])
        try outside.exec(["ip", "addr", "add", "192.168.77.2/24", "dev", "eth0"])
        try outside.exec(["ip", "link", "set", "eth0", "up"])
        try outside.exec(["ip", "route", "add", "10.244.0.0/16", "via", "192.168.77.1"])
        try outside.exec(["ip", "route", "add", "192.168.80.0/24", "via", "192.168.77.1"])
    }

    /// What `apply` reads from this node, written as a `--host` file for `render`.
    var hostFile: String {
        let file = directory + "/host.yaml"
        try? """
        nodeName: node-a
        nodeIPs: [192.168.77.1]
        interfaceAddresses: [127.0.0.1/8, 192.168.77.1/24, 10.244.1.1/24]
        kernel: {nfacct: [ct_state_invalid_dropped_pkts, localhost_nps_accepted_pkts], tcpBeLiberal: false, iptablesRandomFully: true}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func close() {
        for s in servers { s.stop() }
        for s in lineServers { s.stop() }
        for s in udpServers.values { s.stop() }
        for p in pods.values { p.ns.close() }
        node.close()
        outside.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var cniConfig: String {
        #"{"cniVersion":"1.0.0","name":"pods","type":"bridge","bridge":"cni0","isGateway":true,"hairpinMode":true,"ipam":{"type":"seaway-ipam","subnet":"10.244.1.0/24","routes":[{"dst":"0.0.0.0/0"}],"dataDir":"\#(directory)/ipam"}}"#
    }

    /// A pod attached with seaway-bridge; with `serving`, it answers TCP on 8080 with its name
    /// (and closes), echoes on 9090 prefixed with its name (and stays connected), and
    /// answers UDP on 5353 with its name.
    @discardableResult
    func addPod(_ name: String, serving: Bool = true) throws -> String {
        let ns = try ThrowawayNamespace(prefix: "dp-\(name)")
        let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c-\(name)", "CNI_NETNS": ns.path, "CNI_IFNAME": "eth0",
                   "CNI_PATH": PluginBinaries.directory, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        let r = try Command.run("/usr/sbin/ip", ["netns", "exec", node.name, PluginBinaries.bridge], input: cniConfig,
                                environment: env, separateStderr: true)
        guard let json = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
              let address = (json["ips"] as? [[String: Any]])?.first?["address"] as? String else {
            throw NamespaceSockets.Failure(description: "no address for \(name): \(r.output)")
        }
        let ip = String(address.split(separator: "/")[0])
        pods[name] = (ns, ip)
        // The bridge exists now: let its traffic through the node's iptables/nftables.
        try node.exec(["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"])
        if serving {
            servers.append(try NamespaceSockets.EchoPeerServer(in: ns.path, port: 8080, identity: name))
            lineServers.append(try NamespaceSockets.LineEchoServer(in: ns.path, port: 9090, identity: name))
            udpServers[name] = try NamespaceSockets.UDPIdentityServer(in: ns.path, port: 5353, identity: name)
        }
        return ip
    }

    func ip(_ pod: String) -> String { pods[pod]!.ip }

    /// A directory for `seaway proxy --watch`, under the node's own.
    func manifestDirectory() throws -> String {
        let directory = self.directory + "/manifests"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The services written into `directory` aside and renamed over the old file, as kubectl
    /// and ConfigMap volumes do (one inotify change).
    func writeManifests(_ services: [TestCluster.Service], to directory: String) throws {
        try TestCluster.yaml(services).write(toFile: directory + "/.cluster.tmp", atomically: false, encoding: .utf8)
        guard rename(directory + "/.cluster.tmp", directory + "/cluster.yaml") == 0 else {
            throw NamespaceSockets.Failure(description: "rename into \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Runs seaway `arguments` (apply, cleanup, render) inside the node with `manifests`.
    @discardableResult
    func seaway(_ arguments: [String], manifests: String? = nil, check: Bool = true) throws -> CommandResult {
        var args = arguments
        if let manifests {
            let file = directory + "/cluster-\(UInt32.random(in: 0...UInt32.max)).yaml"
            try manifests.write(toFile: file, atomically: true, encoding: .utf8)
            args += ["--hostname-override", "node-a", "--cluster-cidr", "10.244.0.0/16", file]
        }
        return try Command.run("/usr/sbin/ip", ["netns", "exec", node.name, DataplaneNode.seaway] + args,
                               separateStderr: true, check: check)
    }

    /// Who answers `count` connections from `pod` (or "outside") to `address:port`, by name.
    func answers(from pod: String, to address: String, port: UInt16, count: Int) throws -> [String: Int] {
        try exchanges(from: pod, to: address, port: port, count: count).reduce(into: [:]) { $0[$1.name, default: 0] += 1 }
    }

    /// Each connection's answer: the pod that answered and the source address it saw.
    func exchanges(from pod: String, to address: String, port: UInt16, count: Int) throws -> [(name: String, peer: String)] {
        let path = pod == "outside" ? outside.path : pods[pod]!.ns.path
        return try (0..<count).map { _ in
            let words = try NamespaceSockets.ask(from: path, address, port: port).split(separator: " ")
            return (String(words.first ?? ""), String(words.last ?? ""))
        }
    }
}

/// The cluster for the tests: a Node, and Services with EndpointSlices on the given pods.
enum TestCluster {
    struct Service {
        var name: String
        var clusterIP: String
        var endpoints: [String]
        var affinity = false
        /// A NodePort service on this port.
        var nodePort: Int? = nil
        var externalTrafficPolicyLocal = false
        /// Endpoints on another node (not reachable from this one).
        var remoteEndpoints: [String] = []
        /// A DNS-like UDP service: port 53 to the pods' 5353 instead of TCP 80 to 8080.
        var udp = false
        /// A TCP service on port 90 to the pods' line echo on 9090 (connections stay open).
        var lineEcho = false
        /// A LoadBalancer service with this ingress IP (in 192.168.80.0/24, which the
        /// outside namespace routes to the node), admitting only `sourceRanges` if any.
        var loadBalancerIP: String? = nil
        var sourceRanges: [String] = []

        /// (port name, service port, target port, protocol).
        var port: (name: String, port: Int, target: Int, proto: String) {
            udp ? ("dns", 53, 5353, "UDP") : lineEcho ? ("chat", 90, 9090, "TCP") : ("http", 80, 8080, "TCP")
        }
    }

    static func yaml(_ services: [Service]) -> String {
        var out = """
        apiVersion: v1
        kind: Node
        metadata: {name: node-a}
        status:
          addresses: [{type: InternalIP, address: 192.168.77.1}]

        """
        for s in services {
            out += """
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: \(s.name), namespace: default}
            spec:
              clusterIP: \(s.clusterIP)
              \(s.affinity ? "sessionAffinity: ClientIP" : "")
              \(s.loadBalancerIP != nil ? "type: LoadBalancer" : s.nodePort == nil ? "" : "type: NodePort")
              \(s.sourceRanges.isEmpty ? "" : "loadBalancerSourceRanges: [\(s.sourceRanges.joined(separator: ", "))]")
              \(s.externalTrafficPolicyLocal ? "externalTrafficPolicy: Local" : "")
              ports: [{name: \(s.port.name), port: \(s.port.port), targetPort: \(s.port.target), protocol: \(s.port.proto)\(s.nodePort.map { ", nodePort: \($0)" } ?? "")}]
            \(s.loadBalancerIP.map { "status: {loadBalancer: {ingress: [{ip: \($0)}]}}" } ?? "")

            """
            guard !(s.endpoints + s.remoteEndpoints).isEmpty else { continue }
            out += """
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: \(s.name)-1
              namespace: default
              labels: {kubernetes.io/service-name: \(s.name)}
            addressType: IPv4
            ports: [{name: \(s.port.name), port: \(s.port.target), protocol: \(s.port.proto)}]
            endpoints:

            """
            for ip in s.endpoints {
                out += "  - {addresses: [\(ip)], nodeName: node-a, conditions: {ready: true}}\n"
            }
            for ip in s.remoteEndpoints {
                out += "  - {addresses: [\(ip)], nodeName: node-b, conditions: {ready: true}}\n"
            }
        }
        return out
    }
}
