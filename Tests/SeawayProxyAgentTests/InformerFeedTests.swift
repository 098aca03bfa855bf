import Foundation
import SeawayKube
import SeawayModel
import SeawayProxyCore
@testable import SeawayProxyAgent
import SeawayTestSupport
import Testing

/// The agent's API server feed keeps its own cluster up to date from the informer's deltas:
/// after any sequence of events it holds exactly the informer's snapshot, and hands the
/// proxier exactly the Service and EndpointSlice changes made (nothing for an event that
/// changes nothing); after a relist it diffs the new snapshot instead.
@Suite struct InformerFeedTests {
    static let services = KubeResource.services.path
    static let slices = KubeResource.endpointSlices.path

    static func service(_ name: String, _ ip: String) -> [String: Any] {
        ["apiVersion": "v1", "kind": "Service", "metadata": ["name": name, "namespace": "default"],
         "spec": ["clusterIP": ip, "ports": [["name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"]]]]
    }

    static func slice(_ service: String, _ ips: [String]) -> [String: Any] {
        ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": ["name": "\(service)-1", "namespace": "default", "labels": ["kubernetes.io/service-name": service]],
         "ports": [["name": "http", "port": 8080, "protocol": "TCP"]],
         "endpoints": ips.map { ["addresses": [$0], "nodeName": "node-a", "conditions": ["ready": true]] }]
    }

    static func node(zone: String) -> [String: Any] {
        ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "node-a", "labels": ["topology.kubernetes.io/zone": zone]],
         "status": ["addresses": [["type": "InternalIP", "address": "192.168.77.1"]]]]
    }

    static func describe(_ changes: [ClusterChange]?) -> [String]? {
        changes?.map { c in
            switch c {
            case let .upsertService(s): "upsert Service \(s.key)"
            case let .deleteService(ns, name): "delete Service \(ns)/\(name)"
            case let .upsertEndpointSlice(s): "upsert EndpointSlice \(s.key) \(s.endpoints.flatMap(\.addresses))"
            case let .deleteEndpointSlice(ns, name): "delete EndpointSlice \(ns)/\(name)"
            }
        }
    }

    /// The next update once `condition` holds for the informer's snapshot (generous
    /// deadlines: CI's cores are shared with other suites).
    static func update(_ feed: InformerFeed, when condition: (ClusterState) -> Bool) throws -> ClusterUpdate {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let s = feed.informer.snapshot(), condition(s) { return try #require(feed.current()) }
            _ = try feed.wait(milliseconds: 50)
        }
        throw FeedTimeout()
    }

    struct FeedTimeout: Error {}

    @Test func deltasKeepTheFeedsClusterEqualToTheSnapshot() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        server.apply(.added, path: KubeResource.nodes.path, Self.node(zone: "a"))
        server.apply(.added, path: Self.services, Self.service("web", "10.96.0.10"))
        server.apply(.added, path: Self.services, Self.service("old", "10.96.0.11"))
        server.apply(.added, path: Self.slices, Self.slice("web", ["10.244.1.2", "10.244.1.3"]))
        server.apply(.added, path: Self.slices, Self.slice("old", ["10.244.1.4"]))
        let feed = try InformerFeed(APIServerConnection(server: server.url, origin: "test"), node: "node-a", log: { _ in })

        // The first update is the whole cluster, with nothing to change from.
        let first = try Self.update(feed) { $0.services.count == 2 }
        #expect(first.changes == nil)
        #expect(first.cluster == feed.informer.snapshot())
        #expect(first.cluster.services.map(\.key) == ["default/old", "default/web"])

        // Changes of every kind, and one event that changes nothing.
        server.apply(.modified, path: Self.slices, Self.slice("web", ["10.244.1.3", "10.244.1.5"]))
        server.apply(.deleted, path: Self.services, ["metadata": ["name": "old", "namespace": "default"]])
        server.apply(.deleted, path: Self.slices, ["metadata": ["name": "old-1", "namespace": "default"]])
        server.apply(.added, path: Self.services, Self.service("api", "10.96.0.12"))
        server.apply(.added, path: Self.slices, Self.slice("api", ["10.244.1.6"]))
        server.apply(.modified, path: Self.services, Self.service("web", "10.96.0.10"))  // the same Service again
        server.apply(.modified, path: KubeResource.nodes.path, Self.node(zone: "b"))
        let second = try Self.update(feed) { s in
            s.services.map(\.key) == ["default/api", "default/web"] && s.endpointSlices.map(\.key) == ["default/api-1", "default/web-1"] && s.nodes.first?.metadata.labels["topology.kubernetes.io/zone"] == "b"
                && s.endpointSlices.contains { $0.endpoints.contains { $0.addresses == ["10.244.1.5"] } }
        }
        #expect(second.cluster == feed.informer.snapshot())
        #expect(second.cluster.services.map(\.key) == ["default/api", "default/web"])
        #expect(Self.describe(second.changes) == [
            "upsert Service default/api", "delete Service default/old",
            "upsert EndpointSlice default/api-1 [\"10.244.1.6\"]", "delete EndpointSlice default/old-1",
            "upsert EndpointSlice default/web-1 [\"10.244.1.3\", \"10.244.1.5\"]",
        ])
        // Nothing since: an empty update.
        #expect(try #require(feed.current()).changes?.isEmpty == true)

        // History compacted under a dropped watch: 410 Gone, a relist, and the update after it
        // is the new snapshot diffed against the feed's cluster. (The slices' watch must be
        // open first: one still being made would see the change live and need no relist.)
        let deadline = Date().addingTimeInterval(60)
        while !server.isWatching(Self.slices) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let listsBefore = feed.informer.status.lists
        server.state.withLock { $0.holdWatches = true }
        server.closeWatches()
        server.apply(.modified, path: Self.slices, Self.slice("api", ["10.244.1.7"]))
        server.compact()
        server.releaseWatches()
        let third = try Self.update(feed) { s in s.endpointSlices.contains { $0.endpoints.contains { $0.addresses == ["10.244.1.7"] } } }
        #expect(feed.informer.status.relistsAfterGone >= 1)
        #expect(feed.informer.status.lists > listsBefore)
        #expect(third.cluster == feed.informer.snapshot())
        #expect(Self.describe(third.changes) == ["upsert EndpointSlice default/api-1 [\"10.244.1.7\"]"])
    }
}
