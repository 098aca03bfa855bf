import Foundation
import SeawayCNI
import SeawayTestSupport
import Testing

/// Our `seaway-ipam` against the reference `host-local` (Debian's containernetworking-plugins
/// 1.1.1) on the same configs: the same results and the same files on disk. Where we differ
/// on purpose (docs/cni.md): errors carry `cniVersion` and the spec's codes instead of 999.
@Suite(.enabled(if: PluginBinaries.referenceAvailable, "SKIPPED LOUDLY: /usr/lib/cni/host-local is missing (scripts/setup installs containernetworking-plugins)"))
struct HostLocalReferenceTests {
    struct Step {
        var command: String
        var id: String
        var ifname = "eth0"
        var args: String? = nil
    }

    /// Plays `steps` against a binary with a fresh data directory; returns each step's
    /// outcome and the files left.
    func play(_ binary: String, ipam: String, version: String, steps: [Step]) -> ([String], [String]) {
        let h = IPAMHarness(.binary(binary))
        defer { h.remove() }
        let conf = h.config(ipam, version: version)
        var outcomes: [String] = []
        for step in steps {
            let o = h.run(step.command, conf, id: step.id, ifname: step.ifname, args: step.args)
            outcomes.append("\(step.command) \(step.id)/\(step.ifname) -> \(o.exitCode) " + normalised(o))
        }
        return (outcomes, h.files())
    }

    /// A result as printed, or an error reduced to its message (see the suite comment).
    func normalised(_ o: IPAMHarness.Outcome) -> String {
        if o.exitCode != 0 { return "error: " + (o.message ?? o.stdout) }
        // The reference's dataDir differs per run: results never contain it, so compare text.
        return o.stdout
    }

