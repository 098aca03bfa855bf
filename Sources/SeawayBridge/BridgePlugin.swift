import Glibc
import SeawayCNI
import SeawayKernel
import SeawayNetlink
import SeawayNet

/// The bridge + veth plugin: a drop-in for the reference `bridge` (same options, steps and
/// result), that creates the veth's container end directly in the container, rolls back
/// what a failed ADD made, and masquerades with nftables (see docs/cni.md).
public struct BridgePlugin: CNIPlugin {
    /// The environment delegated plugins get (the process's own, in the executable).
    let environment: [String: String]
    /// Called as ADD passes each stage (`veth`, `ipam`, `container`, `masquerade`): tests
    /// kill the plugin there (see seaway-bridge's SEAWAY_CNI_TEST_CRASH_AT).
    let reached: @Sendable (String) -> Void

    public init(environment: [String: String], reached: @escaping @Sendable (String) -> Void = { _ in }) {
        self.environment = environment
        self.reached = reached
    }

    public func add(_ request: CNIRequest) throws(CNIError) -> CNIResult {
        let env = request.environment
        var config = try BridgeConfig(request.config, environment: env)
        let host = HostNetwork(netlink: try kernel { () throws(SystemError) in try RouteNetlink() })
        let bridge = try host.ensureBridge(config)
        let container: NetworkNamespace
        do { container = try NetworkNamespace(path: env.netns) } catch {
            throw CNIError(.generic, "failed to open netns \"\(env.netns)\": \(error)")
        }
        if config.macSpoofCheck && config.mac == nil {
            // The spoof check needs the pod's MAC on the host side: choose it here, as the
            // kernel would (random, locally administered), instead of asking the container.
            config.mac = MACAddress.randomLocal()
        }
        // One nftables socket for the whole ADD; it is opened only when rules are needed, and
        // released after the rollback, if there is one.
        let nft = LazyNFTables()
        defer { nft.finish() }
        let undo = Undo()
        do throws(CNIError) {
            let hostVeth = try host.createVeth(config, ifname: env.ifname, container: container, bridge: bridge, undo: undo)
            reached("veth")
            if config.macSpoofCheck {
                let check = SpoofCheck(hostInterface: hostVeth.name, mac: config.mac, containerID: env.containerID, ifname: env.ifname)
                try kernel { () throws(SystemError) in try check.apply(try nft.socket()) }
                undo.push("remove the MAC spoof check") { try check.remove(try nft.socket()) }
            }
            var result = CNIResult()
            if let type = config.ipamType {
                let ipam = DelegatedPlugin(type: type, request: request, environment: environment)
                let ipamResult = try ipam.add()
                undo.push("release the IPAM reservation") { try ipam.run(.del) }
                reached("ipam")
                guard !ipamResult.ips.isEmpty else { throw CNIError(.generic, "IPAM plugin returned missing IP config") }
                result = ipamResult
            }
            let gateways = BridgeGateways(ipamResult: result, config: config)
            result = gateways.result
            let containerLink = try kernel { () throws(SystemError) -> Link in
                try container.run { () throws(SystemError) -> Link in
                    try ContainerNetwork.configure(ifname: env.ifname, result: result, config: config)
                }
            }
            reached("container")
            if config.isGateway { try host.configureGateways(gateways, on: bridge, config: config) }
            if config.ipMasq && config.ipamType != nil {
                let masquerade = IPMasquerade(network: config.networkName, containerID: env.containerID, ifname: env.ifname)
                try kernel { () throws(SystemError) in try masquerade.apply(result.ips.map { ($0.address, $0.prefixLength) }, try nft.socket()) }
                undo.push("remove the masquerade rules") { try masquerade.remove(try nft.socket()) }
                reached("masquerade")
            }
            let hostNow = config.disableContainerInterface ? hostVeth : try host.waitUntilUp(hostVeth)
            // The bridge's MAC can change when its first port joins: read it last.
            let bridgeNow = try kernel { () throws(SystemError) in try host.netlink.link(index: bridge.index) } ?? bridge
            result.interfaces = [
                .init(name: bridgeNow.name, mac: bridgeNow.mac?.description),
                .init(name: hostNow.name, mac: hostNow.mac?.description),
                .init(name: containerLink.name, mac: containerLink.mac?.description, sandbox: env.netns),
            ]
            if let dns = config.dns { result.dns = dns }
            undo.discard()
            return result
        } catch {
            undo.run()
            throw error
        }
    }

    public func del(_ request: CNIRequest) throws(CNIError) {
        let env = request.environment
        let config = try BridgeConfig(request.config, environment: env)
        let ipamDelete = { () throws(CNIError) in
            if let type = config.ipamType { try DelegatedPlugin(type: type, request: request, environment: environment).run(.del) }
        }
        // The host's rules first, so their commit's clean-up in the kernel overlaps the veth's
        // deletion. Found by name and comment, not by the pod's addresses, so a DEL after the
        // interface is gone still removes them (the reference's iptables rules leak then: it
        // learns the addresses from the interface).
        let nft = LazyNFTables()
        defer { nft.finish() }
        if config.macSpoofCheck {
            try kernel { () throws(SystemError) in
                try SpoofCheck(hostInterface: "", mac: nil, containerID: env.containerID, ifname: env.ifname).remove(try nft.socket())
            }
        }
        if config.ipMasq {
            try kernel { () throws(SystemError) in
                try IPMasquerade(network: config.networkName, containerID: env.containerID, ifname: env.ifname).remove(try nft.socket())
            }
        }
        // DEL may come after the runtime removed the namespace, or twice: nothing to clean
        // in the container then, but the address still goes back.
        guard !env.netns.isEmpty else { return try ipamDelete() }
        let container: NetworkNamespace
        do { container = try NetworkNamespace(path: env.netns) } catch where error.errno == ENOENT {
            return try ipamDelete()
        } catch {
            throw CNIError(.generic, "failed to open netns \"\(env.netns)\": \(error)")
        }
        try kernel { () throws(SystemError) in
            try container.run { () throws(SystemError) in try ContainerNetwork.remove(ifname: env.ifname) }
        }
        try ipamDelete()
    }

    public func check(_ request: CNIRequest) throws(CNIError) {
        try BridgeCheck(request: request, environment: environment).run()
    }

    public func gc(_ request: CNIRequest) throws(CNIError) {
        let config = try BridgeConfig(request.config, environment: request.environment)
        if let type = config.ipamType { try DelegatedPlugin(type: type, request: request, environment: environment).run(.gc) }
        if config.ipMasq {
            try kernel { () throws(SystemError) in
                let nft = try NFTablesNetlink()
                try nft.apply(IPMasquerade.collect(network: config.networkName, valid: config.validAttachments,
                                                   current: try nft.rules(in: IPMasquerade.checks)))
            }
        }
    }

    public func status(_ request: CNIRequest) throws(CNIError) {
        let config = try BridgeConfig(request.config, environment: request.environment)
        if let type = config.ipamType { try DelegatedPlugin(type: type, request: request, environment: environment).run(.status) }
    }
}
