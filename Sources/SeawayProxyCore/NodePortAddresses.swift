import SeawayModel

/// Which node addresses accept NodePort traffic (`--nodeport-addresses`), for one family:
/// kube-proxy's `NodePortAddresses`.
public struct NodePortAddresses: Sendable, Hashable {
    public let cidrs: [CIDR]
    /// The list was empty (or held a zero CIDR): every local address accepts NodePorts.
    public let matchAll: Bool
    public let containsIPv4Loopback: Bool

    /// - Parameters:
    ///   - specs: the configured values: CIDRs, or the single keyword `primary`.
    ///   - primaryIP: the node IP of `family`, used for `primary`.
    public init(specs: [String], family: IPFamily, primaryIP: IPAddress?) {
        var chosen: [CIDR] = []
        if specs == ["primary"] {
            if let ip = primaryIP { chosen = [CIDR(host: ip)] }
        } else {
            chosen = specs.compactMap { CIDR($0) }.filter { $0.family == family }
        }
        if chosen.isEmpty {
            chosen = [CIDR(network: family == .ipv4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, low: 0), prefixLength: 0)]
        }
        let loopback = IPAddress(v4: 0x7f00_0001)
        containsIPv4Loopback = chosen.contains { $0.family == .ipv4 && ($0.network.isLoopback || $0.contains(loopback)) }
        if let zero = chosen.first(where: { $0.prefixLength == 0 }) {
            cidrs = [zero]
            matchAll = true
        } else {
            cidrs = chosen
            matchAll = false
        }
    }

    /// The node's addresses inside these CIDRs, in interface order, without repeats.
    public func nodeIPs(interfaceAddresses: [IPAddress]) -> [IPAddress] {
        var seen: Set<IPAddress> = []
        var out: [IPAddress] = []
        for cidr in cidrs {
            for ip in interfaceAddresses where cidr.contains(ip) && seen.insert(ip).inserted {
                out.append(ip)
            }
        }
        return out
    }
}
