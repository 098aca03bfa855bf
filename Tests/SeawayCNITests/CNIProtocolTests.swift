import SeawayCNI
import SeawayNet
import Testing

/// A plugin that records what it was asked and answers with a fixed result.
final class RecordingPlugin: CNIPlugin, @unchecked Sendable {
    var calls: [String] = []
    var failure: CNIError?

    func add(_ request: CNIRequest) throws(CNIError) -> CNIResult {
        let env = request.environment
        calls.append("ADD \(request.version)")
        if let failure { throw failure }
        var r = CNIResult()
        r.interfaces = [.init(name: "eth0", mac: "02:00:00:00:00:01", mtu: 1400, sandbox: env.netns)]
        r.ips = [.init(address: IPAddress("10.0.0.2")!, prefixLength: 24, gateway: IPAddress("10.0.0.1"), interface: 0),
                 .init(address: IPAddress("fd00::2")!, prefixLength: 64)]
        r.routes = [.init(destination: CIDR("0.0.0.0/0")!, gateway: IPAddress("10.0.0.1"))]
        return r
    }
    func del(_ request: CNIRequest) throws(CNIError) { calls.append("DEL") }
    func check(_ request: CNIRequest) throws(CNIError) { calls.append("CHECK") }
    func gc(_ request: CNIRequest) throws(CNIError) { calls.append("GC") }
    func status(_ request: CNIRequest) throws(CNIError) { calls.append("STATUS") }
}

@Suite struct CNIProtocolTests {
    let fullEnvironment = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x",
                           "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"]

    func run(_ env: [String: String], _ config: String, plugin: RecordingPlugin = RecordingPlugin()) throws -> (CNIPluginRunner.Outcome, JSONValue?) {
        let outcome = CNIPluginRunner.run(plugin, environment: env, stdin: Array(config.utf8))
        return (outcome, outcome.stdout.isEmpty ? nil : try JSONValue.parse(Array(outcome.stdout.utf8), what: "stdout"))
    }

    @Test func versionNeedsNothingButTheCommand() throws {
        let (o, v) = try run(["CNI_COMMAND": "VERSION"], "")
        #expect(o.exitCode == 0)
        #expect(o.stdout == #"{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"# + "\n")
        #expect(v?["cniVersion"] == .string("1.1.0"))
    }

    @Test(arguments: [
        (["CNI_COMMAND": "ADD"], "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing"),
        (["CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c"], "required env variables [CNI_IFNAME,CNI_PATH] missing"),
        (["CNI_COMMAND": "CHECK", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0", "CNI_PATH": "/x"], "required env variables [CNI_NETNS] missing"),
        ([:], "required env variables [CNI_COMMAND] missing"),
        (["CNI_COMMAND": "FROB"], "unknown CNI_COMMAND: FROB"),
        (["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/n", "CNI_IFNAME": "a/b", "CNI_PATH": "/x"],
         "CNI_IFNAME: 'a/b' is not a valid interface name"),
        (["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/n", "CNI_IFNAME": "averyveryverylongname", "CNI_PATH": "/x"],
         "CNI_IFNAME: 'averyveryverylongname' is not a valid interface name"),
        (["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/n", "CNI_IFNAME": "eth0", "CNI_PATH": "/x", "CNI_ARGS": "IP"],
         "CNI_ARGS: 'IP' is not KEY=VALUE"),
    ])
    func badEnvironmentIsCode4NamingTheVariables(_ env: [String: String], _ message: String) throws {
        let plugin = RecordingPlugin()
        let (o, v) = try run(env, #"{"cniVersion":"1.0.0","name":"n"}"#, plugin: plugin)
        #expect(o.exitCode == 1)
        #expect(v?["code"] == .number(4))
        #expect(v?["msg"] == .string(message))
        #expect(plugin.calls.isEmpty)
    }

    @Test func malformedConfigIsCode6() throws {
        let (o, v) = try run(fullEnvironment, #"{"cniVersion": "1.0.0", "name": }"#)
        #expect(o.exitCode == 1)
        #expect(v?["code"] == .number(6))
        #expect(v?["details"] == .string("unexpected character '}' at line 1, column 33"))
    }

    @Test func unknownVersionIsCode1WithWhatIsSupported() throws {
        let (o, v) = try run(fullEnvironment, #"{"cniVersion":"2.0.0","name":"n"}"#)
        #expect(o.exitCode == 1)
        #expect(v?["code"] == .number(1))
        #expect(v?["msg"] == .string("incompatible CNI versions"))
        #expect(v?["details"] == .string(#"config is "2.0.0", plugin supports ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]"#))
    }

    @Test(arguments: [("CHECK", "0.3.1"), ("GC", "1.0.0"), ("STATUS", "1.0.0")])
    func commandsNewerThanTheConfigAreRefused(_ command: String, _ version: String) throws {
        var env = fullEnvironment
        env["CNI_COMMAND"] = command
        let plugin = RecordingPlugin()
        let (o, v) = try run(env, #"{"cniVersion":"\#(version)","name":"n"}"#, plugin: plugin)
        #expect(o.exitCode == 1)
        #expect(v?["code"] == .number(1))
        #expect(v?["msg"] == .string("config version \(version) does not allow \(command)"))
        #expect(plugin.calls.isEmpty)
    }

    @Test func errorsCarryTheRequestedVersionAndDetails() throws {
        let plugin = RecordingPlugin()
        plugin.failure = CNIError(.tryAgainLater, "busy", details: "range exhausted")
        let (o, v) = try run(fullEnvironment, #"{"cniVersion":"0.4.0","name":"n"}"#, plugin: plugin)
        #expect(o.exitCode == 1)
        #expect(o.stdout == """
        {
            "cniVersion": "0.4.0",
            "code": 11,
            "msg": "busy",
            "details": "range exhausted"
        }
        """)
        #expect(v?["code"] == .number(11))
    }

    @Test func resultShapeFollowsTheRequestedVersion() throws {
        for version in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
            let (o, v) = try run(fullEnvironment, #"{"cniVersion":"\#(version)","name":"n"}"#)
            #expect(o.exitCode == 0)
            #expect(v?["cniVersion"] == .string(version))
            guard case let .array(ips)? = v?["ips"] else { Issue.record("no ips"); continue }
            let carriesVersion = version < "1.0.0"
            #expect((ips[0]["version"] == .string("4")) == carriesVersion, "\(version)")
            #expect((ips[1]["version"] == .string("6")) == carriesVersion, "\(version)")
            #expect(ips[0]["address"] == .string("10.0.0.2/24"))
            #expect(ips[0]["interface"] == .number(0))
            // Interface MTU is a 1.1.0 field.
            guard case let .array(ifs)? = v?["interfaces"] else { Issue.record("no interfaces"); continue }
            #expect((ifs[0]["mtu"] == .number(1400)) == (version == "1.1.0"), "\(version)")
            #expect(v?["dns"] == .object([]))
        }
    }

    @Test func resultsReadBackInEveryShape() throws {
        let (o, _) = try run(fullEnvironment, #"{"cniVersion":"0.3.1","name":"n"}"#)
        let reread = try CNIResult(reading: JSONReader(try JSONValue.parse(Array(o.stdout.utf8), what: "r")))
        #expect(reread.ips.map(\.address.description) == ["10.0.0.2", "fd00::2"])
        #expect(reread.routes.first?.gateway?.description == "10.0.0.1")
        #expect(reread.interfaces.first?.sandbox == "/var/run/netns/x")
    }
}
