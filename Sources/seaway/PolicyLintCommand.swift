import ArgumentParser
import Foundation
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayPolicy

struct PolicyLintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Policies that are legal but probably wrong: selecting nothing, dead peers, shadowed rules, unknown named ports, split peers.",
        discussion: """
            Exit status: 0 no findings, 2 findings, 1 bad input (CI can tell a warning from a broken manifest). \
            Checks: \(LintFinding.Check.allCases.map(\.rawValue).joined(separator: ", ")).
            """)

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories: Pods, Namespaces, NetworkPolicies; '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws {
        try source.validate(manifests: manifests)
    }

    func run() throws {
        let findings = try reportingErrors { () throws -> [LintFinding] in
            PolicyEvaluator(cluster: try source.load(manifests, resources: KubeResource.policy)).lint()
        }
        let text = output == .json ? try findings.json() : findings.map { "\($0)\n" }.joined()
        FileHandle.standardOutput.write(Data(text.utf8))
        if !findings.isEmpty { throw ExitCode(2) }
    }
}
