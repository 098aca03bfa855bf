import Testing
@testable import SeawayModel
@testable import SeawayProxyCore

@Suite struct ClusterChangesTests {
    private func service(_ name: String, ip: String) -> Service {
        Service(metadata: ObjectMeta(name: name, namespace: "ns"), clusterIPs: [IPAddress(ip)!],
                ports: [.init(name: "p", port: 80)])
    }

    @Test func reportsUpsertsAndDeletesButNotMoves() {
        var old = ClusterState()
        old.services = [service("a", ip: "10.96.0.1"), service("b", ip: "10.96.0.2")]
        old.services[0].metadata.source = ManifestLocation(file: "old.yaml", line: 1)
        var new = ClusterState()
        new.services = [service("c", ip: "10.96.0.3"), service("a", ip: "10.96.0.1"), service("b", ip: "10.96.0.9")]
        // Same object read from another file is not a change.
        new.services[1].metadata.source = ManifestLocation(file: "new.yaml", line: 7)
        new.endpointSlices = [EndpointSlice(metadata: ObjectMeta(name: "a-1", namespace: "ns"), addressType: .ipv4)]
        let changes = old.changes(to: new).map { change -> String in
            switch change {
            case let .upsertService(s): return "upsert service \(s.metadata.name)"
            case let .deleteService(_, name): return "delete service \(name)"
            case let .upsertEndpointSlice(s): return "upsert slice \(s.metadata.name)"
            case let .deleteEndpointSlice(_, name): return "delete slice \(name)"
            }
        }
        #expect(changes == ["upsert service b", "upsert service c", "upsert slice a-1"])
        #expect(new.changes(to: old).count == 3)  // b back, c deleted, a-1 deleted
    }

    /// Object by object, in any order, a cluster ends where the sorted whole would be, and
    /// each step reports what `changes(to:)` would.
    @Test func replacingObjectByObjectKeepsKeyOrderAndReportsTheChange() {
        var cluster = ClusterState()
        var log: [String] = []
        func note(_ change: ClusterChange?) {
            switch change {
            case nil: log.append("nothing")
            case let .upsertService(s)?: log.append("upsert \(s.metadata.name)")
            case let .deleteService(_, name)?: log.append("delete \(name)")
            default: log.append("other")
            }
        }
        for name in ["m", "c", "x", "a"] { note(cluster.replaceService(key: "ns/\(name)", with: service(name, ip: "10.96.0.1"))) }
        note(cluster.replaceService(key: "ns/c", with: service("c", ip: "10.96.0.1")))   // the same again
        note(cluster.replaceService(key: "ns/c", with: service("c", ip: "10.96.0.7")))   // changed
        note(cluster.replaceService(key: "ns/m", with: nil))
        note(cluster.replaceService(key: "ns/q", with: nil))                            // never there
        #expect(log == ["upsert m", "upsert c", "upsert x", "upsert a", "nothing", "upsert c", "delete m", "nothing"])
        #expect(cluster.services.map(\.metadata.name) == ["a", "c", "x"])
        #expect(cluster.services[1].clusterIPs == [IPAddress("10.96.0.7")!])
        var sorted = ClusterState()
        sorted.services = cluster.services.shuffled().sorted { $0.key < $1.key }
        #expect(sorted == cluster)
    }
}
