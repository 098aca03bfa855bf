import Foundation
import SeawayDataplane
import SeawayKernel
import SeawayKube
import SeawayLoader
import SeawayModel

/// Where the agent's cluster comes from: a manifest directory (inotify) or the API server
/// (an informer's list+watch). Either way the agent asks the same two things: wait for a
/// change, and what the cluster is now.
protocol ClusterFeed: AnyObject {
    /// Waits up to `milliseconds` for a change; true when one came.
    func wait(milliseconds: Int32) throws -> Bool
    /// The cluster now; nil (logged) when it cannot be had: the rules stay as they are.
    func current() -> ClusterState?
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

    init(_ directory: String, failed: @escaping () -> Void, log: @escaping (String) -> Void) throws(DataplaneError) {
        self.directory = directory
        self.failed = failed
        self.log = log
        do { watcher = try DirectoryWatcher(directory) } catch { throw DataplaneError("watch manifests: \(error)") }
    }

    func wait(milliseconds: Int32) throws -> Bool { try watcher.wait(timeoutMilliseconds: milliseconds) > 0 }

    func current() -> ClusterState? {
        do {
            let cluster = try ManifestLoader().load([directory])
            failingSince = nil
            return cluster
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
/// cluster, kept when the API server goes away.
final class InformerFeed: ClusterFeed, @unchecked Sendable {
    let informer: KubeInformer
    private let client: KubeClient
    private var task: Task<Void, Never>?
    private var seen = -1

    init(_ connection: APIServerConnection, node: String, log: @escaping @Sendable (String) -> Void) throws {
        client = try KubeClient(connection)
        informer = KubeInformer(client: client, resources: KubeResource.proxy(node: node), log: log)
        let informer = self.informer
        task = informer.start()
    }

    func wait(milliseconds: Int32) throws -> Bool {
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        repeat {
            let generation = informer.status.generation
            if generation != seen { seen = generation; return true }
            Thread.sleep(forTimeInterval: 0.02)
        } while Date() < deadline
        return false
    }

    func current() -> ClusterState? { informer.snapshot() }

    var failingSince: Double? { informer.status.failingSince }

    var description: String { "watching \(client.connection.server) (\(client.connection.origin))" }
}
