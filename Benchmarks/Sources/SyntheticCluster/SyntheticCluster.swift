import SeawayModel
import SeawayProxyCore

/// A deterministic synthetic cluster: `services` ClusterIP services spread over 100
/// namespaces, each with one TCP port and `endpoints` ready endpoints on 50 nodes.
public enum SyntheticCluster {
    /// Node settings of a typical cluster node for these clusters: one node IP, pods in
    /// 10.128.0.0/9 (local traffic detected by that CIDR), services in 10.96.0.0/12.
    public static var nodeOptions: ProxyOptions {
        var o = ProxyOptions()
        o.nodeName = "node-0"
        o.nodeIPs = [IPAddress("192.168.0.10")!]
        o.interfaceAddresses = o.nodeIPs
        o.detectLocal = .clusterCIDR([CIDR("10.128.0.0/9")!])
        o.serviceCIDRs = [CIDR("10.96.0.0/12")!]
        return o
    }

    public static func state(services: Int, endpoints: Int) -> ClusterState {
        var state = ClusterState()
        // The node's service CIDR (nodeOptions), as the cluster's ServiceCIDR says it.
        state.serviceCIDRs = [ServiceCIDR(metadata: ObjectMeta(name: "kubernetes"), cidrs: [CIDR("10.96.0.0/12")!])]
        state.services.reserveCapacity(services)
        state.endpointSlices.reserveCapacity(services)
        for i in 0..<services {
            let ns = "ns\(i % 100)", name = "svc\(i)"
            state.services.append(Service(
                metadata: ObjectMeta(name: name, namespace: ns),
                clusterIPs: [IPAddress(v4: 0x0A60_0000 + UInt32(i))],
                ports: [.init(name: "http", proto: .tcp, port: 80, targetPort: .int(8080))]))
            let eps = (0..<endpoints).map { e -> EndpointSlice.Endpoint in
                let k = UInt32(i * endpoints + e)
                return .init(addresses: [IPAddress(v4: 0x0A80_0000 + k).description],
                             conditions: .init(ready: true), nodeName: "node-\(k % 50)")
            }
            state.endpointSlices.append(EndpointSlice(
                metadata: ObjectMeta(name: "\(name)-abcde", namespace: ns, labels: [EndpointSlice.serviceNameLabel: name]),
                addressType: .ipv4, endpoints: eps, ports: [.init(name: "http", port: 8080, proto: .tcp)]))
        }
        return state
    }

    /// The same cluster as manifests, the way `kubectl get -o yaml` would print the fields
    /// kube-proxy reads (about 12 MB for 10,000 services x 10 endpoints).
    public static func yaml(services: Int, endpoints: Int) -> String {
        var out = ""
        out.reserveCapacity(services * (400 + endpoints * 100))
        for i in 0..<services {
            let ns = "ns\(i % 100)", name = "svc\(i)"
            let ip = IPAddress(v4: 0x0A60_0000 + UInt32(i))
            out += """
                apiVersion: v1
                kind: Service
                metadata:
                  name: \(name)
                  namespace: \(ns)
                spec:
                  type: ClusterIP
                  clusterIP: \(ip)
                  clusterIPs:
                  - \(ip)
                  ports:
                  - name: http
                    port: 80
                    protocol: TCP
                    targetPort: 8080
                  selector:
                    app: \(name)
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata:
                  name: \(name)-abcde
                  namespace: \(ns)
                  labels:
                    kubernetes.io/service-name: \(name)
                addressType: IPv4
                ports:
                - name: http
                  port: 8080
                  protocol: TCP
                endpoints:

                """
            for e in 0..<endpoints {
                let k = UInt32(i * endpoints + e)
                out += """
                    - addresses:
                      - \(IPAddress(v4: 0x0A80_0000 + k))
                      conditions:
                        ready: true
                      nodeName: node-\(k % 50)

                    """
            }
            out += "---\n"
        }
        return out
    }
}
