import ArgumentParser
import Foundation
import SeawayKube

struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Print a live cluster's Services, EndpointSlices, Nodes, Pods, Namespaces and policies as manifests.",
        discussion: """
            One consistent read of every resource Seaway uses (paged lists), printed as YAML \
            one `kind: List` in JSON (which is YAML too) that every other command reads back: \
            `seaway snapshot --kubeconfig ~/.kube/config > cluster.json` for offline dry runs and \
            bug reports. managedFields are left out; everything else is as the API server sent it.
            """)

    @OptionGroup var source: KubeSourceOptions

    func validate() throws {
        guard source.isLive else { throw ValidationError("give --kubeconfig, --context or --in-cluster") }
    }

    func run() throws {
        let text = try reportingErrors { () throws -> String in
            let connection = try source.connection()
            let read = try blocking { try await LiveCluster.read(connection) }
            var objects: [[String: Any]] = []
            for (_, items) in read.objects {
                for json in items {
                    guard var o = try JSONSerialization.jsonObject(with: json) as? [String: Any] else { continue }
                    if var metadata = o["metadata"] as? [String: Any] {
                        metadata["managedFields"] = nil
                        o["metadata"] = metadata
                    }
                    objects.append(o)
                }
            }
            let list: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": objects]
            let data = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self) + "\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
