import Foundation
import SeawayCNI
import SeawayTestSupport
import Testing

/// seaway-bridge at the edges: bad input, CHECK, an interface that exists, repeated and late
/// DELs, what this kernel cannot do, a kill in the middle of ADD, many ADDs at once.
@Suite(.enabled(if: PluginBinaries.comparisonAvailable, Comment(rawValue: PluginBinaries.comparisonUnavailable)))
struct BridgeProtocolTests {
    static let base = BridgeComparisonTests.config(#""isGateway":true,"ipMasq":true"#)

    /// A node where nothing was left: no host veth, no eth0 in the pod, no reservation.
    func expectClean(_ node: CNINode, pod: String = "a", _ comment: Comment? = nil) throws {
        #expect(try node.hostVeths() == [], comment)
        #expect(try node.pod(pod).exec(["ip", "link", "show", "eth0"], check: false).status != 0, comment)
        #expect(node.reservations() == [], comment)
        #expect(try node.masqueradeSummary() == [], comment)
    }

    @Test(arguments: [
        (#""vlan":5000"#, nil as String?, 7, "vlan: invalid VLAN ID 5000 (must be between 0 and 4094)"),
        (#""hairpinMode":true,"promiscMode":true"#, nil, 7, "hairpinMode, promiscMode: cannot set hairpin mode and promiscuous mode at the same time"),
        (#""mtu":10"#, nil, 7, "mtu: 10 is not between 68 and 65535"),
        (#""runtimeConfig":{"mac":"01:00:5e:00:00:01"}"#, nil, 7, "runtimeConfig.mac: 01:00:5e:00:00:01 is a multicast address"),
        (#""bridge":"bad/name""#, nil, 7, "bridge: 'bad/name' is not a valid interface name"),
        (#""vlanTrunk":[{"minID":10}]"#, nil, 7, "vlanTrunk[0]: minID and maxID should be configured simultaneously, maxID is missing"),
        (#""isGateway":true"#, #""subnet":"10.22.0.0/24","rangeStart":"10.99.0.5""#, 7, "ipam.rangeStart: 10.99.0.5 is not in network 10.22.0.0/24"),
        (#""isGateway":true"#, #""subnet":"10.22.0.0/24","rangeStart":"10.22.0.9","rangeEnd":"10.22.0.9""#, 0, ""),
        (#""ipMasq":true,"ipMasqBackend":"iptables""#, nil, 2, "ipMasqBackend: 'iptables' is not supported; seaway-bridge masquerades with nftables only"),
        (#""portIsolation":true"#, nil, 2, "portIsolation: not supported by seaway-bridge"),
    ])
    func badConfigIsRefusedWithItsFieldAndLeavesNothing(_ body: String, _ ipam: String?, _ code: Int, _ message: String) throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        let conf = ipam.map { BridgeComparisonTests.config(body, ipam: $0) } ?? BridgeComparisonTests.config(body)
        let o = try node.run("ADD", conf, pod: "a")
        if code == 0 {
            // The one-address range: the first ADD works, the second finds it exhausted.
            #expect(o.status == 0)
            let second = try node.run("ADD", conf, pod: "b")
            #expect(second.status == 1)
            #expect(second.json?["code"] == .number(11))
            #expect(second.message == "failed to allocate for range 0: no IP addresses available in range set: 10.22.0.9-10.22.0.9")
            #expect(try node.pod("b").exec(["ip", "link", "show", "eth0"], check: false).status != 0)
            #expect(try node.hostVeths().count == 1)
            return
        }
        #expect(o.status == 1)
        #expect(o.json?["code"] == .number(Double(code)))
        #expect(o.message == message)
        try expectClean(node)
    }

    @Test func protocolErrorsHaveTheSpecsCodes() throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        var env = ["CNI_COMMAND": "ADD", "CNI_IFNAME": "eth0", "CNI_PATH": CNINode.cniPath]
        var r = try Command.run(PluginBinaries.bridge, [], input: Self.base, environment: env, check: false)
        #expect(r.status == 1)
        #expect(r.output.contains(#""code": 4"#) && r.output.contains("required env variables [CNI_CONTAINERID,CNI_NETNS] missing"))
        env["CNI_CONTAINERID"] = "x"
        env["CNI_NETNS"] = try node.pod("a").path
        r = try Command.run(PluginBinaries.bridge, [], input: "{not json", environment: env, check: false)
        #expect(r.output.contains(#""code": 6"#))
        r = try Command.run(PluginBinaries.bridge, [], input: Self.base.replacingOccurrences(of: "1.0.0", with: "0.2.0"), environment: env, check: false)
        #expect(r.output.contains(#""code": 1"#) && r.output.contains("incompatible CNI versions"))
        let o = try node.run("ADD", BridgeComparisonTests.config(#""isGateway":true"#).replacingOccurrences(of: "@IPAM@", with: "no-such-ipam"), pod: "a")
        #expect(o.json?["code"] == .number(7))
        #expect(o.message?.hasPrefix("ipam.type: failed to find plugin \"no-such-ipam\" in path") == true)
        try expectClean(node)
    }

    @Test func anInterfaceThatExistsInTheContainerIsRefusedBeforeAnythingIsTaken() throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        try node.pod("a").exec(["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "other0"])
        let o = try node.run("ADD", Self.base, pod: "a")
        #expect(o.status == 1)
        #expect(o.message?.hasPrefix("container veth name \"eth0\" already exists in ") == true)
        #expect(try node.hostVeths() == [])
        #expect(node.reservations() == [])
    }

    @Test func deleteIsIdempotentAndWorksWithoutTheNamespace() throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        #expect(try node.run("ADD", Self.base, pod: "a").status == 0)
        #expect(try node.run("DEL", Self.base, pod: "a").status == 0)
        #expect(try node.run("DEL", Self.base, pod: "a").status == 0)
        try expectClean(node)
        #expect(try node.run("ADD", Self.base, pod: "b").status == 0)
        let del = try node.run("DEL", Self.base, pod: "b", netns: "/var/run/netns/gone-\(getpid())")
        #expect(del.status == 0, "\(del.stdout)")
        #expect(node.reservations() == [])
        #expect(try node.run("DEL", Self.base, pod: "c", netns: "").status == 0)
    }

    /// CHECK with the ADD's result: fine on both plugins, and both notice a removed address.
    @Test func checkConfirmsTheResultAndNoticesDrift() throws {
        let ours = try CNINode.seaway(), reference = try CNINode.reference()
        defer { ours.close(); reference.close() }
        for node in [ours, reference] {
            let add = try node.run("ADD", Self.base, pod: "a")
            #expect(add.status == 0)
            let withResult = String(Self.base.dropLast()) + #","prevResult":"# + add.stdout + "}"
            let ok = try node.run("CHECK", withResult, pod: "a")
            #expect(ok.status == 0, "\(node.label): \(ok.stdout)")
            #expect(try node.run("CHECK", Self.base, pod: "a").status == 1, "\(node.label): no prevResult")
            try node.pod("a").exec(["ip", "addr", "flush", "dev", "eth0", "scope", "global"])
            let drifted = try node.run("CHECK", withResult, pod: "a")
            #expect(drifted.status == 1, "\(node.label)")
            #expect(drifted.message?.contains("10.22.0.2") == true, "\(node.label): \(drifted.stdout)")
        }
        let missing = try ours.run("CHECK", Self.base, pod: "a")
        #expect(missing.message == "prevResult: Required prevResult missing")
    }

    /// This kernel has no bridge VLAN filtering: both plugins fail; ours says why and leaves
    /// nothing (on a kernel with it, the netlink test checks real VLANs).
    @Test func vlansOnAKernelWithoutVLANFilteringFailClearly() throws {
        let ours = try CNINode.seaway()
        defer { ours.close() }
        let conf = BridgeComparisonTests.config(#""isGateway":true,"vlan":100"#)
        let supported = try ours.node.exec(["ip", "link", "add", "probe0", "type", "bridge", "vlan_filtering", "1"], check: false).status == 0
        guard !supported else {
            try ours.node.exec(["ip", "link", "del", "probe0"])
            #expect(try ours.run("ADD", conf, pod: "a").status == 0)
            #expect(try ours.inNode(["bridge", "vlan", "show"]).contains("100 PVID Egress Untagged"))
            return
        }
        let o = try ours.run("ADD", conf, pod: "a")
        #expect(o.status == 1)
        #expect(o.message == "failed to create bridge \"cni0\": create bridge cni0 with VLAN filtering: Operation not supported (this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING))")
        try expectClean(ours)
    }

    @Test func aDisabledContainerInterfaceStaysDownAndTakesNoIPAM() throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        #expect(try node.run("ADD", BridgeComparisonTests.config(#""disableContainerInterface":true"#, ipam: nil), pod: "a").status == 0)
        let link = try node.pod("a").exec(["ip", "-o", "link", "show", "eth0"]).output
        #expect(link.contains("state DOWN") && !link.contains(",UP"))
        #expect(try node.hostVeths().count == 1)
        let refused = try node.run("ADD", BridgeComparisonTests.config(#""disableContainerInterface":true"#), pod: "b")
        #expect(refused.message == "disableContainerInterface, ipam: cannot use IPAM when the container interface is disabled")
    }

    /// Killed at each stage of ADD, then the runtime's DEL; or, without a DEL, GC.
    @Test(arguments: ["veth", "ipam", "container", "masquerade"])
    func anAddKilledMidwayIsCleanedByDeleteOrGC(_ stage: String) throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        let conf = Self.base.replacingOccurrences(of: "\"cniVersion\":\"1.0.0\"", with: "\"cniVersion\":\"1.1.0\"")
        let killed = try node.run("ADD", conf, pod: "a", extraEnvironment: ["SEAWAY_CNI_TEST_CRASH_AT": stage])
        #expect(killed.status == 137)
        #expect(try node.run("DEL", conf, pod: "a").status == 0)
        try expectClean(node, "DEL after a kill at \(stage)")

        #expect(try node.run("ADD", conf, pod: "b", extraEnvironment: ["SEAWAY_CNI_TEST_CRASH_AT": stage]).status == 137)
        let gc = conf.replacingOccurrences(of: "\"type\":\"bridge\"", with: #""type":"bridge","cni.dev/valid-attachments":[]"#)
        #expect(try node.run("GC", gc, pod: "b").status == 0)
        #expect(node.reservations() == [], "GC after a kill at \(stage)")
        #expect(try node.masqueradeSummary() == [], "GC after a kill at \(stage)")
    }

    @Test func statusPassesOnWhatTheIPAMPluginSays() throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        let conf = BridgeComparisonTests.config(#""isGateway":true"#, version: "1.1.0", ipam: #""subnet":"10.22.0.0/30""#)
        #expect(try node.run("STATUS", conf, pod: "a").status == 0)
        #expect(try node.run("ADD", conf, pod: "a").status == 0)
        let full = try node.run("STATUS", conf, pod: "a")
        #expect(full.json?["code"] == .number(50))
    }

    @Test func fiftyParallelAddsOnOneBridgeGetFiftyAddressesAndFiftyDeletesLeaveNone() async throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        for i in 0..<50 { _ = try node.pod("p\(i)") }
        let results = await withTaskGroup(of: String.self) { group in
            for i in 0..<50 {
                group.addTask {
                    let o = try? node.run("ADD", Self.base, pod: "p\(i)")
                    guard o?.status == 0, case let .array(ips)? = o?.json?["ips"], case let .string(a)? = ips.first?["address"] else {
                        return "failed: \(o?.stdout ?? "")"
                    }
                    return a
                }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(results).count == 50, "\(results.filter { $0.hasPrefix("failed") })")
        #expect(node.reservations().count == 50)
        #expect(try node.hostVeths().count == 50)
        #expect(try node.masqueradeSummary().count == 50)
        let deleted = await withTaskGroup(of: Int32.self) { group in
            for i in 0..<50 { group.addTask { (try? node.run("DEL", Self.base, pod: "p\(i)").status) ?? -1 } }
            return await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        #expect(deleted == Array(repeating: 0, count: 50))
        #expect(node.reservations() == [])
        #expect(try node.hostVeths() == [])
        #expect(try node.masqueradeSummary() == [])
    }
}

/// A conflist: our result is the next plugin's prevResult.
@Suite(.enabled(if: PluginBinaries.comparisonAvailable && FileManager.default.isExecutableFile(atPath: "/usr/lib/cni/tuning"),
                Comment(rawValue: PluginBinaries.comparisonUnavailable)))
struct ChainingTests {
    @Test func theReferenceTuningPluginTakesOurResultAsItsPrevResult() throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        let add = try node.run("ADD", BridgeProtocolTests.base, pod: "a")
        #expect(add.status == 0)
        // tuning finds the container interface through prevResult and sets its sysctl.
        let tuning = #"{"cniVersion":"1.0.0","name":"testnet","type":"tuning","sysctl":{"net.ipv4.conf.eth0.rp_filter":"2"},"prevResult":"# + add.stdout + "}"
        var env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "id-a", "CNI_NETNS": try node.pod("a").path, "CNI_IFNAME": "eth0",
                   "CNI_PATH": CNINode.cniPath]
        let r = try Command.run("/usr/sbin/ip", ["netns", "exec", node.node.name, "/usr/lib/cni/tuning"], input: tuning,
                                environment: env, separateStderr: true, check: false)
        #expect(r.status == 0, "\(r.output)\(r.stderr)")
        let passedOn = try JSONValue.parse(Array(r.output.utf8), what: "tuning's result")
        #expect(passedOn["ips"] == (try JSONValue.parse(Array(add.stdout.utf8), what: "ours"))["ips"])
        #expect(try node.pod("a").exec(["sysctl", "-n", "net.ipv4.conf.eth0.rp_filter"]).output.trimmed == "2")
        env["CNI_COMMAND"] = "DEL"
        #expect(try Command.run("/usr/sbin/ip", ["netns", "exec", node.node.name, "/usr/lib/cni/tuning"], input: tuning,
                                environment: env, check: false).status == 0)
        #expect(try node.run("DEL", BridgeProtocolTests.base, pod: "a").status == 0)
    }
}
