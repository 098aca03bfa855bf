import Glibc
import SeawayKernel
import SeawayModel
import SeawayNetlink
import SeawayRender

/// What an IPVS-mode sync does to a kernel, one call per kind of change, so the order and
/// content of a sync can be tested on a kernel without IPVS (`KernelIPVS` is the real one).
public protocol IPVSKernel {
    /// The IPVS generic netlink family's id; throws "IPVS unavailable" when the kernel has none.
    func ipvsFamily() throws(DataplaneError) -> UInt16
    /// Makes sure `kube-ipvs0` exists (a dummy device, kube-proxy's).
    func ensureDevice() throws(DataplaneError)
    func state(family: UInt16) throws(DataplaneError) -> IPVSKernelState
    func restoreIPSets(_ text: String) throws(DataplaneError)
    func applyIPTables(_ rulesets: [IPTablesRuleset]) throws(DataplaneError)
    func bind(_ address: IPAddress) throws(DataplaneError)
    func unbind(_ address: IPAddress) throws(DataplaneError)
    func send(_ messages: [[UInt8]]) throws(DataplaneError)
    /// Removes kube-proxy's iptables rules (as `cleanup --mode iptables`).
    func cleanupIPTables() throws(DataplaneError)
    /// Deletes `kube-ipvs0` if it is there.
    func deleteDevice() throws(DataplaneError)
    /// Destroys the sets named, those that exist.
    func destroyIPSets(_ names: [String]) throws(DataplaneError)
}

extension IPVSApplier {
    /// One sync of IPVS mode: nothing is touched before the kernel is known to have IPVS.
    /// The ipsets go first (the iptables rules match on them), then the iptables rules, the
    /// new service addresses, the virtual servers, and last the addresses no longer used,
    /// so a service's address is never bound without its virtual server for longer than
    /// the sync. Returns the plan it carried out.
    @discardableResult
    public static func apply(_ rulesets: [IPVSRuleset], nodeIPs: [IPAddress], to kernel: some IPVSKernel) throws(DataplaneError) -> IPVSSyncPlan {
        let family = try kernel.ipvsFamily()
        try kernel.ensureDevice()
        let plan = IPVSSyncPlan(from: try kernel.state(family: family), to: rulesets, nodeIPs: nodeIPs, family: family)
        try kernel.restoreIPSets(plan.ipsetRestore)
        try kernel.applyIPTables(rulesets.map(\.iptables))
        for address in plan.bind { try kernel.bind(address) }
        try kernel.send(plan.messages)
        for address in plan.unbind { try kernel.unbind(address) }
        return plan
    }
}

extension IPVSApplier {
    /// Removes what IPVS mode makes, in an order the kernel allows: the iptables rules (they
    /// hold references to the ipsets), then, where the kernel has IPVS, every virtual server
    /// (kube-proxy's cleanup flushes IPVS too), then `kube-ipvs0` with its addresses, and
    /// last the ipsets of both families. Without IPVS the rest is still removed.
    public static func cleanup(_ kernel: some IPVSKernel) throws(DataplaneError) {
        try kernel.cleanupIPTables()
        if let family = try? kernel.ipvsFamily() { try kernel.send([IPVSMessages.flush(family: family)]) }
        try kernel.deleteDevice()
        try kernel.destroyIPSets(IPFamily.allCases.flatMap { family in IPVSSet.allCases.map { $0.name(family) } })
    }
}

/// IPVS mode on this kernel, in the calling thread's network namespace: IPVS over generic
/// netlink, `kube-ipvs0` and its addresses over rtnetlink, ipsets through `ipset restore`,
/// the iptables rules through `IPTablesApplier`.
public struct KernelIPVS: IPVSKernel {
    let tools: NetfilterTools
    let iptables: IPTablesApplier

    public init(environment: [String: String]) {
        tools = NetfilterTools(environment: environment)
        iptables = IPTablesApplier(environment: environment)
    }

    public func ipvsFamily() throws(DataplaneError) -> UInt16 {
        try IPVSApplier.requireIPVS()
    }

