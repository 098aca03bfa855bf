import Foundation
import SeawayKernel
import SeawayTestSupport
import Testing

extension CNINode {
    /// An "outside" namespace behind the node on `uplink0`: 192.168.100.1/24 and
    /// fd00:100::1/64 on the node, .2 / ::2 outside. Outside has no route to the pods, so a
    /// pod reaches it only when masqueraded.
    func addUplink() throws -> ThrowawayNamespace {
        let outside = try pod("outside")
        try node.exec(["ip", "link", "add", "uplink0", "type", "veth", "peer", "name", "eth0", "netns", outside.name])
        try node.exec(["ip", "addr", "add", "192.168.100.1/24", "dev", "uplink0"])
        try node.exec(["ip", "addr", "add", "fd00:100::1/64", "dev", "uplink0", "nodad"])
        try node.exec(["ip", "link", "set", "uplink0", "up"])
        try outside.exec(["ip", "addr", "add", "192.168.100.2/24", "dev", "eth0"])
        try outside.exec(["ip", "addr", "add", "fd00:100::2/64", "dev", "eth0", "nodad"])
        try outside.exec(["ip", "link", "set", "eth0", "up"])
        return outside
    }

    /// What is masqueraded, by meaning: `<source> masquerade except <subnet>, multicast` per
    /// pod address, read from the reference's iptables chains or our nftables rules.
    func masqueradeSummary() throws -> [String] {
        var out: [String] = []
        for tool in ["iptables-save", "ip6tables-save"] {
            let text = try node.exec([tool, "-t", "nat"]).output
            let lines = text.split(separator: "\n").map(String.init)
            for line in lines where line.hasPrefix("-A POSTROUTING -s ") && line.contains("-j CNI-") {
                let source = line.split(separator: " ")[3].split(separator: "/")[0]
                let chain = String(line.split(separator: " ").last!)
                let body = lines.filter { $0.hasPrefix("-A \(chain) ") }
                let exempt = body.filter { $0.hasSuffix("-j ACCEPT") }.compactMap { $0.split(separator: " ").dropFirst(3).first }
                guard body.contains(where: { $0.contains("! -d 224.0.0.0/4") || $0.contains("! -d ff00::/8") }) else { continue }
                out.append("\(source) masquerade except \(exempt.joined(separator: ",")), multicast")
            }
        }
        let nft = try node.exec(["nft", "list", "table", "inet", "cni_plugins_masquerade"], check: false)
        if nft.status == 0 {
            let multicast = nft.output.contains("ip daddr 224.0.0.0/4 return") && nft.output.contains("ip6 daddr ff00::/8 return")
            for line in nft.output.split(separator: "\n") where line.contains("masquerade comment") {
                let words = line.split(separator: " ")
                guard let s = words.firstIndex(of: "saddr"), let d = words.firstIndex(of: "!=") else { continue }
                out.append("\(words[s + 1]) masquerade except \(words[d + 1])" + (multicast ? ", multicast" : ""))
            }
        }
        return out.sorted()
    }
}

