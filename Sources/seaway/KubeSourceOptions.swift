import ArgumentParser
import Dispatch
import Foundation
import SeawayKernel
import SeawayKube
import SeawayLoader
import SeawayModel

/// Where a command reads the cluster: manifests, or a live API server (`--kubeconfig`,
/// `--context`, `--in-cluster`, as kubectl picks its configuration).
struct KubeSourceOptions: ParsableArguments {
    @Option(help: "Read the cluster from the API server in this kubeconfig instead of manifests.")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context (default: its current-context; KUBECONFIG or ~/.kube/config when --kubeconfig is not given).")
    var context: String?

    @Flag(help: "Read the cluster from the API server this pod runs in (its service account).")
    var inCluster = false

    var isLive: Bool { kubeconfig != nil || context != nil || inCluster }

    func connection() throws -> APIServerConnection {
        let environment = ProcessIO.environment()
        if inCluster { return try APIServerConnection.inCluster(environment: environment) }
        return try APIServerConnection.kubeconfig(path: kubeconfig, context: context, environment: environment)
    }

    /// Checks that exactly one source is given.
    func validate(manifests: [String]) throws {
        if isLive && !manifests.isEmpty { throw ValidationError("give manifests or --kubeconfig/--context/--in-cluster, not both") }
        if !isLive && manifests.isEmpty { throw ValidationError("give at least one manifest file or directory (or --kubeconfig)") }
    }

    /// The cluster from the manifests or the API server.
    func load(_ manifests: [String], resources: [KubeResource] = KubeResource.all) throws -> ClusterState {
        guard isLive else { return try ManifestLoader().load(manifests) }
        let connection = try self.connection()
        return try blocking { try await LiveCluster.read(connection, resources: resources).cluster }
    }
}

/// Runs async work from a synchronous command and waits for it.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = BlockingResult<T>(), done = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// Written by the task before it signals, read after the wait: no overlap.
private final class BlockingResult<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
