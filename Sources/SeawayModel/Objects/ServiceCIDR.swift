/// A networking.k8s.io/v1 ServiceCIDR: the ranges ClusterIPs are allocated from.
public struct ServiceCIDR: Sendable, Hashable {
    public var metadata: ObjectMeta
    public var cidrs: [CIDR]

    public init(metadata: ObjectMeta, cidrs: [CIDR]) {
        self.metadata = metadata
        self.cidrs = cidrs
    }

    static func decode(_ f: Field) throws -> ServiceCIDR {
        var obj = ServiceCIDR(metadata: try ObjectMeta.decode(f, namespaced: false), cidrs: [])
        for c in try f["spec"]?["cidrs"]?.list() ?? [] {
            let text = try c.string()
            guard let cidr = CIDR(text) else { throw c.error("'\(text)' is not a valid CIDR") }
            obj.cidrs.append(cidr)
        }
        if obj.cidrs.count > 2 { throw f.error("spec.cidrs: at most two CIDRs (one per family)") }
        return obj
    }
}