    public func ensureDevice() throws(DataplaneError) {
        let name = IPVSRuleset.dummyDevice
        do {
            let nl = try RouteNetlink()
            // Whatever device has the name is used, as kube-proxy does.
            if try nl.link(named: name) == nil { try nl.createDummy(name: name) }
        } catch {
            throw DataplaneError("IPVS: \(name)", error)
        }
    }

    public func state(family: UInt16) throws(DataplaneError) -> IPVSKernelState {
        var state = IPVSKernelState(boundAddresses: try boundAddresses())
        do {
            let ipvs = try GenericNetlinkSocket()
            for reply in try ipvs.dump(IPVSMessages.getServices(family: family), "list IPVS services") {
                guard let service = IPVSMessages.service(in: reply) else { continue }
                let destinations = try ipvs.dump(IPVSMessages.getDestinations(of: service, family: family),
                                                 "list the real servers of IPVS service \(service.address.joined(port: Int(service.port)))")
                    .compactMap(IPVSMessages.destination(in:))
                state.virtualServers.append(IPVSApplier.virtualServer(service, destinations))
            }
        } catch {
            throw DataplaneError("IPVS: read the kernel's state", error)
        }
        return state
    }

    /// The addresses on `kube-ipvs0`; none when it is not there.
    public func boundAddresses() throws(DataplaneError) -> [IPAddress] {
        do {
            let nl = try RouteNetlink()
            guard let device = try nl.link(named: IPVSRuleset.dummyDevice) else { return [] }
            return try nl.addresses(of: device).map(\.address)
        } catch {
            throw DataplaneError("IPVS: read the addresses of \(IPVSRuleset.dummyDevice)", error)
        }
    }

    public func restoreIPSets(_ text: String) throws(DataplaneError) {
        try tools.run("ipset", ["-exist", "restore"], input: Array(text.utf8))
    }

    public func applyIPTables(_ rulesets: [IPTablesRuleset]) throws(DataplaneError) {
        try iptables.apply(rulesets)
    }

    public func bind(_ address: IPAddress) throws(DataplaneError) {
        try onDevice { (nl, device) throws(SystemError) in
            try nl.addAddress(address, prefixLength: address.family.bitLength, to: device)
        }
    }

    public func unbind(_ address: IPAddress) throws(DataplaneError) {
        try onDevice { (nl, device) throws(SystemError) in
            try nl.deleteAddress(address, prefixLength: address.family.bitLength, from: device)
        }
    }

    private func onDevice(_ body: (RouteNetlink, Link) throws(SystemError) -> Void) throws(DataplaneError) {
        do throws(SystemError) {
            let nl = try RouteNetlink()
            guard let device = try nl.link(named: IPVSRuleset.dummyDevice) else {
                throw SystemError("find \(IPVSRuleset.dummyDevice)", errno: ENODEV)
            }
            try body(nl, device)
        } catch {
            throw DataplaneError("IPVS", error)
        }
    }

    public func cleanupIPTables() throws(DataplaneError) {
        try iptables.cleanup()
    }

    public func deleteDevice() throws(DataplaneError) {
        do {
            let nl = try RouteNetlink()
            if let device = try nl.link(named: IPVSRuleset.dummyDevice) { try nl.delete(device) }
        } catch {
            throw DataplaneError("IPVS: delete \(IPVSRuleset.dummyDevice)", error)
        }
    }

    public func destroyIPSets(_ names: [String]) throws(DataplaneError) {
        try tools.run("ipset", ["-exist", "restore"], input: Array(names.map { "destroy \($0)\n" }.joined().utf8))
    }

    public func send(_ messages: [[UInt8]]) throws(DataplaneError) {
        guard !messages.isEmpty else { return }
        do {
            let ipvs = try GenericNetlinkSocket()
            for (i, message) in messages.enumerated() {
                try ipvs.request(message, "IPVS message \(i + 1) of \(messages.count) (\(IPVSMessages.describe(message)))")
            }
        } catch {
            throw DataplaneError("IPVS", error)
        }
    }
}
