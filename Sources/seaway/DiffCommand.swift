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

    @Option(help: "iptables, nftables, ipvs or userspace.")
    var mode: ProxyMode

    @OptionGroup var proxy: ProxyInputOptions

    @Flag(help: "Print the partial-sync payload itself (iptables-restore input, or an nft -f transaction) instead of a summary.")
    var payload = false

    @Argument(help: "The cluster before.")
    var old: String

    @Argument(help: "The cluster after.")
    var new: String

    func run() throws {
        let text = try reportingErrors { () throws -> String in
            let before = try ManifestLoader().load([old])
            let after = try ManifestLoader().load([new])
            if payload {
                let options = try proxy.resolve(mode: mode, cluster: after)
                let parts = try PartialSync.payloads(mode: mode, old: before, new: after, options: options)
                if parts.count == 1 { return parts[0].text }
                return parts.map { "# seaway: \($0.family.rawValue) partial sync\n" + $0.text }.joined()
            }
            let old = try RulesetRenderer.render(mode: mode, cluster: before,
                                                 options: proxy.resolve(mode: mode, cluster: before))
            let new = try RulesetRenderer.render(mode: mode, cluster: after,
                                                 options: proxy.resolve(mode: mode, cluster: after))
            return RulesetDiff(old: old, new: new).text
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
