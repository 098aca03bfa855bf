import Foundation
import SeawayModel

/// One consistent read of a live cluster for one-shot commands (render, trace, policy, dns
/// lookup, snapshot): every page of every resource, decoded as the manifest loader decodes
/// files. Errors are reported, not retried: a one-shot command should say what went wrong.
public enum LiveCluster {
    public struct Read: Sendable {
        public var cluster: ClusterState
        /// Each resource's objects as the API server sent them (kind and apiVersion added).
        public var objects: [(resource: KubeResource, items: [Data])]
    }

    public static func read(_ connection: APIServerConnection, resources: [KubeResource] = KubeResource.all) async throws -> Read {
        let client = try KubeClient(connection)
        do {
            var read = Read(cluster: ClusterState(), objects: [])
            for r in resources {
                var items: [KubeObject] = []
                var token: String? = nil
                repeat {
                    let page = try await client.list(r, continue: token)
                    items += page.items
                    token = page.continueToken
                } while token != nil
                items.sort { $0.key < $1.key }
                for o in items {
                    do {
                        try ManifestDecoder().decode(String(decoding: o.json, as: UTF8.self), file: "\(connection.server)\(r.path) \(o.key)",
                                                     into: &read.cluster)
                    } catch {
                        throw KubeError("\(connection.origin): \(error)")
                    }
                }
                read.objects.append((r, items.map(\.json)))
            }
            await client.shutdown()
            return read
        } catch {
            await client.shutdown()
            if let e = error as? KubeError { throw KubeError("\(connection.origin): \(e.description)", status: e.status) }
            throw KubeError("\(connection.origin): \(connection.server): \(error)")
        }
    }
}
