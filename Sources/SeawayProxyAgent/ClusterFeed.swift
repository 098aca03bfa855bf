import Foundation
import SeawayDataplane
import SeawayKernel
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayProxyCore

/// The cluster as a feed hands it out, with the Service and EndpointSlice changes from the
/// one it handed out before (nil the first time: there is nothing to change from).
struct ClusterUpdate {
    var cluster: ClusterState
    var changes: [ClusterChange]?
}

/// Where the agent's cluster comes from: a manifest directory (inotify) or the API server
/// (an informer's list+watch). Either way the agent asks the same two things: wait for a
/// change, and what the cluster is now.
protocol ClusterFeed: AnyObject {
    /// Waits up to `milliseconds` for a change; true when one came.
    func wait(milliseconds: Int32) throws -> Bool
    /// The cluster now; nil (logged) when it cannot be had: the rules stay as they are.
    func current() -> ClusterUpdate?
    /// Seconds since the epoch since when the source has been failing (nil: it is fine).
    var failingSince: Double? { get }
    var description: String { get }
}

/// A manifest directory, reloaded whole on each sync.
final class DirectoryFeed: ClusterFeed {
    let directory: String
    private let watcher: DirectoryWatcher
    private let failed: () -> Void
    private let log: (String) -> Void
    private(set) var failingSince: Double?
    private var last: ClusterState?

    init(_ directory: String, failed: @escaping () -> Void, log: @escaping (String) -> Void) throws(DataplaneError) {
        self.directory = directory
        self.failed = failed
        self.log = log
        do { watcher = try DirectoryWatcher(directory) } catch { throw DataplaneError("watch manifests: \(error)") }
    }

    func wait(milliseconds: Int32) throws -> Bool { try watcher.wait(timeoutMilliseconds: milliseconds) > 0 }

    func current() -> ClusterUpdate? {
        do {
            let cluster = try ManifestLoader().load([directory])
            failingSince = nil
            defer { last = cluster }
            return ClusterUpdate(cluster: cluster, changes: last?.changes(to: cluster))
        } catch {
            failed()
            failingSince = failingSince ?? Date().timeIntervalSince1970
            log("manifests not loaded, rules unchanged: \(error)")
            return nil
        }
    }

    var description: String { "watching \(directory)" }
}

/// The API server: an informer over what kube-proxy watches, run on its own task. Until it
/// has listed everything once there is no cluster (no sync); after that the cache is the
/// cluster, kept when the API server goes away. The feed keeps its own copy up to date from
/// the informer's deltas, so a watch event costs what it changes, not a walk over the cluster.
final class InformerFeed: ClusterFeed, @unchecked Sendable {
    let informer: KubeInformer
    private let client: KubeClient
    private var task: Task<Void, Never>?
    private var seen = -1
    private var cluster: ClusterState?
    /// Signalled by the informer on every change of its cache, so a watch event starts the
    /// sync at once rather than at the next poll.
    private let changed = DispatchSemaphore(value: 0)

    init(_ connection: APIServerConnection, node: String, log: @escaping @Sendable (String) -> Void) throws {
        client = try KubeClient(connection)
        let changed = self.changed
        informer = KubeInformer(client: client, resources: KubeResource.proxy(node: node), onChange: { changed.signal() }, log: log)
        task = informer.start()
    }

    /// The kinds whose objects the feed's copy follows one by one.
    static let followedKinds: Set<String> = ["Service", "EndpointSlice", "Node", "ServiceCIDR"]

    func wait(milliseconds: Int32) throws -> Bool {
        let deadline = DispatchTime.now() + .milliseconds(Int(milliseconds))
        repeat {
            let generation = informer.status.generation
            if generation != seen { seen = generation; return true }
            // Signals left from changes already seen only bring us back here once more each.
        } while changed.wait(timeout: deadline) == .success
        return false
    }

    func current() -> ClusterUpdate? {
        switch informer.takeUpdate() {
        case nil:
            return nil
        case let .snapshot(new):
            return replacingCluster(with: new)
        case let .deltas(deltas):
            guard cluster != nil else { return nil }  // a snapshot always comes first
            // A kind the copy is not kept for (none of kube-proxy's resources): diff the whole.
            guard deltas.allSatisfy({ Self.followedKinds.contains($0.resource.kind) }) else {
                return informer.snapshot().flatMap(replacingCluster)
            }
            var changes: [ClusterChange] = []
            for d in deltas {
                switch d.resource.kind {
                case "Service": cluster!.replaceService(key: d.key, with: d.object?.services.first).map { changes.append($0) }
                case "EndpointSlice": cluster!.replaceEndpointSlice(key: d.key, with: d.object?.endpointSlices.first).map { changes.append($0) }
                case "Node": cluster!.replaceNode(key: d.key, with: d.object?.nodes.first)
                default: cluster!.replaceServiceCIDR(key: d.key, with: d.object?.serviceCIDRs.first)
                }
            }
            return ClusterUpdate(cluster: cluster!, changes: changes)
        }
    }

    /// `new` as the feed's cluster, with the changes from the one before.
    private func replacingCluster(with new: ClusterState) -> ClusterUpdate {
        defer { cluster = new }
        return ClusterUpdate(cluster: new, changes: cluster?.changes(to: new))
    }

    var failingSince: Double? { informer.status.failingSince }

    var description: String { "watching \(client.connection.server) (\(client.connection.origin))" }
}
