/// A resource Seaway lists and watches, cluster-wide.
public struct KubeResource: Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    public var apiVersion: String
    /// `/api/v1/services`, `/apis/discovery.k8s.io/v1/endpointslices`.
    public var path: String
    public var labelSelector: String?
    public var fieldSelector: String?
    /// A resource the cluster may not serve at all (a CRD: the admin policies): a 404 is an
    /// empty list, not an error.
    public var optional = false

    public init(kind: String, apiVersion: String, path: String, optional: Bool = false) {
        self.kind = kind
        self.apiVersion = apiVersion
        self.path = path
        self.optional = optional
    }

    public var description: String { "\(kind) (\(path))" }

    public func selecting(labels: String? = nil, fields: String? = nil) -> KubeResource {
        var r = self
        r.labelSelector = labels
        r.fieldSelector = fields
        return r
    }

    public static let services = KubeResource(kind: "Service", apiVersion: "v1", path: "/api/v1/services")
    public static let endpointSlices = KubeResource(kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1",
                                                    path: "/apis/discovery.k8s.io/v1/endpointslices")
    public static let nodes = KubeResource(kind: "Node", apiVersion: "v1", path: "/api/v1/nodes")
    public static let pods = KubeResource(kind: "Pod", apiVersion: "v1", path: "/api/v1/pods")
    public static let namespaces = KubeResource(kind: "Namespace", apiVersion: "v1", path: "/api/v1/namespaces")
    public static let networkPolicies = KubeResource(kind: "NetworkPolicy", apiVersion: "networking.k8s.io/v1",
                                                     path: "/apis/networking.k8s.io/v1/networkpolicies")
    public static let serviceCIDRs = KubeResource(kind: "ServiceCIDR", apiVersion: "networking.k8s.io/v1",
                                                  path: "/apis/networking.k8s.io/v1/servicecidrs", optional: true)
    public static let adminNetworkPolicies = KubeResource(kind: "AdminNetworkPolicy", apiVersion: "policy.networking.k8s.io/v1alpha1",
                                                          path: "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies", optional: true)
    public static let baselineAdminNetworkPolicies = KubeResource(
        kind: "BaselineAdminNetworkPolicy", apiVersion: "policy.networking.k8s.io/v1alpha1",
        path: "/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies", optional: true)

    /// What kube-proxy watches: Services not handed to another proxy, EndpointSlices not of
    /// headless services, this node, and the ServiceCIDRs.
    public static func proxy(node: String) -> [KubeResource] {
        [services.selecting(labels: "!service.kubernetes.io/service-proxy-name"),
         endpointSlices.selecting(labels: "!service.kubernetes.io/headless")] + proxyNodeSettings(node: node)
    }

    /// What the node's proxy settings are resolved from: this node and the ServiceCIDRs.
    public static func proxyNodeSettings(node: String) -> [KubeResource] {
        [nodes.selecting(fields: "metadata.name=\(node)"), serviceCIDRs]
    }

    /// What CoreDNS's kubernetes plugin watches (pods for `pods verified`).
    public static let dns = [services, endpointSlices, namespaces, pods]
    public static let policy = [pods, namespaces, nodes, networkPolicies, adminNetworkPolicies, baselineAdminNetworkPolicies]
    /// Everything Seaway reads, for snapshots, render and trace.
    public static let all = [services, endpointSlices, nodes, pods, namespaces, networkPolicies, serviceCIDRs,
                             adminNetworkPolicies, baselineAdminNetworkPolicies]

    /// The request path with `query` and the selectors, percent-encoded.
    func url(_ query: [(String, String)]) -> String {
        var items = query
        if let labelSelector { items.append(("labelSelector", labelSelector)) }
        if let fieldSelector { items.append(("fieldSelector", fieldSelector)) }
        guard !items.isEmpty else { return path }
        return path + "?" + items.map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded
            }
        }
        return out
    }
}

private extension String {
    var leftPadded: String { count == 1 ? "0" + self : self }
}
