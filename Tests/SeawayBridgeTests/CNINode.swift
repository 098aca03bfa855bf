import Foundation
import SeawayCNI
import SeawayTestSupport

/// One node for CNI tests: a node namespace with pods (their own namespaces), a bridge
/// plugin and an IPAM plugin to run there, and a data directory. The comparison tests build
/// one node with the reference plugins and one with ours and play the same steps on both.
final class CNINode: @unchecked Sendable {
    let label: String
    let node: ThrowawayNamespace
    private(set) var pods: [String: ThrowawayNamespace] = [:]
    let bridge: String
    /// `type` of the IPAM section (host-local or seaway-ipam).
    let ipamType: String
    let dataDirectory: String

    /// The directories plugins are found in: ours first, then the reference's.
    static let cniPath = PluginBinaries.directory + ":" + PluginBinaries.referenceDirectory

    init(_ label: String, bridge: String, ipamType: String) throws {
        self.label = label
        node = try ThrowawayNamespace(prefix: "cni-\(label)")
        self.bridge = bridge
        self.ipamType = ipamType
        dataDirectory = NSTemporaryDirectory() + "seaway-cni-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    static func reference() throws -> CNINode {
        try CNINode("ref", bridge: PluginBinaries.referenceDirectory + "/bridge", ipamType: "host-local")
    }

    static func seaway() throws -> CNINode {
        try CNINode("seaway", bridge: PluginBinaries.bridge, ipamType: "seaway-ipam")
    }

    func pod(_ name: String) throws -> ThrowawayNamespace {
        if let p = pods[name] { return p }
        let p = try ThrowawayNamespace(prefix: "cni-\(label)-\(name)")
        pods[name] = p
        return p
    }

    func close() {
        for p in pods.values { p.close() }
        node.close()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    /// The config `template` with `@IPAM@` (the IPAM type) and `@DATADIR@` filled in.
    func config(_ template: String) -> String {
        template.replacingOccurrences(of: "@IPAM@", with: ipamType).replacingOccurrences(of: "@DATADIR@", with: dataDirectory)
    }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: JSONValue? { try? JSONValue.parse(Array(stdout.utf8), what: "stdout") }
        var message: String? { if case let .string(s)? = json?["msg"] { return s } else { return nil } }
    }

    /// Runs the bridge plugin in the node namespace for `pod`.
    @discardableResult
    func run(_ command: String, _ template: String, pod podName: String, id: String? = nil, ifname: String = "eth0",
             args: String? = nil, netns: String? = nil, extraEnvironment: [String: String] = [:]) throws -> Outcome {
        let p = try pod(podName)
        var env = ["CNI_COMMAND": command, "CNI_CONTAINERID": id ?? "id-\(podName)", "CNI_NETNS": netns ?? p.path,
                   "CNI_IFNAME": ifname, "CNI_PATH": CNINode.cniPath, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        if let args { env["CNI_ARGS"] = args }
        env.merge(extraEnvironment) { $1 }
        let r = try Command.run("/usr/sbin/ip", ["netns", "exec", node.name, bridge], input: config(template),
                                environment: env, separateStderr: true, check: false)
        return Outcome(status: r.status, stdout: r.output, stderr: r.stderr)
    }

    /// IPv6 addresses in duplicate address detection neither route nor answer: waits (up to
    /// 5 s) until no global address of the node or its pods is tentative.
    func waitForAddresses() throws {
        for ns in [node] + Array(pods.values) {
            for _ in 0..<100 where !(try ns.exec(["ip", "-6", "addr", "show", "tentative", "scope", "global"]).output.isEmpty) {
                usleep(50_000)
            }
        }
    }

    /// Reservations in the data directory (files named as addresses).
    func reservations(network: String = "testnet") -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/" + network)) ?? []
        return names.filter { !$0.hasPrefix("last_reserved") && $0 != "lock" && !$0.hasPrefix(".") }.sorted()
    }

    /// The host veths (veth + 8 hex digits) in the node.
    func hostVeths() throws -> [String] {
        try inNode(["ip", "-o", "link", "show", "type", "veth"]).split(separator: "\n").compactMap { line in
            line.split(separator: " ").dropFirst().first.map { String($0.split(separator: "@")[0]) }
        }.filter { $0.hasPrefix("veth") }
    }

    /// Runs `command` in the node namespace and returns its stdout.
    func inNode(_ command: [String]) throws -> String { try node.exec(command).output }
}