    static let scripts: [(String, String, [Step])] = [
        ("single subnet", #""subnet":"10.10.0.0/29","routes":[{"dst":"0.0.0.0/0"}]"#, [
            Step(command: "ADD", id: "a"), Step(command: "ADD", id: "b"), Step(command: "ADD", id: "a"),
            Step(command: "DEL", id: "a"), Step(command: "ADD", id: "c"), Step(command: "ADD", id: "d"),
            Step(command: "ADD", id: "e"), Step(command: "ADD", id: "f"), Step(command: "ADD", id: "g"),
            Step(command: "CHECK", id: "b"), Step(command: "CHECK", id: "zz"), Step(command: "DEL", id: "zz"),
        ]),
        ("dual stack, several ranges, custom gateway", #"""
        "ranges":[[{"subnet":"10.20.0.0/24","rangeStart":"10.20.0.250","rangeEnd":"10.20.0.251","gateway":"10.20.0.254"},
                   {"subnet":"10.21.0.0/30"}],
                  [{"subnet":"fd00:20::/120","rangeStart":"fd00:20::fe"}]],
        "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0","gw":"fd00:20::1"}]
        """#, [
            Step(command: "ADD", id: "a"), Step(command: "ADD", id: "a", ifname: "net1"), Step(command: "ADD", id: "b"),
            Step(command: "ADD", id: "c"), Step(command: "DEL", id: "a", ifname: "net1"), Step(command: "ADD", id: "d"),
            Step(command: "DEL", id: "b"), Step(command: "DEL", id: "b"),
        ]),
        ("requested addresses", #""subnet":"10.30.0.0/24""#, [
            Step(command: "ADD", id: "a", args: "IP=10.30.0.40"), Step(command: "ADD", id: "b", args: "IP=10.30.0.40"),
            Step(command: "ADD", id: "c", args: "IgnoreUnknown=1;IP=10.30.0.1"), Step(command: "ADD", id: "d", args: "IP=10.99.0.1"),
            Step(command: "ADD", id: "e"), Step(command: "DEL", id: "a"), Step(command: "ADD", id: "f", args: "IP=10.30.0.40"),
        ]),
    ]

    @Test(arguments: ["0.3.1", "0.4.0", "1.0.0"])
    func sameResultsAndFilesAsTheReference(_ version: String) {
        for (name, ipam, steps) in Self.scripts {
            let steps = version < "0.4.0" ? steps.filter { $0.command != "CHECK" } : steps
            let ours = play(PluginBinaries.ipam, ipam: ipam, version: version, steps: steps)
            let reference = play(PluginBinaries.referenceDirectory + "/host-local", ipam: ipam, version: version, steps: steps)
            #expect(ours.0 == reference.0, "\(name), \(version): results")
            #expect(ours.1 == reference.1, "\(name), \(version): files")
        }
    }

    /// A node switching plugins: each ADD and DEL goes to whichever plugin, alternately, and
    /// the outcome is what the reference alone would have done.
    @Test func eitherPluginContinuesTheOthersReservations() {
        let ipam = #""ranges":[[{"subnet":"10.40.0.0/28"}],[{"subnet":"fd00:40::/124"}]]"#
        let steps = (0..<12).map { i in Step(command: i % 4 == 3 ? "DEL" : "ADD", id: "c\(i % 4 == 3 ? i - 2 : i)") }
        let expected = play(PluginBinaries.referenceDirectory + "/host-local", ipam: ipam, version: "1.0.0", steps: steps)

        let h = IPAMHarness(.binary(PluginBinaries.ipam))
        defer { h.remove() }
        let reference = IPAMHarness(.binary(PluginBinaries.referenceDirectory + "/host-local"), directory: h.dataDirectory)
        let conf = h.config(ipam)
        var outcomes: [String] = []
        for (i, step) in steps.enumerated() {
            let o = (i % 2 == 0 ? h : reference).run(step.command, conf, id: step.id)
            outcomes.append("\(step.command) \(step.id)/eth0 -> \(o.exitCode) " + normalised(o))
        }
        #expect(outcomes == expected.0)
        #expect(h.files() == expected.1)
    }

    @Test func versionAnswersTheSameVersionsAsFarAsTheReferenceGoes() throws {
        let ours = try JSONValue.parse(Array(IPAMHarness(.binary(PluginBinaries.ipam)).runVersion().utf8), what: "ours")
        let theirs = try JSONValue.parse(Array(IPAMHarness(.binary(PluginBinaries.referenceDirectory + "/host-local")).runVersion().utf8), what: "ref")
        guard case let .array(o)? = ours["supportedVersions"], case let .array(t)? = theirs["supportedVersions"] else {
            Issue.record("no supportedVersions"); return
        }
        // We drop the 0.1/0.2 result shapes and add 1.1.0 (GC, STATUS).
        #expect(o == t.filter { $0 != .string("0.1.0") && $0 != .string("0.2.0") } + [.string("1.1.0")])
    }
}

extension IPAMHarness {
    func runVersion() -> String { run("VERSION", "").stdout }
}

/// The binary under load and under a kill.
@Suite struct HostLocalRobustnessTests {
    @Test func fiftyParallelAddsGetFiftyAddressesAndFiftyDeletesLeaveNone() async {
        let h = IPAMHarness(.binary(PluginBinaries.ipam))
        defer { h.remove() }
        let conf = h.config(#""ranges":[[{"subnet":"10.50.0.0/24"}],[{"subnet":"fd00:50::/64"}]]"#)
        let added = await withTaskGroup(of: [String].self) { group in
            for i in 0..<50 { group.addTask { h.run("ADD", conf, id: "pod\(i)").ips } }
            return await group.reduce(into: [[String]]()) { $0.append($1) }
        }
        #expect(added.allSatisfy { $0.count == 2 })
        #expect(Set(added.map { $0.first ?? "" }).count == 50)
        #expect(Set(added.map { $0.last ?? "" }).count == 50)
        #expect(h.reserved().count == 100)
        let deleted = await withTaskGroup(of: Int32.self) { group in
            for i in 0..<50 { group.addTask { h.run("DEL", conf, id: "pod\(i)").exitCode } }
            return await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        #expect(deleted == Array(repeating: 0, count: 50))
        #expect(h.reserved() == [])
    }

    @Test func anAddKilledAfterReservingIsCleanedByDeleteOrGC() {
        let h = IPAMHarness(.binary(PluginBinaries.ipam))
        defer { h.remove() }
        let conf = h.config(#""ranges":[[{"subnet":"10.60.0.0/24"}],[{"subnet":"fd00:60::/64"}]]"#, version: "1.1.0")
        let killed = h.run("ADD", conf, id: "a", extraEnvironment: ["SEAWAY_CNI_TEST_CRASH_AFTER_RESERVE": "1"])
        #expect(killed.exitCode == 137)
        #expect(h.reserved() == ["10.60.0.2"])
        // The runtime's DEL for the failed ADD frees it.
        #expect(h.run("DEL", conf, id: "a").exitCode == 0)
        #expect(h.reserved() == [])

        // Without a DEL, GC frees what no valid attachment holds.
        #expect(h.run("ADD", conf, id: "b", extraEnvironment: ["SEAWAY_CNI_TEST_CRASH_AFTER_RESERVE": "1"]).exitCode == 137)
        #expect(h.run("ADD", conf, id: "c").exitCode == 0)
        let gc = h.config(#""ranges":[[{"subnet":"10.60.0.0/24"}],[{"subnet":"fd00:60::/64"}]]"#, version: "1.1.0",
                          extra: #","cni.dev/valid-attachments":[{"containerID":"c","ifname":"eth0"}]"#)
        #expect(h.run("GC", gc).exitCode == 0)
        #expect(h.reserved() == ["10.60.0.4", "fd00:60::2"])
        #expect(!h.files().contains { $0.hasPrefix(".") })
    }
}
