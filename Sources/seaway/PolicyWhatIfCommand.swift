import ArgumentParser
import Foundation
import SeawayLoader
import SeawayModel
import SeawayPolicy

struct PolicyWhatIfCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "what-if",
        abstract: "Which connections change when policies are added, removed or edited, or objects relabelled.",
        discussion: """
            Edits apply in this order: --remove, then --add (an added object with the name of an existing \
            one replaces it: an edit), then --relabel. Prints each connection whose verdict flips (was -> now, \
            and which side's verdict changed), then a summary line. Exit status 0 either way.
            """)

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Manifests to add (policies, pods, namespaces).", valueName: "file"))
    var add: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Objects to remove: networkpolicy/NS/NAME, pod/NS/NAME, namespace/NAME.",
                                                          valueName: "kind/ns/name"))
    var remove: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Label changes, kubectl style: pod/NS/NAME:key=value,other- or namespace/NAME:key=value.",
                                                          valueName: "kind/ns/name:labels"))
    var relabel: [String] = []

    @OptionGroup var cells: PortProtocolOptions

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    @Argument(help: "The cluster before: manifest files or directories; '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws {
        if manifests.isEmpty {
            throw ValidationError("""
                give the cluster's manifests; --add, --remove and --relabel take several values each, \
                so put the manifests first or after `--`
                """)
        }
        if add.isEmpty && remove.isEmpty && relabel.isEmpty {
            throw ValidationError("nothing to compare: give --add, --remove or --relabel")
        }
    }

    func run() throws {
        let text = try reportingErrors { () throws -> String in
            let before = try ManifestLoader().load(manifests)
            var edits = try remove.map { ClusterEdit.remove(try .init(parsing: $0)) }
            if !add.isEmpty { edits.append(.add(try ManifestLoader().load(add))) }
            edits += try relabel.map(ClusterEdit.relabel(parsing:))
            let after = try before.applying(edits)
            try after.checkUnique()
            let old = PolicyEvaluator(cluster: before), new = PolicyEvaluator(cluster: after)
            let cells = try cells.cells { proto in
                Set(old.declaredPorts(of: Array(old.podKeys.indices), proto: proto)
                    + new.declaredPorts(of: Array(new.podKeys.indices), proto: proto)).sorted()
            }
            let result = PolicyWhatIf(before: old, after: new, cells: cells)
            return output == .json ? try result.json() : result.text
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
