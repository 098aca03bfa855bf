import ArgumentParser
import Foundation
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayPolicy

extension MatrixReport.Format: ExpressibleByArgument {}

/// `--ports` and `--protocols`: which cells of the truth table a command computes.
struct PortProtocolOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Comma-separated destination port numbers (default: the container ports the pods declare).",
                               valueName: "80,81"))
    var ports: String?

    @Option(help: ArgumentHelp("Comma-separated protocols.", valueName: "TCP,UDP,SCTP"))
    var protocols: String = "TCP"

    func validate() throws {
        _ = try protocolList()
        _ = try portList()
    }

    /// The (port, protocol) cells: the given ports, or those `declared` lists for each protocol.
    func cells(declared: (L4Protocol) -> [Int]) throws -> [(port: Int, proto: L4Protocol)] {
        var cells: [(port: Int, proto: L4Protocol)] = []
        for proto in try protocolList() {
            cells += (try portList() ?? declared(proto)).map { ($0, proto) }
        }
        return cells
    }

    private func protocolList() throws -> [L4Protocol] {
        try commaList(protocols, option: "--protocols").map { text in
            guard let p = L4Protocol(argument: text) else {
                throw ValidationError("--protocols: '\(text)' is not TCP, UDP or SCTP")
            }
            return p
        }
    }

    private func portList() throws -> [Int]? {
        try ports.map {
            try commaList($0, option: "--ports").map { text in
                guard let n = Int(text), (1...65535).contains(n) else {
                    throw ValidationError("--ports: '\(text)' is not a port number (1-65535); matrices take numbers, not port names")
                }
                return n
            }
        }
    }
}

func commaList(_ text: String, option: String) throws -> [String] {
    let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    if items.isEmpty { throw ValidationError("\(option): empty list '\(text)'") }
    return items
}

struct PolicyMatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "The truth table of every ordered pod pair, per port and protocol.",
        discussion: """
            Without --ports, the ports are those the shown pods declare as container ports for the \
            chosen protocols. tsv is one header line, then `from<TAB>to<TAB>port<TAB>protocol<TAB>true|false` per cell.
            """)

    @OptionGroup var cells: PortProtocolOptions

    @Option(help: ArgumentHelp("Comma-separated namespaces whose pods are shown (policies everywhere still apply).",
                               valueName: "ns,ns"))
    var namespaces: String?

    @Option(help: "table, tsv or json.")
    var output: MatrixReport.Format = .table

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories: Pods, Namespaces, Nodes, NetworkPolicies; '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws {
        try source.validate(manifests: manifests)
        if let namespaces { _ = try commaList(namespaces, option: "--namespaces") }
    }

    func run() throws {
        let report = try reportingErrors { () throws -> MatrixReport in
            let evaluator = PolicyEvaluator(cluster: try source.load(manifests, resources: KubeResource.policy))
            let keys = evaluator.podKeys
            var shown = Array(keys.indices)
            if let namespaces {
                let wanted = Set(try commaList(namespaces, option: "--namespaces"))
                shown = shown.filter { wanted.contains(namespace(of: keys[$0])) }
                let present = Set(shown.map { namespace(of: keys[$0]) })
                if let missing = wanted.subtracting(present).sorted().first {
                    throw PolicyQueryError(message: "--namespaces: no pods in namespace '\(missing)' in the manifests")
                }
            }
            let cells = try cells.cells { evaluator.declaredPorts(of: shown, proto: $0) }
            if cells.isEmpty && !shown.isEmpty {
                throw PolicyQueryError(message: "the shown pods declare no container ports for \(self.cells.protocols); pass --ports")
            }
            return MatrixReport(matrices: cells.map { evaluator.matrix(port: $0.port, proto: $0.proto) }, shown: shown)
        }
        report.write(output) { (bytes: [UInt8]) in FileHandle.standardOutput.write(Data(bytes)) }
    }

    private func namespace(of key: String) -> String { String(key.prefix { $0 != "/" }) }
}
