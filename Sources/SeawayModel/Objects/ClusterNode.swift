/// A v1 Node (named `ClusterNode` to stay clear of YAML nodes).
public struct ClusterNode: Sendable, Hashable {
    public static let zoneLabel = "topology.kubernetes.io/zone"

    public var metadata: ObjectMeta
    public var podCIDRs: [CIDR]
    /// `status.addresses` entries of type InternalIP, then ExternalIP, in document order.
    public var internalIPs: [IPAddress]
    public var externalIPs: [IPAddress]

    public init(metadata: ObjectMeta, podCIDRs: [CIDR] = [], internalIPs: [IPAddress] = [],
                externalIPs: [IPAddress] = []) {
        self.metadata = metadata
        self.podCIDRs = podCIDRs
        self.internalIPs = internalIPs
        self.externalIPs = externalIPs
    }

    /// The node's primary IP per family, as kubelet and kube-proxy choose it:
    /// the first InternalIP of the family, else the first ExternalIP.
    public func primaryIP(_ family: IPFamily) -> IPAddress? {
        internalIPs.first { $0.family == family } ?? externalIPs.first { $0.family == family }
    }
}

extension ClusterNode {
    static func decode(_ f: Field) throws -> ClusterNode {
        var node = ClusterNode(metadata: try ObjectMeta.decode(f, namespaced: false))
        if let spec = f["spec"] {
            var texts: [Field] = try spec["podCIDRs"]?.list() ?? []
            if texts.isEmpty, let one = spec["podCIDR"] { texts = [one] }
            for c in texts {
                let text = try c.string()
                guard let cidr = CIDR(text) else { throw c.error("'\(text)' is not a valid CIDR") }
                node.podCIDRs.append(cidr)
            }
        }
        for a in try f["status"]?["addresses"]?.list() ?? [] {
            let type = try a["type"]?.string() ?? ""
            guard type == "InternalIP" || type == "ExternalIP", let addr = a["address"] else { continue }
            let text = try addr.string()
            guard let ip = IPAddress(text) else { throw addr.error("'\(text)' is not a valid IP address") }
            if type == "InternalIP" { node.internalIPs.append(ip) } else { node.externalIPs.append(ip) }
        }
        return node
    }
}
