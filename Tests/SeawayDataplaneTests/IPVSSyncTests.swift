import Foundation
import SeawayDataplane
import SeawayKernel
import SeawayModel
import SeawayNetlink
import SeawayProxyCore
import SeawayRender
import SeawayTestSupport
import Testing

/// An IPVS-mode sync: what it changes and in which order, against a kernel that records
/// the calls, and its ipset, address and iptables parts against a real kernel in a
/// throwaway namespace (this kernel has no IPVS and no dummy devices, so IPVS itself is the
/// recording kind there and a bridge stands in for kube-ipvs0).
struct IPVSSyncTests {
    /// Records every call; IPVS itself is pretend (`hasIPVS`, `virtualServers`), the rest
    /// goes to `real` when there is one.
    final class RecordingKernel: IPVSKernel {
        var calls: [String] = []
        var sent: [[UInt8]] = []
        var hasIPVS = true
        var bound: [IPAddress] = []
        var virtualServers: [IPVSRuleset.VirtualServer] = []
        let real: KernelIPVS?

        init(real: KernelIPVS? = nil) { self.real = real }

        func ipvsFamily() throws(DataplaneError) -> UInt16 {
            calls.append("ipvsFamily")
            guard hasIPVS else { throw DataplaneError("IPVS unavailable: pretend") }
            return 42
        }
        func ensureDevice() throws(DataplaneError) { calls.append("ensureDevice"); try real?.ensureDevice() }
        func state(family: UInt16) throws(DataplaneError) -> IPVSKernelState {
            calls.append("state")
            return IPVSKernelState(boundAddresses: try real?.boundAddresses() ?? bound, virtualServers: virtualServers)
        }
        func restoreIPSets(_ text: String) throws(DataplaneError) { calls.append("restoreIPSets"); try real?.restoreIPSets(text) }
        func applyIPTables(_ rulesets: [IPTablesRuleset]) throws(DataplaneError) {
            calls.append("applyIPTables"); try real?.applyIPTables(rulesets)
        }
        func bind(_ address: IPAddress) throws(DataplaneError) { calls.append("bind \(address)"); try real?.bind(address) }
        func unbind(_ address: IPAddress) throws(DataplaneError) { calls.append("unbind \(address)"); try real?.unbind(address) }
        func send(_ messages: [[UInt8]]) throws(DataplaneError) {
            calls.append("send \(messages.count)")
            sent += messages
        }
        func cleanupIPTables() throws(DataplaneError) { calls.append("cleanupIPTables"); try real?.cleanupIPTables() }
        func deleteDevice() throws(DataplaneError) { calls.append("deleteDevice"); try real?.deleteDevice() }
        func destroyIPSets(_ names: [String]) throws(DataplaneError) {
            calls.append("destroyIPSets \(names.count)"); try real?.destroyIPSets(names)
        }
    }

    /// A virtual server as the kernel would list it (by default, the rendered test service's shape).
    static func server(_ address: String, port: Int = 80, proto: L4Protocol = .tcp, persistence: Int? = 10800,
                        endpointPort: Int = 8080, endpoints: [String]) -> IPVSRuleset.VirtualServer {
        IPVSRuleset.VirtualServer(address: IPAddress(address)!, port: port, proto: proto, scheduler: "rr", persistenceTimeout: persistence,
                                  sourceHashPort: false,
                                  realServers: endpoints.map { .init(address: IPAddress($0)!, port: endpointPort, weight: 1) }, service: "")
    }

