import SeawayNet

/// What the bridge plugin derives from the IPAM result before touching the kernel (the
/// reference's `calcGateways`): every IP belongs to the container interface (index 2 of
/// bridge, host veth, container), a missing gateway is the subnet's first address when the
/// bridge is the gateway, a default route is added per family for `isDefaultGateway`, and the
/// gateway addresses the bridge must carry.
public struct BridgeGateways: Sendable, Equatable {
    /// The result with interface indexes, gateways and default routes filled in.
    public var result: CNIResult
    /// Addresses for the bridge (`gateway/prefix` of each IP), IPv4 then IPv6, in IP order.
    public var bridgeAddresses: [InterfaceAddressPlan]

    public struct InterfaceAddressPlan: Sendable, Equatable, CustomStringConvertible {
        public var address: IPAddress
        public var prefixLength: Int
        public var description: String { "\(address)/\(prefixLength)" }
    }

    /// The families that need forwarding on (those with a gateway on the bridge).
    public var forwardingFamilies: [IPFamily] {
        [IPFamily.ipv4, .ipv6].filter { f in bridgeAddresses.contains { $0.address.family == f } }
    }

    public init(ipamResult: CNIResult, config: BridgeConfig) {
        var result = ipamResult
        var gateways: [IPFamily: [InterfaceAddressPlan]] = [:]
        var defaultRouteFound: Set<IPFamily> = []
        for i in result.ips.indices {
            let family = result.ips[i].address.family
            result.ips[i].interface = 2
            if result.ips[i].gateway == nil && config.isGateway {
                result.ips[i].gateway = CIDR(network: result.ips[i].address, prefixLength: result.ips[i].prefixLength).network.next
            }
            if config.isDefaultGateway && !defaultRouteFound.contains(family) {
                let zero = CIDR(network: family == .ipv4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, low: 0), prefixLength: 0)
                // Only a default route with a gateway counts as one already there.
                if !result.routes.contains(where: { $0.gateway != nil && $0.destination == zero }) {
                    result.routes.append(CNIResult.Route(destination: zero, gateway: result.ips[i].gateway))
                }
                defaultRouteFound.insert(family)
            }
            if config.isGateway, let gw = result.ips[i].gateway {
                gateways[family, default: []].append(InterfaceAddressPlan(address: gw, prefixLength: result.ips[i].prefixLength))
            }
        }
        self.result = result
        bridgeAddresses = (gateways[.ipv4] ?? []) + (gateways[.ipv6] ?? [])
    }
}
