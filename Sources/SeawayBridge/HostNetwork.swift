import Glibc
import SeawayCNI
import SeawayKernel
import SeawayNetlink
import SeawayNet

/// The host half of an attachment, in the namespace the plugin was run in: the bridge, the
/// host end of the veth, the gateway addresses, forwarding.
struct HostNetwork {
    let netlink: RouteNetlink

    /// The bridge, created if missing, up, promiscuous if asked, with router advertisements
    /// off (the plugin owns its routes).
    func ensureBridge(_ config: BridgeConfig) throws(CNIError) -> Link {
        let vlanFiltering = config.vlan != 0 || !config.vlanTrunk.isEmpty
        do {
            try netlink.createBridge(name: config.bridgeName, mtu: config.mtu, vlanFiltering: vlanFiltering)
        } catch where error.errno == EEXIST {
            // Another attachment made it: fine, if it is a bridge (checked below).
        } catch {
            throw CNIError(.generic, "failed to create bridge \"\(config.bridgeName)\": \(error)")
        }
        guard var bridge = try kernel({ () throws(SystemError) in try netlink.link(named: config.bridgeName) }) else {
            throw CNIError(.generic, "could not look up \"\(config.bridgeName)\": it vanished after creation")
        }
        guard bridge.kind == "bridge" else { throw CNIError(.invalidConfig, "bridge: \"\(config.bridgeName)\" already exists but is not a bridge") }
        if config.promiscMode {
            try kernel { () throws(SystemError) in try netlink.setPromiscuous(bridge, true) }
        }
        try? Sysctl.write("net/ipv6/conf/\(config.bridgeName)/accept_ra", "0")
        if !bridge.isUp {
            try kernel { () throws(SystemError) in try netlink.setUp(bridge) }
            bridge.isUp = true
        }
        return bridge
    }

    /// Creates the veth pair with its container end (`ifname`, optional MAC) made directly in
    /// the container's namespace, and the host end `veth<8 hex>` here, attached to the bridge.
    func createVeth(_ config: BridgeConfig, ifname: String, container: NetworkNamespace, bridge: Link,
                    undo: Undo) throws(CNIError) -> Link {
        var hostName = ""
        for attempt in 1...10 {
            hostName = HostNetwork.randomVethName()
            do {
                try netlink.createVeth(name: hostName, peerName: ifname, peerNamespace: container.descriptor,
                                       mtu: config.mtu, peerMAC: config.mac)
                break
            } catch where error.errno == EEXIST {
                // Either our random name is taken here (try another) or the container has the
                // interface already, which ADD must refuse.
                let hostNameTaken = (try? netlink.link(named: hostName)) != nil
                if !hostNameTaken || attempt == 10 {
                    throw CNIError(.generic, "container veth name \"\(ifname)\" already exists in \(container.path)")
                }
            } catch {
                throw CNIError(.generic, "failed to make veth pair: \(error)")
            }
        }
        guard let host = try kernel({ () throws(SystemError) in try netlink.link(named: hostName) }) else {
            throw CNIError(.generic, "failed to look up \"\(hostName)\" after creating it")
        }
        // Deleting either end of a veth deletes both.
        undo.push("delete \(hostName)") { try netlink.delete(host) }
        try kernel { () throws(SystemError) in
            try netlink.setUp(host)
            try? Sysctl.write("net/ipv6/conf/\(hostName)/accept_ra", "0")
            try netlink.setMaster(host, bridge)
            // Set either way, as the reference does: a port inherits no hairpin setting.
            try netlink.setHairpin(host, config.hairpinMode)
            if (config.vlan != 0 || !config.vlanTrunk.isEmpty) && !config.preserveDefaultVlan {
                try netlink.deleteBridgeVLAN(host, vid: 1)
            }
            if config.vlan != 0 {
                try netlink.addBridgeVLAN(host, vid: UInt16(config.vlan), pvid: true, untagged: true)
            }
            for vid in config.vlanTrunk {
                try netlink.addBridgeVLAN(host, vid: UInt16(vid), pvid: false, untagged: false)
            }
        }
        return host
    }

    /// Puts each gateway address on the bridge (reference `ensureAddr`): an address already
    /// there is fine; a different IPv4 address, or an overlapping IPv6 one, is replaced with
    /// `forceAddress` and an error without. Then pins the bridge's MAC to the one `bridge`
    /// (read before the first port joined) has: otherwise a bridge takes the lowest port MAC,
    /// which changes as pods come and go. Then turns forwarding on.
    func configureGateways(_ plan: BridgeGateways, on bridge: Link, config: BridgeConfig) throws(CNIError) {
        guard !plan.bridgeAddresses.isEmpty else { return }
        let existing = try kernel { () throws(SystemError) in try netlink.addresses(of: bridge) }.filter { !$0.isLinkLocal }
        for gw in plan.bridgeAddresses {
            let wanted = CIDR(network: gw.address, prefixLength: gw.prefixLength)
            let sameFamily = existing.filter { $0.address.family == gw.address.family }
            if sameFamily.contains(where: { $0.address == gw.address && $0.prefixLength == gw.prefixLength }) { continue }
            for other in sameFamily where gw.address.family == .ipv4 || other.network.contains(gw.address) || wanted.contains(other.address) {
                guard config.forceAddress else {
                    throw CNIError(.generic, "\"\(config.bridgeName)\" already has an IP address different from \(gw)")
                }
                try kernel { () throws(SystemError) in try netlink.deleteAddress(other.address, prefixLength: other.prefixLength, from: bridge) }
            }
            do {
                try netlink.addAddress(gw.address, prefixLength: gw.prefixLength, to: bridge)
            } catch where error.errno == EEXIST {
            } catch {
                throw CNIError(.generic, "could not add IP address to \"\(config.bridgeName)\": \(error)")
            }
        }
        // The MAC the bridge had before its first port joined, as the reference pins it.
        if let mac = bridge.mac {
            try kernel { () throws(SystemError) in try netlink.setMAC(bridge, mac) }
        }
        for family in plan.forwardingFamilies {
            let key = family == .ipv4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding"
            do { try Sysctl.ensure(key, "1") } catch { throw CNIError(.generic, "failed to enable forwarding: \(error)") }
        }
    }

    /// Waits for the host end to be operationally up, with the reference's back-off
    /// (0, 50, 500, 1000, 1000 ms); returns it as it is then.
    func waitUntilUp(_ host: Link) throws(CNIError) -> Link {
        var current = host
        for (attempt, delay) in [0, 50, 500, 1000, 1000].enumerated() {
            if delay > 0 { usleep(UInt32(delay * 1000)) }
            guard let now = try kernel({ () throws(SystemError) in try netlink.link(index: host.index) }) else {
                throw CNIError(.generic, "\"\(host.name)\" vanished")
            }
            current = now
            if now.operationalState == .up { return now }
            if attempt == 4 { throw CNIError(.generic, "bridge port in error state: \(now.operationalState)") }
        }
        return current
    }

    /// `veth` and 8 hex digits of randomness (NetworkManager ignores `veth*` devices).
    static func randomVethName() -> String {
        var rng = SystemRandomNumberGenerator()
        let hex = String(UInt32.random(in: 0...UInt32.max, using: &rng), radix: 16)
        return "veth" + String(repeating: "0", count: 8 - hex.count) + hex
    }
}
