import Foundation
import SeawayCNI
import SeawayIPAM
import SeawayTestSupport

/// Runs host-local-style IPAM operations against a throwaway data directory, either in
/// process (our plugin) or by executing a plugin binary (ours or the reference), so the same
/// script can be played against both.
struct IPAMHarness {
    enum Backend { case inProcess, binary(String) }

    let backend: Backend
    let dataDirectory: String
    var network = "net1"

    init(_ backend: Backend, directory: String? = nil) {
        self.backend = backend
        dataDirectory = directory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("seaway-ipam-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    }

    var networkDirectory: String { dataDirectory + "/" + network }

    func config(_ ipam: String, version: String = "1.0.0", extra: String = "") -> String {
        // `ipam` is the body of the ipam object after its type and dataDir.
        #"{"cniVersion":"\#(version)","name":"\#(network)","type":"bridge"\#(extra),"ipam":{"type":"host-local","dataDir":"\#(dataDirectory)",\#(ipam)}}"#
    }

    struct Outcome {
        var exitCode: Int32
        var stdout: String
        var json: JSONValue? { try? JSONValue.parse(Array(stdout.utf8), what: "stdout") }
        var ips: [String] {
            guard case let .array(items)? = json?["ips"] else { return [] }
            return items.compactMap { if case let .string(s)? = $0["address"] { return s } else { return nil } }
        }
        var code: Double? { if case let .number(n)? = json?["code"] { return n } else { return nil } }
        var message: String? { if case let .string(s)? = json?["msg"] { return s } else { return nil } }
    }

    @discardableResult
    func run(_ command: String, _ config: String, id: String = "c1", ifname: String = "eth0", args: String? = nil,
             extraEnvironment: [String: String] = [:]) -> Outcome {
        var env = ["CNI_COMMAND": command, "CNI_CONTAINERID": id, "CNI_NETNS": "/var/run/netns/none", "CNI_IFNAME": ifname,
                   "CNI_PATH": "/usr/lib/cni"]
        if let args { env["CNI_ARGS"] = args }
        env.merge(extraEnvironment) { $1 }
        switch backend {
        case .inProcess:
            let o = CNIPluginRunner.run(HostLocalPlugin(), environment: env, stdin: Array(config.utf8))
            return Outcome(exitCode: o.exitCode, stdout: o.stdout)
        case let .binary(path):
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.environment = env
            let input = Pipe(), output = Pipe()
            p.standardInput = input
            p.standardOutput = output
            p.standardError = FileHandle.nullDevice
            try! p.run()
            input.fileHandleForWriting.write(Data(config.utf8))
            try? input.fileHandleForWriting.close()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return Outcome(exitCode: p.terminationStatus, stdout: String(decoding: data, as: UTF8.self))
        }
    }

    /// The network directory as `name=content` lines (sorted), the lock file excluded.
    func files() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: networkDirectory)) ?? []
        return names.sorted().filter { $0 != "lock" }.map { name in
            let content = (try? String(contentsOfFile: networkDirectory + "/" + name, encoding: .utf8)) ?? "?"
            return "\(name)=\(content.replacingOccurrences(of: "\r\n", with: "\\r\\n"))"
        }
    }

    /// Addresses currently reserved (files named as IPs).
    func reserved() -> [String] {
        files().map { String($0.prefix { $0 != "=" }) }.filter { !$0.hasPrefix("last_reserved_ip.") }
    }

    func remove() { try? FileManager.default.removeItem(atPath: dataDirectory) }
}

