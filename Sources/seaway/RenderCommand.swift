import ArgumentParser
import Foundation
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayRender

enum OutputFormat: String, ExpressibleByArgument {
    case text, json
}

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print the rules kube-proxy would program on a node (a dry run).",
        discussion: """
            Text output is exactly what the kernel tool loads: an iptables-restore payload per
            family in iptables mode (a '#' comment line separates families), `nft -f` input in
            nftables mode (both families in one file).
            """)

    @Option(help: "iptables or nftables.")
    var mode: ProxyMode

    @OptionGroup var proxy: ProxyInputOptions

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    @Flag(help: "List objects of kinds Seaway does not use on stderr.")
    var verbose = false

    @Argument(help: "Manifest files or directories (YAML or JSON); '-' reads stdin.")
    var manifests: [String]

    func run() throws {
        let text = try reportingErrors { () throws -> String in
            let cluster = try ManifestLoader().load(manifests)
            if verbose {
                for s in cluster.skipped { printNotice("skipped \(s)") }
            }
            let options = try proxy.resolve(mode: mode, cluster: cluster)
            let rulesets = try RulesetRenderer.render(mode: mode, cluster: cluster, options: options)
            if output == .json { return try Ruleset.json(rulesets) }
            if rulesets.count == 1 { return rulesets[0].text }
            return rulesets.map { "# seaway: \($0.family.rawValue) rules (\($0.loader))\n" + $0.text }.joined()
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
