import ArgumentParser
import Foundation
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayRender

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changes on the node when the cluster goes from OLD to NEW.",
        discussion: "OLD and NEW are manifest files or directories. Exit status 0 either way.")

    @Option(help: "iptables, nftables or ipvs.")
    var mode: ProxyMode

    @OptionGroup var proxy: ProxyInputOptions

    @Argument(help: "The cluster before.")
    var old: String

    @Argument(help: "The cluster after.")
    var new: String

    func run() throws {
        let text = try reportingErrors { () throws -> String in
            let before = try ManifestLoader().load([old])
            let after = try ManifestLoader().load([new])
            let old = try RulesetRenderer.render(mode: mode, cluster: before,
                                                 options: proxy.resolve(mode: mode, cluster: before))
            let new = try RulesetRenderer.render(mode: mode, cluster: after,
                                                 options: proxy.resolve(mode: mode, cluster: after))
            return RulesetDiff(old: old, new: new).text
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