@Suite(.enabled(if: PluginBinaries.comparisonAvailable, Comment(rawValue: PluginBinaries.comparisonUnavailable)))
struct HostRulesTests {
    static let masqConfig = BridgeComparisonTests.config(#""isGateway":true,"ipMasq":true"#,
        ipam: #""ranges":[[{"subnet":"10.24.0.0/24"}],[{"subnet":"fd00:24::/64"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]"#)

    @Test(arguments: ["reference", "seaway"])
    func podsAreMasqueradedOutsideTheirSubnetOnly(_ which: String) throws {
        let node = try which == "seaway" ? CNINode.seaway() : CNINode.reference()
        defer { node.close() }
        let outside = try node.addUplink()
        #expect(try node.run("ADD", Self.masqConfig, pod: "a").status == 0)
        #expect(try node.run("ADD", Self.masqConfig, pod: "b").status == 0)
        let server = try NamespaceSockets.EchoPeerServer(in: outside.path, port: 8080, ipv6: true)
        defer { server.stop() }
        let inPodB = try NamespaceSockets.EchoPeerServer(in: try node.pod("b").path, port: 8081, ipv6: true)
        defer { inPodB.stop() }
        let a = try node.pod("a").path
        try node.waitForAddresses()
        #expect(try NamespaceSockets.ask(from: a, "192.168.100.2", port: 8080) == "::ffff:192.168.100.1")
        #expect(try NamespaceSockets.ask(from: a, "fd00:100::2", port: 8080) == "fd00:100::1")
        // Inside the pod subnet the source stays the pod's.
        #expect(try NamespaceSockets.ask(from: a, "10.24.0.3", port: 8081) == "::ffff:10.24.0.2")
        #expect(try node.masqueradeSummary() == [
            "10.24.0.2 masquerade except 10.24.0.0/24, multicast", "10.24.0.3 masquerade except 10.24.0.0/24, multicast",
            "fd00:24::2 masquerade except fd00:24::/64, multicast", "fd00:24::3 masquerade except fd00:24::/64, multicast",
        ])
        #expect(try node.run("DEL", Self.masqConfig, pod: "a").status == 0)
        #expect(try node.masqueradeSummary() == [
            "10.24.0.3 masquerade except 10.24.0.0/24, multicast", "fd00:24::3 masquerade except fd00:24::/64, multicast",
        ])
    }

    /// A DEL after the runtime deleted the namespace: we still remove the pod's rules (found
    /// by their comment); the reference cannot (it reads the addresses from the interface).
    @Test func deleteWithoutTheNamespaceStillRemovesTheRules() throws {
        let ours = try CNINode.seaway(), reference = try CNINode.reference()
        defer { ours.close(); reference.close() }
        for node in [ours, reference] {
            #expect(try node.run("ADD", Self.masqConfig, pod: "a").status == 0)
            try node.pod("a").close()
            #expect(try node.run("DEL", Self.masqConfig, pod: "a").status == 0)
            #expect(try node.run("DEL", Self.masqConfig, pod: "a").status == 0, "DEL twice")
        }
        #expect(try ours.masqueradeSummary() == [])
        #expect(try reference.masqueradeSummary().count == 2, "the reference leaks both rules")
        #expect(!(try ours.inNode(["nft", "list", "chain", "inet", "cni_plugins_masquerade", "masq_checks"]).contains("masquerade comment")))
    }

    @Test func gcRemovesRulesAndAddressesOfAttachmentsNoLongerValid() throws {
        let node = try CNINode.seaway()
        defer { node.close() }
        let conf = Self.masqConfig.replacingOccurrences(of: "\"cniVersion\":\"1.0.0\"", with: "\"cniVersion\":\"1.1.0\"")
        for pod in ["a", "b"] { #expect(try node.run("ADD", conf, pod: pod).status == 0) }
        let gc = conf.replacingOccurrences(of: "\"type\":\"bridge\"",
                                           with: #""type":"bridge","cni.dev/valid-attachments":[{"containerID":"id-b","ifname":"eth0"}]"#)
        let o = try node.run("GC", gc, pod: "a")
        #expect(o.status == 0, "\(o.stdout)")
        #expect(try node.masqueradeSummary() == ["10.24.0.3 masquerade except 10.24.0.0/24, multicast", "fd00:24::3 masquerade except fd00:24::/64, multicast"])
        #expect(node.reservations() == ["10.24.0.3", "fd00:24::3"])
    }

    static let spoofConfig = BridgeComparisonTests.config(#""isGateway":true,"macspoofchk":true"#)

    @Test func macSpoofCheckRulesAreTheReferencesAndDropForeignMACs() throws {
        let ours = try CNINode.seaway(), reference = try CNINode.reference()
        defer { ours.close(); reference.close() }
        var tables: [String] = []
        for node in [reference, ours] {
            #expect(try node.run("ADD", Self.spoofConfig, pod: "a").status == 0)
            var names: [String: String] = [:]
            tables.append(NodeSnapshot.normalise(try node.inNode(["nft", "list", "table", "bridge", "nat"]), keepMACs: [], names: &names))

            let server = try NamespaceSockets.EchoPeerServer(in: node.node.path, port: 8082)
            defer { server.stop() }
            let pod = try node.pod("a")
            #expect(try NamespaceSockets.ask(from: pod.path, "10.22.0.1", port: 8082) == "10.22.0.2", "\(node.label): own MAC")
            let mac = try pod.exec(["cat", "/sys/class/net/eth0/address"]).output.trimmed
            try pod.exec(["ip", "link", "set", "eth0", "address", "0a:00:00:00:00:99"])
            try pod.exec(["ip", "neigh", "flush", "all"])
            #expect(throws: (any Error).self, "\(node.label): foreign MAC") {
                try NamespaceSockets.ask(from: pod.path, "10.22.0.1", port: 8082, timeoutSeconds: 1)
            }
            try pod.exec(["ip", "link", "set", "eth0", "address", mac])
            #expect(try node.run("DEL", Self.spoofConfig, pod: "a").status == 0)
            #expect(!(try node.inNode(["nft", "list", "table", "bridge", "nat"]).contains("cni-br-iface")), "\(node.label): DEL")
        }
        #expect(tables[0] == tables[1])
    }
}
