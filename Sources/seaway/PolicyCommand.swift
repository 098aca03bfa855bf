import ArgumentParser
import Foundation
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayPolicy

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "NetworkPolicy questions: may this pod reach that one, and why.",
        subcommands: [PolicyCheckCommand.self, PolicyMatrixCommand.self, PolicyWhatIfCommand.self, PolicyLintCommand.self])
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

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories: Pods, Namespaces, Nodes, NetworkPolicies; '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws {
        try source.validate(manifests: manifests)
    }

    func run() throws {
        let text = try reportingErrors { () throws -> String in
            let evaluator = PolicyEvaluator(cluster: try source.load(manifests, resources: KubeResource.policy))
            let query: PortQuery = Int(port).map(PortQuery.number) ?? .name(port)
            let verdict = try evaluator.check(from: evaluator.endpoint(from), to: evaluator.endpoint(to),
                                              port: query, proto: proto)
            return output == .json ? try verdict.json() : verdict.text
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