    @Test func withoutIPVSNothingElseIsAskedOrChanged() throws {
        let kernel = RecordingKernel()
        kernel.hasIPVS = false
        let error = #expect(throws: DataplaneError.self) {
            try IPVSApplier.apply(try IPVSMessagesTests().rendered(scheduler: "rr"), nodeIPs: [], to: kernel)
        }
        #expect(error?.description.hasPrefix("IPVS unavailable") == true)
        #expect(kernel.calls == ["ipvsFamily"])
        // Cleanup still removes the rest.
        kernel.calls = []
        try IPVSApplier.cleanup(kernel)
        #expect(kernel.calls == ["cleanupIPTables", "ipvsFamily", "deleteDevice", "destroyIPSets 34"])
    }

    /// The kernel holds an old endpoint of the service, a service of ours that is gone (its
    /// address still bound), and someone else's virtual server.
    @Test func aSyncMovesTheKernelFromWhatItHasToWhatWasRendered() throws {
        let kernel = RecordingKernel()
        kernel.bound = [IPAddress("10.96.0.10")!, IPAddress("10.96.0.99")!]
        kernel.virtualServers = [
            Self.server("10.96.0.10", endpoints: ["10.244.1.5", "10.244.9.9"]),
            Self.server("10.96.0.99", endpoints: ["10.244.1.1"]),
            Self.server("192.0.2.1", endpoints: ["192.0.2.10"]),
        ]
        let rendered = try IPVSMessagesTests().rendered(scheduler: "rr")
        let plan = try IPVSApplier.apply(rendered, nodeIPs: [IPAddress("192.168.0.10")!], to: kernel)
        #expect(kernel.calls == ["ipvsFamily", "ensureDevice", "state", "restoreIPSets", "applyIPTables", "send 3", "unbind 10.96.0.99"])
        #expect(plan.bind.isEmpty)
        #expect(plan.unbind == [IPAddress("10.96.0.99")!])
        // 10.244.2.7 added, 10.244.9.9 removed, the gone service deleted; 192.0.2.1 untouched.
        #expect(kernel.sent.map(IPVSMessages.describe) == [
            "newDestination 10.244.2.7:8080 of tcp 10.96.0.10:80",
            "deleteDestination 10.244.9.9:8080 of tcp 10.96.0.10:80",
            "deleteService tcp 10.96.0.99:80",
        ])
        #expect(kernel.sent.allSatisfy { IPVSMessagesTests.decode($0).type == 42 })

        // Every set is swapped in whole.
        #expect(plan.ipsetRestore.contains("""
            create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536
            create SEAWAY-SWAP hash:ip,port family inet hashsize 1024 maxelem 65536
            flush SEAWAY-SWAP
            add SEAWAY-SWAP 10.96.0.10,tcp:80
            swap KUBE-CLUSTER-IP SEAWAY-SWAP
            destroy SEAWAY-SWAP

            """))
        #expect(plan.ipsetRestore.components(separatedBy: "\nswap ").count - 1 == rendered[0].ipsets.count)

        // From an empty kernel: the address bound before the virtual servers are made.
        let fresh = RecordingKernel()
        try IPVSApplier.apply(rendered, nodeIPs: [], to: fresh)
        #expect(fresh.calls == ["ipvsFamily", "ensureDevice", "state", "restoreIPSets", "applyIPTables", "bind 10.96.0.10", "send 3"])
        #expect(fresh.sent == IPVSApplier.messages(to: rendered, family: 42))
    }

    @Test(.enabled(if: DataplaneNode.available && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ipset"),
                   Comment(rawValue: DataplaneNode.unavailable + " (and ipset)")))
    func theIPSetsAddressesAndIPTablesRulesLandInTheKernel() throws {
        let node = try ThrowawayNamespace(prefix: "ipvs")
        defer { node.close() }
        // No CONFIG_DUMMY here: a bridge takes kube-ipvs0's name, and a sync uses whatever
        // device has it, as kube-proxy does.
        try node.exec(["ip", "link", "add", "kube-ipvs0", "type", "bridge"])
        let kernel = RecordingKernel(real: KernelIPVS(environment: ProcessInfo.processInfo.environment))
        func inside(_ body: @escaping () throws -> Void) throws { try NFTablesNetlinkTests.inside(node, body) }
        func addresses() throws -> [String] {
            try node.exec(["ip", "-o", "addr", "show", "dev", "kube-ipvs0"]).output.split(separator: "\n")
                .map { String($0.split(separator: " ")[3]) }.sorted()
        }
        func members(_ set: String) throws -> [String] {
            try node.exec(["ipset", "save", set]).output.split(separator: "\n").filter { $0.hasPrefix("add ") }
                .map { String($0.split(separator: " ")[2]) }.sorted()
        }

        let first = try IPVSMessagesTests().rendered(scheduler: "rr")
        try inside { try IPVSApplier.apply(first, nodeIPs: [], to: kernel) }
        #expect(try addresses() == ["10.96.0.10/32"])
        #expect(try members("KUBE-CLUSTER-IP") == ["10.96.0.10,tcp:80"])
        #expect(try members("KUBE-IPVS-IPS") == ["10.96.0.10"])
        let sets = try node.exec(["ipset", "list", "-n"]).output.split(separator: "\n").map(String.init)
        #expect(Set(sets) == Set(first[0].ipsets.map(\.name)), "every set, and no scratch set left")
        let saved = try node.exec(["iptables-save", "-t", "nat"]).output
        #expect(saved.contains("-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT"))
        #expect(saved.contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"))
        let filter = try node.exec(["iptables-save", "-t", "filter"]).output
        #expect(filter.contains("-A INPUT -m comment --comment \"kubernetes ipvs access filter\" -j KUBE-IPVS-FILTER"))

        // The service goes: its address and set entries go with it, in place.
        kernel.virtualServers = first.flatMap(\.virtualServers)
        kernel.sent = []
        let empty = try IPVSMessagesTests().rendered(scheduler: "rr", service: false)
        try inside { try IPVSApplier.apply(empty, nodeIPs: [], to: kernel) }
        #expect(try addresses().isEmpty)
        #expect(try members("KUBE-CLUSTER-IP").isEmpty)
        #expect(try members("KUBE-IPVS-IPS").isEmpty)
        #expect(!(try node.exec(["iptables-save", "-t", "nat"]).output.contains("KUBE-CLUSTER-IP dst,dst -j ACCEPT")))
        #expect(kernel.sent.map(IPVSMessages.describe) == ["deleteService tcp 10.96.0.10:80"])

        // Cleanup leaves none of it: no device, no KUBE- set, no chain of kube-proxy's own.
        kernel.calls = []
        try inside { try IPVSApplier.cleanup(kernel) }
        #expect(kernel.calls == ["cleanupIPTables", "ipvsFamily", "send 1", "deleteDevice", "destroyIPSets 34"])
        #expect(try node.exec(["ip", "link", "show", "kube-ipvs0"], check: false).status != 0)
        #expect(try node.exec(["ipset", "list", "-n"]).output.isEmpty)
        // Only KUBE-MARK-MASQ stays, as kube-proxy leaves it: the kubelet shares it.
        let left = try node.exec(["iptables-save"]).output.split(separator: "\n").filter { $0.contains("KUBE-") }
        #expect(left == [":KUBE-MARK-MASQ - [0:0]", "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"], "\(left)")
    }

    /// A DNS-like service (UDP 53) with these endpoints, as a cluster.
    static func cluster(_ endpoints: [String]) throws -> ClusterState {
        try IPVSMessagesTests.oneService("dns", namespace: "kube-system", clusterIP: "10.96.0.53", port: 53, targetPort: 53,
                                         proto: "UDP", affinity: false, endpoints: endpoints)
    }

    /// The agent's IPVS proxier: every sync sends what differs from the kernel, and an
    /// endpoint leaving a UDP service is reported for conntrack clearing.
    @Test func theProxierSendsEachSyncsDifferenceAndReportsStaleUDPFlows() throws {
        let kernel = RecordingKernel()
        var options = ProxyOptions()
        options.nodeName = "node-a"
        kernel.hasIPVS = false
        #expect(throws: DataplaneError.self) { _ = try IPVSProxier(options: options, kernel: kernel) }
        kernel.hasIPVS = true
        let proxier = try IPVSProxier(options: options, kernel: kernel)

        let two = try Self.cluster(["10.244.1.5", "10.244.2.7"])
        let first = try proxier.sync(to: two)
        #expect(first.full && first.virtualServers == 1 && first.messages == 3 && first.bound == 1)
        #expect(kernel.sent.map(IPVSMessages.describe) == [
            "newService udp 10.96.0.53:53",
            "newDestination 10.244.1.5:53 of udp 10.96.0.53:53",
            "newDestination 10.244.2.7:53 of udp 10.96.0.53:53",
        ])
        #expect(first.staleConntrack.isEmpty)

        // The kernel now holds that; one endpoint goes.
        kernel.virtualServers = [Self.server("10.96.0.53", port: 53, proto: .udp, persistence: nil, endpointPort: 53,
                                             endpoints: ["10.244.1.5", "10.244.2.7"])]
        kernel.bound = [IPAddress("10.96.0.53")!]
        kernel.sent = []
        let one = try Self.cluster(["10.244.1.5"])
        let second = try proxier.sync(to: one, changes: two.changes(to: one))
        #expect(!second.full && second.messages == 1 && second.bound == 0 && second.unbound == 0)
        #expect(kernel.sent.map(IPVSMessages.describe) == ["deleteDestination 10.244.2.7:53 of udp 10.96.0.53:53"])
        #expect(second.staleConntrack == [.natToEndpoint(address: IPAddress("10.96.0.53")!, port: 53, endpoint: IPAddress("10.244.2.7")!)])
    }
}
