import SeawayCNI
import SeawayKernel
import SeawayNetlink
import SeawayNet

/// CHECK: the previous result still describes the node, as the reference checks it: the
/// bridge (a bridge, same MAC, same promiscuous mode), the container interface (a veth in
/// the sandbox, same MAC), a host veth that is its peer and a port of the bridge, and every
/// address and route of the result present in the container.
struct BridgeCheck {
    let request: CNIRequest
    let environment: [String: String]

    func run() throws(CNIError) {
        let env = request.environment
        let config = try BridgeConfig(request.config, environment: env)
        let container: NetworkNamespace
        do { container = try NetworkNamespace(path: env.netns) } catch {
            throw CNIError(.generic, "failed to open netns \"\(env.netns)\": \(error)")
        }
        if let type = config.ipamType { try DelegatedPlugin(type: type, request: request, environment: environment).run(.check) }
        guard let previous = config.prevResult else { throw CNIError(.invalidConfig, "prevResult: Required prevResult missing") }

        let netlink = try kernel { () throws(SystemError) in try RouteNetlink() }
        guard let bridgeEntry = previous.interfaces.first(where: { $0.name == config.bridgeName }) else {
            throw CNIError(.generic, "CNI created bridge \(config.bridgeName) in host namespace was not found")
        }
        guard let bridge = try kernel({ () throws(SystemError) in try netlink.link(named: bridgeEntry.name) }) else {
            throw CNIError(.generic, "Interface name \(bridgeEntry.name) not found")
        }
        guard bridgeEntry.sandbox == nil || bridgeEntry.sandbox == "" else { throw CNIError(.generic, "Interface \(bridge.name) should not be in sandbox") }
        guard bridge.kind == "bridge" else { throw CNIError(.generic, "Interface \(bridge.name) does not have link type of bridge") }
        if let mac = bridgeEntry.mac, mac != bridge.mac?.description { throw CNIError(.generic, "Bridge interface \(bridge.name) Mac doesn't match: \(mac)") }
        guard bridge.isPromiscuous == config.promiscMode else {
            throw CNIError(.generic, "Bridge interface \(bridge.name) configured Promisc Mode \(config.promiscMode) doesn't match current state: \(bridge.isPromiscuous)")
        }

        guard let containerEntry = previous.interfaces.first(where: { $0.name == env.ifname && $0.sandbox == env.netns }) else {
            throw CNIError(.generic, "CNI created interface in container \(env.ifname) not found")
        }
        let observed = try kernel { () throws(SystemError) in
            try container.run { () throws(SystemError) in try ContainerNetwork.observe(ifname: env.ifname) }
        }
        guard let inside = observed.link else { throw CNIError(.generic, "Interface name \(env.ifname) not found") }
        guard inside.kind == "veth" else { throw CNIError(.generic, "Error: Container interface \(inside.name) not of type veth") }
        if let mac = containerEntry.mac, mac != inside.mac?.description {
            throw CNIError(.generic, "Interface \(inside.name) Mac \(mac) doesn't match container Mac: \(inside.mac?.description ?? "none")")
        }

        var hostVethFound = false
        for entry in previous.interfaces where entry.name != bridgeEntry.name && entry.name != containerEntry.name {
            guard let veth = try kernel({ () throws(SystemError) in try netlink.link(named: entry.name) }), veth.kind == "veth",
                  veth.index == inside.peerIndex, veth.peerIndex == inside.index, veth.masterIndex == bridge.index
            else { continue }
            if let mac = entry.mac, mac != veth.mac?.description { throw CNIError(.generic, "Interface \(veth.name) Mac doesn't match: \(mac) not found") }
            hostVethFound = true
            break
        }
        guard hostVethFound else { throw CNIError(.generic, "CNI veth created for bridge \(config.bridgeName) was not found") }

        for ip in previous.ips where !observed.addresses.contains(where: { $0.address == ip.address && $0.prefixLength == ip.prefixLength }) {
            throw CNIError(.generic, "Failed to match addr \(ip.address)/\(ip.prefixLength) on interface \(env.ifname)")
        }
        for route in previous.routes where !observed.routes.contains(where: { r in
            r.destination == route.destination && (route.gateway == nil || r.gateway == route.gateway)
        }) {
            throw CNIError(.generic, "Failed to match route \(route.destination)\(route.gateway.map { " via \($0)" } ?? "") in the container")
        }
    }
}
