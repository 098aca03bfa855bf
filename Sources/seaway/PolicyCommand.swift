import ArgumentParser
import Foundation
import SeawayLoader
import SeawayModel
import SeawayPolicy

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "NetworkPolicy questions: may this pod reach that one, and why.",
        subcommands: [PolicyCheckCommand.self, PolicyMatrixCommand.self])
}

extension L4Protocol: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}

struct PolicyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "May one pod (or address) reach another on a port? Prints ALLOWED or DENIED and why.",
        discussion: "Exit status 0 whether the connection is allowed or denied; non-zero only for bad input.")

    @Option(help: ArgumentHelp("The source: a pod as NAMESPACE/NAME, or an IP address.", valueName: "ns/pod|ip"))
    var from: String

    @Option(help: ArgumentHelp("The destination: a pod as NAMESPACE/NAME, or an IP address.", valueName: "ns/pod|ip"))
    var to: String

    @Option(help: ArgumentHelp("The destination port: a number, or a container port name of the destination pod.",
                               valueName: "port|name"))
    var port: String

    @Option(name: .customLong("protocol"), help: "TCP, UDP or SCTP.")
    var proto: L4Protocol = .tcp

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    @Argument(help: "Manifest files or directories: Pods, Namespaces, Nodes, NetworkPolicies; '-' reads stdin.")
    var manifests: [String]

    func validate() throws {
        if manifests.isEmpty { throw ValidationError("give at least one manifest file or directory") }
    }

    func run() throws {
        let text = try reportingErrors { () throws -> String in
            let evaluator = PolicyEvaluator(cluster: try ManifestLoader().load(manifests))
            let query: PortQuery = Int(port).map(PortQuery.number) ?? .name(port)
            let verdict = try evaluator.check(from: evaluator.endpoint(from), to: evaluator.endpoint(to),
                                              port: query, proto: proto)
            return output == .json ? try verdict.json() : verdict.text
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

extension MatrixReport.Format: ExpressibleByArgument {}

struct PolicyMatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "The truth table of every ordered pod pair, per port and protocol.",
        discussion: """
            Without --ports, the ports are those the shown pods declare as container ports for the \
            chosen protocols. tsv is one header line, then `from<TAB>to<TAB>port<TAB>protocol<TAB>true|false` per cell.
            """)

    @Option(help: ArgumentHelp("Comma-separated destination port numbers.", valueName: "80,81"))
    var ports: String?

    @Option(help: ArgumentHelp("Comma-separated protocols.", valueName: "TCP,UDP,SCTP"))
    var protocols: String = "TCP"

    @Option(help: ArgumentHelp("Comma-separated namespaces whose pods are shown (policies everywhere still apply).",
                               valueName: "ns,ns"))
    var namespaces: String?

    @Option(help: "table, tsv or json.")
    var output: MatrixReport.Format = .table

    @Argument(help: "Manifest files or directories: Pods, Namespaces, Nodes, NetworkPolicies; '-' reads stdin.")
    var manifests: [String]

    func validate() throws {
        if manifests.isEmpty { throw ValidationError("give at least one manifest file or directory") }
    }

    func run() throws {
        let protos = try list(protocols).map { text -> L4Protocol in
            guard let p = L4Protocol(argument: text) else {
                throw ValidationError("--protocols: '\(text)' is not TCP, UDP or SCTP")
            }
            return p
        }
        let requestedPorts = try ports.map { try list($0).map(portNumber) }
        let (evaluator, shown, keys) = try reportingErrors { () throws -> (PolicyEvaluator, [Int], [String]) in
            let evaluator = PolicyEvaluator(cluster: try ManifestLoader().load(manifests))
            let keys = evaluator.podKeys
            var shown = Array(keys.indices)
            if let namespaces {
                let wanted = Set(try list(namespaces))
                shown = shown.filter { wanted.contains(String(keys[$0].prefix { $0 != "/" })) }
                let present = Set(shown.map { String(keys[$0].prefix { $0 != "/" }) })
                if let missing = wanted.subtracting(present).sorted().first {
                    throw PolicyQueryError(message: "--namespaces: no pods in namespace '\(missing)' in the manifests")
                }
            }
            return (evaluator, shown, keys)
        }
        var cells: [(Int, L4Protocol)] = []
        for proto in protos {
            let portNumbers = requestedPorts ?? evaluator.declaredPorts(of: shown, proto: proto)
            cells += portNumbers.map { ($0, proto) }
        }
        if cells.isEmpty && !keys.isEmpty {
            printError("the shown pods declare no container ports for \(protocols); pass --ports")
            throw ExitCode.failure
        }
        let report = MatrixReport(matrices: cells.map { evaluator.matrix(port: $0.0, proto: $0.1) }, shown: shown)
        report.write(output) { (bytes: [UInt8]) in FileHandle.standardOutput.write(Data(bytes)) }
    }

    private func list(_ text: String) throws -> [String] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if items.isEmpty { throw ValidationError("empty list '\(text)'") }
        return items
    }

    private func portNumber(_ text: String) throws -> Int {
        guard let n = Int(text), (1...65535).contains(n) else {
            throw ValidationError("--ports: '\(text)' is not a port number (1-65535); matrices take numbers, not port names")
        }
        return n
    }
}
