import Foundation
import SeawayDataplane
import SeawayLoader
import SeawayNetlink
import SeawayModel
import SeawayProxyCore
import SeawayRender
import Testing

/// The IPVS netlink messages `apply --mode ipvs` would send, checked byte for byte against
/// the kernel's UAPI (linux/ip_vs.h) since this kernel has no IPVS to send them to.
@Suite struct IPVSMessagesTests {
    /// A netlink attribute: type (flags masked off) and payload.
    struct Attribute {
        var type: Int
        var payload: [UInt8]

        var nested: [Attribute] { Attribute.parse(payload[...]) }
        var u16: UInt16 { UInt16(payload[0]) | UInt16(payload[1]) << 8 }
        var u32: UInt32 { payload.prefix(4).enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * $1.offset) } }
        var bigEndian16: UInt16 { UInt16(payload[0]) << 8 | UInt16(payload[1]) }

        static func parse(_ bytes: ArraySlice<UInt8>) -> [Attribute] {
            var out: [Attribute] = []
            var i = bytes.startIndex
            while i + 4 <= bytes.endIndex {
                let length = Int(bytes[i]) | Int(bytes[i + 1]) << 8
                let type = (Int(bytes[i + 2]) | Int(bytes[i + 3]) << 8) & 0x3fff
                guard length >= 4, i + length <= bytes.endIndex else { break }
                out.append(Attribute(type: type, payload: Array(bytes[(i + 4)..<(i + length)])))
                i += (length + 3) & ~3
            }
            return out
        }
    }

    /// (netlink type, flags, genl command, genl version, top-level attributes)
    static func decode(_ message: [UInt8]) -> (type: Int, flags: Int, command: UInt8, version: UInt8, attributes: [Attribute]) {
        let length = Int(message[0]) | Int(message[1]) << 8 | Int(message[2]) << 16 | Int(message[3]) << 24
        #expect(length == message.count)
        let type = Int(message[4]) | Int(message[5]) << 8
        let flags = Int(message[6]) | Int(message[7]) << 8
        return (type, flags, message[16], message[17], Attribute.parse(message[20...]))
    }

    static func attribute(_ list: [Attribute], _ type: Int) -> Attribute? { list.first { $0.type == type } }

    /// A cluster of one ClusterIP service, port `port` (named like the service) to
    /// `targetPort`, and one EndpointSlice with `endpoints`, all ready.
    static func oneService(_ name: String, namespace: String, clusterIP: String, port: Int, targetPort: Int,
                           proto: String, affinity: Bool, endpoints: [String]) throws -> ClusterState {
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: \(namespace)}
            spec:
              clusterIP: \(clusterIP)
              sessionAffinity: \(affinity ? "ClientIP" : "None")
              ports: [{name: \(name), port: \(port), targetPort: \(targetPort), protocol: \(proto)}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(name)-1, namespace: \(namespace), labels: {kubernetes.io/service-name: \(name)}}
            addressType: IPv4
            ports: [{name: \(name), port: \(targetPort), protocol: \(proto)}]
            endpoints:
            \(endpoints.map { "  - {addresses: [\($0)], conditions: {ready: true}}" }.joined(separator: "\n"))
            """
        var cluster = ClusterState()
        try ManifestDecoder().decode(yaml, file: "\(name).yaml", into: &cluster)
        return cluster
    }

    /// The demo-style cluster: a ClusterIP service with ClientIP affinity and (by default) two
    /// endpoints; with `service: false`, no service at all.
    func rendered(scheduler: String, endpoints: [String] = ["10.244.1.5", "10.244.2.7"], affinity: Bool = true,
                  service: Bool = true) throws -> [IPVSRuleset] {
        let cluster = !service ? ClusterState()
            : try Self.oneService("web", namespace: "shop", clusterIP: "10.96.0.10", port: 80, targetPort: 8080, proto: "TCP",
                                  affinity: affinity, endpoints: endpoints)
        var options = ProxyOptions()
        options.nodeName = "node-a"
        options.ipvsScheduler = scheduler
        return try RulesetRenderer.render(mode: .ipvs, cluster: cluster, options: options)
            .compactMap { if case let .ipvs(r) = $0 { r } else { nil } }
    }

    @Test func aServiceAndItsRealServersAreTheMessagesIpvsadmWouldSend() throws {
        let messages = IPVSApplier.messages(to: try rendered(scheduler: "rr"), family: 0x1234)
        #expect(messages.count == 3)

        let service = Self.decode(messages[0])
        #expect(service.type == 0x1234)
        #expect(service.flags == 0x5)  // NLM_F_REQUEST | NLM_F_ACK
        #expect(service.command == 1)  // IPVS_CMD_NEW_SERVICE
        #expect(service.version == 1)
        let svc = try #require(Self.attribute(service.attributes, 1)).nested  // IPVS_CMD_ATTR_SERVICE
        #expect(Self.attribute(svc, 1)?.u16 == 2)  // AF_INET
        #expect(Self.attribute(svc, 2)?.u16 == 6)  // TCP
        #expect(Self.attribute(svc, 3)?.payload == [10, 96, 0, 10] + [UInt8](repeating: 0, count: 12))
        #expect(Self.attribute(svc, 4)?.bigEndian16 == 80)
        #expect(Self.attribute(svc, 6)?.payload == Array("rr".utf8) + [0])
        // ClientIP affinity: IP_VS_SVC_F_PERSISTENT, with every flag bit in the mask.
        #expect(Self.attribute(svc, 7)?.payload == [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
        #expect(Self.attribute(svc, 8)?.u32 == 10800)
        #expect(Self.attribute(svc, 9)?.u32 == 0xffff_ffff)

        let endpoints = messages[1...].map(Self.decode)
        for (message, address) in zip(endpoints, [[10, 244, 1, 5], [10, 244, 2, 7]] as [[UInt8]]) {
            #expect(message.command == 5)  // IPVS_CMD_NEW_DEST
            let owner = try #require(Self.attribute(message.attributes, 1)).nested
            #expect(Self.attribute(owner, 3)?.payload.prefix(4).elementsEqual([10, 96, 0, 10]) == true)
            #expect(Self.attribute(owner, 6) == nil)  // a destination names its service, nothing more
            let dest = try #require(Self.attribute(message.attributes, 2)).nested  // IPVS_CMD_ATTR_DEST
            #expect(Self.attribute(dest, 1)?.payload == address + [UInt8](repeating: 0, count: 12))
            #expect(Self.attribute(dest, 2)?.bigEndian16 == 8080)
            #expect(Self.attribute(dest, 3)?.u32 == 0)  // IP_VS_CONN_F_MASQ
            #expect(Self.attribute(dest, 4)?.u32 == 1)
            #expect(Self.attribute(dest, 11)?.u16 == 2)  // IPVS_DEST_ATTR_ADDR_FAMILY
        }
    }

    @Test func maglevHashesTheSourcePortAsKubeProxyAsks() throws {
        let messages = IPVSApplier.messages(to: try rendered(scheduler: "mh"), family: 7)
        let svc = try #require(Self.attribute(Self.decode(messages[0]).attributes, 1)).nested
        #expect(Self.attribute(svc, 6)?.payload == Array("mh".utf8) + [0])
        // IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_SCHED2 (mh-port)
        #expect(Self.attribute(svc, 7)?.payload.prefix(4).elementsEqual([0x11, 0, 0, 0]) == true)
    }

    /// Later syncs send only the difference from what the last one programmed.
    @Test func aSyncSendsOnlyWhatChanged() throws {
        let first = try rendered(scheduler: "rr")
        #expect(IPVSApplier.messages(from: first, to: first, family: 7).isEmpty)

        // One endpoint replaced: its destination added, then the old one removed.
        let moved = IPVSApplier.messages(from: first, to: try rendered(scheduler: "rr", endpoints: ["10.244.1.5", "10.244.3.9"]), family: 7)
            .map(Self.decode)
        #expect(moved.map(\.command) == [5, 7])  // IPVS_CMD_NEW_DEST, IPVS_CMD_DEL_DEST
        let added = try #require(Self.attribute(moved[0].attributes, 2)).nested
        #expect(Self.attribute(added, 1)?.payload.prefix(4).elementsEqual([10, 244, 3, 9]) == true)
        let removed = try #require(Self.attribute(moved[1].attributes, 2)).nested
        #expect(Self.attribute(removed, 1)?.payload.prefix(4).elementsEqual([10, 244, 2, 7]) == true)
        #expect(Self.attribute(removed, 4) == nil)  // a deletion names the destination, nothing more

        // A new scheduler, or affinity turned off: one SET_SERVICE with the new settings.
        let rescheduled = IPVSApplier.messages(from: first, to: try rendered(scheduler: "lc"), family: 7).map(Self.decode)
        #expect(rescheduled.map(\.command) == [2])  // IPVS_CMD_SET_SERVICE
        let svc = try #require(Self.attribute(rescheduled[0].attributes, 1)).nested
        #expect(Self.attribute(svc, 6)?.payload == Array("lc".utf8) + [0])
        let unpinned = IPVSApplier.messages(from: first, to: try rendered(scheduler: "rr", affinity: false), family: 7).map(Self.decode)
        #expect(unpinned.map(\.command) == [2])
        let unpinnedService = try #require(Self.attribute(unpinned[0].attributes, 1)).nested
        let flags = try #require(Self.attribute(unpinnedService, 7))
        #expect(flags.payload.prefix(4).elementsEqual([0, 0, 0, 0]))

        // The service gone: one DEL_SERVICE, which takes its destinations with it.
        let gone = IPVSApplier.messages(from: first, to: try rendered(scheduler: "rr", service: false), family: 7).map(Self.decode)
        #expect(gone.map(\.command) == [3])
        let deleted = try #require(Self.attribute(gone[0].attributes, 1)).nested
        #expect(Self.attribute(deleted, 3)?.payload.prefix(4).elementsEqual([10, 96, 0, 10]) == true)
        #expect(Self.attribute(deleted, 6) == nil)
    }

    /// What a dump reply says is read back as what the request said (GET_SERVICE and GET_DEST
    /// replies carry the attributes NEW_SERVICE and NEW_DEST requests do).
    @Test func servicesAndRealServersReadBackAsTheyWereWritten() throws {
        var pinned = IPVSService(address: IPAddress("10.96.0.10")!, port: 80, proto: .tcp, scheduler: "mh")
        pinned.persistenceSeconds = 10800
        pinned.hashSourcePort = true
        let plain = IPVSService(address: IPAddress("fd00:10:96::a")!, port: 53, proto: .udp, scheduler: "rr")
        for service in [pinned, plain] {
            #expect(IPVSMessages.service(in: IPVSMessages.newService(service, family: 9)) == service)
            for destination in [IPVSDestination(address: IPAddress("10.244.1.5")!, port: 8080),
                                IPVSDestination(address: IPAddress("fd00:10:244::5")!, port: 5353, weight: 3)] {
                let message = IPVSMessages.newDestination(destination, of: service, family: 9)
                #expect(IPVSMessages.destination(in: message) == destination)
                #expect(IPVSMessages.service(in: message)?.address == service.address)
            }
        }
        #expect(IPVSMessages.describe(IPVSMessages.newDestination(IPVSDestination(address: IPAddress("10.244.1.5")!, port: 8080),
                                                                  of: pinned, family: 9))
                == "newDestination 10.244.1.5:8080 of tcp 10.96.0.10:80")
        #expect(IPVSMessages.describe(IPVSMessages.deleteService(plain, family: 9)) == "deleteService udp [fd00:10:96::a]:53")
        #expect(IPVSMessages.service(in: [1, 2, 3]) == nil)

        // The dump requests: GET_SERVICE with nothing else, GET_DEST naming its service.
        let all = Self.decode(IPVSMessages.getServices(family: 9))
        #expect(all.type == 9 && all.command == 4 && all.attributes.isEmpty)
        let dests = Self.decode(IPVSMessages.getDestinations(of: pinned, family: 9))
        #expect(dests.command == 8)
        let owner = try #require(Self.attribute(dests.attributes, 1)).nested
        #expect(Self.attribute(owner, 4)?.bigEndian16 == 80)
        #expect(Self.attribute(owner, 6) == nil)
        #expect(Self.decode(IPVSMessages.flush(family: 9)).command == 17)
    }
}
