import SeawayCNI
import SeawayKernel
import SeawayNet

/// The host-local IPAM plugin: addresses from range sets, one per set, reserved on disk in
/// host-local's format (see `HostLocalStore`).
public struct HostLocalPlugin: CNIPlugin {
    /// Called after each address is reserved, before the result is written: tests use it to
    /// kill an ADD half-way (see `seaway-ipam`'s SEAWAY_CNI_TEST_CRASH_AFTER_RESERVE).
    let afterReserve: (@Sendable () -> Void)?

    public init(afterReserve: (@Sendable () -> Void)? = nil) {
        self.afterReserve = afterReserve
    }

    public func add(_ request: CNIRequest) throws(CNIError) -> CNIResult {
        let env = request.environment, version = request.version
        let ipam = try IPAMConfig(request.config, environment: env)
        var result = CNIResult()
        if let path = ipam.resolvConf {
            guard let text = try? FileSystem.readText(path) else {
                throw CNIError(.ioFailure, "ipam.resolvConf: cannot read \(path)")
            }
            result.dns = ResolvConf.parse(text)
        }
        if ipam.rangeSets.filter({ $0.family == .ipv4 }).count > 1 || ipam.rangeSets.filter({ $0.family == .ipv6 }).count > 1,
           !CNIVersion.atLeast(version, "0.3.0") {
            throw CNIError(.incompatibleVersion, "CNI version \(version) does not support more than 1 address per family")
        }
        let store = try HostLocalStore(dataDirectory: ipam.dataDirectory, network: ipam.networkName)
        defer { store.close() }
        var requested = ipam.requestedIPs
        var reserved: [IPAddress] = []
        // Whatever fails, the addresses taken so far go back.
        func rollBack() { for ip in reserved { store.release(ip) } }
        do throws(CNIError) {
            for (index, set) in ipam.rangeSets.enumerated() {
                let wanted = requested.firstIndex { set.contains($0) }.map { requested.remove(at: $0) }
                let (ip, range): (IPAddress, IPRange)
                do throws(CNIError) {
                    (ip, range) = try allocate(from: set, index: index, requested: wanted, env: env, store: store)
                } catch {
                    throw CNIError(error.code, "failed to allocate for range \(index): \(error.msg)", details: error.details)
                }
                reserved.append(ip)
                afterReserve?()
                result.ips.append(CNIResult.IPConfig(address: ip, prefixLength: range.prefixLength, gateway: range.gateway))
            }
            if !requested.isEmpty {
                throw CNIError(.invalidConfig, "failed to allocate all requested IPs: \(requested.map(\.description).joined(separator: " "))")
            }
        } catch {
            rollBack()
            throw error
        }
        result.routes = ipam.routes
        return result
    }

    func allocate(from set: IPRangeSet, index: Int, requested: IPAddress?, env: CNIEnvironment,
                  store: HostLocalStore) throws(CNIError) -> (IPAddress, IPRange) {
        if let ip = requested {
            guard let range = set.range(for: ip) else { throw CNIError(.invalidConfig, "requested IP \(ip) is not in range set \(set)") }
            guard ip != range.gateway else { throw CNIError(.invalidConfig, "requested ip \(ip) is subnet's gateway") }
            guard try store.reserve(ip, containerID: env.containerID, ifname: env.ifname, rangeSet: index) else {
                throw CNIError(.generic, "requested IP address \(ip) is not available in range set \(set)")
            }
            return (ip, range)
        }
        // The specification forbids a second allocation for one attachment.
        if let held = store.addresses(containerID: env.containerID, ifname: env.ifname).first(where: set.contains) {
            throw CNIError(.generic, "\(held) has been allocated to \(env.containerID), duplicate allocation is not allowed")
        }
        var candidates = RangeCandidates(set, after: store.lastReserved(rangeSet: index).flatMap { set.contains($0) ? $0 : nil })
        while let (ip, range) = candidates.next() {
            if try store.reserve(ip, containerID: env.containerID, ifname: env.ifname, rangeSet: index) { return (ip, range) }
        }
        // Exhaustion may pass as containers go: "try again later" (the reference says 999).
        throw CNIError(.tryAgainLater, "no IP addresses available in range set: \(set)")
    }

    /// The request's config and its network's store, locked for the duration of `body`.
    private func withStore(_ request: CNIRequest, _ body: (IPAMConfig, HostLocalStore) throws(CNIError) -> Void) throws(CNIError) {
        let ipam = try IPAMConfig(request.config, environment: request.environment)
        let store = try HostLocalStore(dataDirectory: ipam.dataDirectory, network: ipam.networkName)
        defer { store.close() }
        try body(ipam, store)
    }

    public func del(_ request: CNIRequest) throws(CNIError) {
        let env = request.environment
        try withStore(request) { (_, store) throws(CNIError) in
            store.release(containerID: env.containerID, ifname: env.ifname)
            store.removeLeftovers()
        }
    }

    public func check(_ request: CNIRequest) throws(CNIError) {
        let env = request.environment
        try withStore(request) { (_, store) throws(CNIError) in
            guard !store.addresses(containerID: env.containerID, ifname: env.ifname).isEmpty else {
                throw CNIError(.unknownContainer, "host-local: Failed to find address added by container \(env.containerID)")
            }
        }
    }

    public func gc(_ request: CNIRequest) throws(CNIError) {
        try withStore(request) { (ipam, store) throws(CNIError) in
            let valid = Set(ipam.validAttachments.map { "\($0.containerID)\u{0}\($0.ifname)" })
            let validIDs = Set(ipam.validAttachments.map(\.containerID))
            for r in store.reservations() {
                // Old one-line files name only the container.
                let keep = r.ifname.isEmpty ? validIDs.contains(r.containerID) : valid.contains("\(r.containerID)\u{0}\(r.ifname)")
                if !keep { store.release(r.ip) }
            }
            store.removeLeftovers()
        }
    }

    public func status(_ request: CNIRequest) throws(CNIError) {
        try withStore(request) { (ipam, store) throws(CNIError) in
            let taken = Set(store.reservations().map(\.ip))
            for (index, set) in ipam.rangeSets.enumerated() {
                let candidates = RangeCandidates(set, after: nil)
                guard candidates.contains(where: { !taken.contains($0.0) }) else {
                    throw CNIError(.notAvailable, "range set \(index) (\(set)) has no free address")
                }
            }
        }
    }
}
