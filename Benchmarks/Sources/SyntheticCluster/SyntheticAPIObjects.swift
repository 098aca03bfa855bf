import SeawayModel

/// The synthetic cluster as an API server holds it: JSON objects (dictionaries) per resource
/// path, the same services and endpoints as `SyntheticCluster.state`, for a fake API server.
public enum SyntheticAPIObjects {
    public static let servicesPath = "/api/v1/services"
    public static let slicesPath = "/apis/discovery.k8s.io/v1/endpointslices"
    public static let nodesPath = "/api/v1/nodes"
    public static let serviceCIDRsPath = "/apis/networking.k8s.io/v1/servicecidrs"

    /// The cluster's service CIDR (`SyntheticCluster.nodeOptions`).
    public static var serviceCIDR: [String: Any] {
        ["apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": ["name": "kubernetes"], "spec": ["cidrs": ["10.96.0.0/12"]]]
    }

    public static func service(_ i: Int) -> [String: Any] {
        let ip = IPAddress(v4: 0x0A60_0000 + UInt32(i)).description
        return ["apiVersion": "v1", "kind": "Service",
                "metadata": ["name": "svc\(i)", "namespace": "ns\(i % 100)"],
                "spec": ["type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "selector": ["app": "svc\(i)"],
                         "ports": [["name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080]]]]
    }

    /// Service `i`'s slice; `replacingFirst` puts another address in place of its first endpoint's.
    public static func slice(_ i: Int, endpoints: Int, replacingFirst: String? = nil) -> [String: Any] {
        let list = (0..<endpoints).map { e -> [String: Any] in
            let k = UInt32(i * endpoints + e)
            let address = e == 0 ? replacingFirst ?? IPAddress(v4: 0x0A80_0000 + k).description : IPAddress(v4: 0x0A80_0000 + k).description
            return ["addresses": [address], "conditions": ["ready": true], "nodeName": "node-\(k % 50)"]
        }
        return ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": ["name": "svc\(i)-abcde", "namespace": "ns\(i % 100)", "labels": [EndpointSlice.serviceNameLabel: "svc\(i)"]],
                "ports": [["name": "http", "port": 8080, "protocol": "TCP"]],
                "endpoints": list]
    }

    /// The node the agent runs as (`SyntheticCluster.nodeOptions`).
    public static var node: [String: Any] {
        ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "node-0"],
         "status": ["addresses": [["type": "InternalIP", "address": "192.168.0.10"]]]]
    }
}
