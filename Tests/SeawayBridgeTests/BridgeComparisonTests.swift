import Foundation
import SeawayCNI
import SeawayTestSupport
import Testing

/// seaway-bridge + seaway-ipam against /usr/lib/cni/bridge + host-local: the same config and
/// steps on two nodes, then the same results (normalised: MACs, veth names, namespaces) and
/// the same links, addresses, routes and sysctls. Mixed pairs too. Known differences on
/// purpose (docs/cni.md) are not compared: veth txqueuelen, error documents, what a failed
/// ADD leaves behind (the reference leaks the veth).
@Suite(.enabled(if: PluginBinaries.comparisonAvailable, Comment(rawValue: PluginBinaries.comparisonUnavailable)))
struct BridgeComparisonTests {
    struct Step {
        var command = "ADD"
        var pod: String
        var ifname = "eth0"
        var args: String? = nil
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var config: String
        var steps: [(command: String, pod: String)]
        var keepMACs: Set<String> = []
        var args: String? = nil
        var testDescription: String { name }
    }

    static func config(_ body: String, version: String = "1.0.0", ipam: String? = #""subnet":"10.22.0.0/24","routes":[{"dst":"0.0.0.0/0"}]"#) -> String {
        let ipamPart = ipam.map { #","ipam":{"type":"@IPAM@","dataDir":"@DATADIR@",\#($0)}"# } ?? ""
        return #"{"cniVersion":"\#(version)","name":"testnet","type":"bridge","bridge":"cni0"\#(body.isEmpty ? "" : "," + body)\#(ipamPart)}"#
    }

    static let dualStack = #""ranges":[[{"subnet":"10.23.0.0/24"}],[{"subnet":"fd00:23::/64"}]],"routes":[{"dst":"192.168.0.0/16"}]"#

    static let scenarios: [Scenario] = [
        Scenario(name: "gateway, two pods, one deleted", config: config(#""isGateway":true"#),
                 steps: [("ADD", "a"), ("ADD", "b"), ("DEL", "a")]),
        Scenario(name: "default gateway, dual stack", config: config(#""isDefaultGateway":true"#, ipam: dualStack),
                 steps: [("ADD", "a"), ("ADD", "b")]),
        Scenario(name: "no gateway on the bridge", config: config(""), steps: [("ADD", "a")]),
        Scenario(name: "layer 2 only", config: config(#""mtu":1400"#, ipam: nil), steps: [("ADD", "a"), ("ADD", "b")]),
        Scenario(name: "mtu and hairpin", config: config(#""isGateway":true,"mtu":1450,"hairpinMode":true"#), steps: [("ADD", "a")]),
        Scenario(name: "promiscuous bridge", config: config(#""isGateway":true,"promiscMode":true"#), steps: [("ADD", "a")]),
        Scenario(name: "MAC from runtimeConfig", config: config(#""isGateway":true,"runtimeConfig":{"mac":"0a:58:0a:16:00:09"}"#),
                 steps: [("ADD", "a")], keepMACs: ["0a:58:0a:16:00:09"]),
        Scenario(name: "MAC from CNI_ARGS", config: config(#""isGateway":true"#), steps: [("ADD", "a")],
                 keepMACs: ["0a:58:0a:16:00:0a"], args: "IgnoreUnknown=1;MAC=0a:58:0a:16:00:0a"),
        Scenario(name: "duplicate address detection on", config: config(#""isGateway":true,"enabledad":true"#, ipam: dualStack),
                 steps: [("ADD", "a")]),
        Scenario(name: "0.3.1 results", config: config(#""isGateway":true"#, version: "0.3.1", ipam: dualStack), steps: [("ADD", "a")]),
        Scenario(name: "0.4.0 results", config: config(#""isDefaultGateway":true"#, version: "0.4.0", ipam: #""subnet":"10.22.0.0/24""#),
                 steps: [("ADD", "a"), ("DEL", "a"), ("ADD", "b")]),
        Scenario(name: "DNS from the config", config: config(#""isGateway":true,"dns":{"nameservers":["10.96.0.10"],"search":["svc.cluster.local"]}"#),
                 steps: [("ADD", "a")]),
    ]

    /// Plays `scenario` on `node`; the outputs, normalised.
    func play(_ scenario: Scenario, on node: CNINode) throws -> [String] {
        var names: [String: String] = [:]
        return try scenario.steps.map { step in
            let o = try node.run(step.command, scenario.config, pod: step.pod, args: scenario.args)
            let text = o.status == 0 ? o.stdout : "error " + (o.message ?? o.stdout)
            return "\(step.command) \(step.pod) -> \(o.status) " + NodeSnapshot.normalise(text, keepMACs: scenario.keepMACs, names: &names)
        }
    }

    func compare(_ scenario: Scenario, ours: CNINode, reference: CNINode) throws {
        let theirs = try play(scenario, on: reference)
        let mine = try play(scenario, on: ours)
        #expect(mine == theirs, "\(scenario.name): results")
        let a = try NodeSnapshot(ours, keepMACs: scenario.keepMACs), b = try NodeSnapshot(reference, keepMACs: scenario.keepMACs)
        #expect(a == b, "\(scenario.name): node state")
        if a != b {
            let only = Set(a.lines).symmetricDifference(b.lines).sorted()
            Issue.record("\(scenario.name): differing lines\n\(only.map { (Set(a.lines).contains($0) ? "ours: " : "reference: ") + $0 }.joined(separator: "\n"))")
        }
    }

    @Test(arguments: scenarios)
    func sameResultsAndNodeStateAsTheReference(_ scenario: Scenario) throws {
        let ours = try CNINode.seaway(), reference = try CNINode.reference()
        defer { ours.close(); reference.close() }
        try compare(scenario, ours: ours, reference: reference)
    }

    /// `isDefaultGateway` adds a default route via the gateway, and an IPAM default route
    /// without one becomes the same route: both plugins fail the ADD. The reference leaves
    /// the veth and the bridge port behind; ours leaves what it found.
    @Test func aFailedAddLeavesNothingBehindWhereTheReferenceLeaksTheVeth() throws {
        let ours = try CNINode.seaway(), reference = try CNINode.reference()
        defer { ours.close(); reference.close() }
        let conf = Self.config(#""isDefaultGateway":true"#)
        let theirs = try reference.run("ADD", conf, pod: "a"), mine = try ours.run("ADD", conf, pod: "a")
        #expect(theirs.status == 1 && mine.status == 1)
        #expect(mine.message == "add route 0.0.0.0/0 via 10.22.0.1 dev eth0: File exists")
        #expect(try reference.pod("a").exec(["ip", "link", "show", "eth0"], check: false).status == 0, "the reference leaks the veth")
        #expect(try ours.pod("a").exec(["ip", "link", "show", "eth0"], check: false).status != 0)
        #expect(try ours.hostVeths() == [])
        #expect(ours.reservations() == [])
    }

    /// A bridge that already has another IPv4 address: with `forceAddress` both plugins
    /// replace it, without it both refuse the ADD.
    @Test(arguments: [true, false])
    func forceAddressReplacesAForeignBridgeAddressOrRefuses(_ force: Bool) throws {
        let ours = try CNINode.seaway(), reference = try CNINode.reference()
        defer { ours.close(); reference.close() }
        for node in [ours, reference] {
            try node.node.exec(["ip", "link", "add", "cni0", "type", "bridge"])
            try node.node.exec(["ip", "addr", "add", "10.99.0.1/24", "dev", "cni0"])
        }
        let scenario = Scenario(name: "forceAddress \(force)", config: Self.config(#""isGateway":true,"forceAddress":\#(force)"#),
                                steps: [("ADD", "a")])
        if force {
            try compare(scenario, ours: ours, reference: reference)
            #expect(!(try ours.inNode(["ip", "addr", "show", "cni0"]).contains("10.99.0.1")))
        } else {
            let theirs = try reference.run("ADD", scenario.config, pod: "a"), mine = try ours.run("ADD", scenario.config, pod: "a")
            #expect(theirs.status == 1 && mine.status == 1)
            #expect(theirs.message?.contains("\"cni0\" already has an IP address different from 10.22.0.1/24") == true)
            #expect(mine.message == "\"cni0\" already has an IP address different from 10.22.0.1/24")
            #expect(try ours.inNode(["ip", "addr", "show", "cni0"]).contains("10.99.0.1/24"))
            #expect(try ours.hostVeths() == [])
            #expect(ours.reservations() == [])
        }
    }

    /// Capabilities the bridge does not use pass through to the plugins that do: `ips` to
    /// IPAM, `portMappings` ignored (the portmap plugin's).
    @Test func runtimeConfigCapabilitiesPassThrough() throws {
        let ours = try CNINode.seaway(), reference = try CNINode.reference()
        defer { ours.close(); reference.close() }
        let scenario = Scenario(name: "capabilities", config: Self.config(
            #""isGateway":true,"runtimeConfig":{"ips":["10.22.0.42/24"],"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}"#),
            steps: [("ADD", "a")])
        try compare(scenario, ours: ours, reference: reference)
        #expect(try ours.pod("a").exec(["ip", "addr", "show", "eth0"]).output.contains("10.22.0.42/24"))
    }

    /// Our bridge with the reference host-local, and the reference bridge with our IPAM.
    @Test(arguments: [scenarios[0], scenarios[1]])
    func mixedPairsBehaveLikeTheReference(_ scenario: Scenario) throws {
        let reference = try CNINode.reference()
        let oursWithHostLocal = try CNINode("mixa", bridge: PluginBinaries.bridge, ipamType: "host-local")
        let referenceWithOurs = try CNINode("mixb", bridge: PluginBinaries.referenceDirectory + "/bridge", ipamType: "seaway-ipam")
        defer { reference.close(); oursWithHostLocal.close(); referenceWithOurs.close() }
        let expected = try play(scenario, on: reference)
        let a = try play(scenario, on: oursWithHostLocal), b = try play(scenario, on: referenceWithOurs)
        #expect(a == expected, "our bridge + host-local")
        #expect(b == expected, "reference bridge + seaway-ipam")
        let state = try NodeSnapshot(reference)
        #expect(try NodeSnapshot(oursWithHostLocal) == state)
        #expect(try NodeSnapshot(referenceWithOurs) == state)
    }
}
