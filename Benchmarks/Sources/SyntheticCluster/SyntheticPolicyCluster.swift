import SeawayModel

/// A deterministic cluster for policy benchmarks: `namespaces` namespaces (labelled team, env),
/// `pods` pods spread evenly over them (labelled app, tier, version; named container ports
/// http 8080/TCP, metrics 9090/TCP, dns 53/UDP) on 50 nodes, and `policies` NetworkPolicies
/// spread evenly and cycling through five shapes: default deny, same-namespace app on a named
/// port, cross-namespace team+tier on a port range, egress to an ipBlock with except plus
/// DNS, ingress from an ipBlock or a NotIn selector.
public enum SyntheticPolicyCluster {
    /// With `adminPolicies` > 0, also that many AdminNetworkPolicies (cycling Deny, Pass and
    /// Allow rules over team and env labels, ports and networks) and a BaselineAdminNetworkPolicy.
    public static func yaml(namespaces: Int, pods: Int, policies: Int, adminPolicies: Int = 0) -> String {
        var out = ""
        out.reserveCapacity(pods * 700 + policies * 600)
        for n in 0..<namespaces {
            out += """
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: ns\(n)
                  labels:
                    team: team\(n % 10)
                    env: \(n % 3 == 0 ? "prod" : "dev")
                ---

                """
        }
        for p in 0..<pods {
            let ns = p % namespaces
            let ip = IPAddress(v4: 0x0A00_0000 + UInt32(ns) << 16 + UInt32(p / namespaces + 1))
            out += """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: pod\(p)
                  namespace: ns\(ns)
                  labels:
                    app: app\(p % 7)
                    tier: \(["web", "api", "db"][p % 3])
                    version: v\(p % 2)
                spec:
                  nodeName: node-\(p % 50)
                  containers:
                  - name: main
                    ports:
                    - name: http
                      containerPort: 8080
                    - name: metrics
                      containerPort: 9090
                    - name: dns
                      containerPort: 53
                      protocol: UDP
                status:
                  phase: Running
                  podIP: \(ip)
                ---

                """
        }
        for i in 0..<policies {
            let ns = i % namespaces
            out += """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata:
                  name: policy\(i)
                  namespace: ns\(ns)
                spec:

                """
            switch i / namespaces % 5 {
            case 0:
                out += "  podSelector: {}\n  policyTypes: [Ingress]\n"
            case 1:
                out += """
                      podSelector:
                        matchLabels: {app: app\(i % 7)}
                      ingress:
                      - from:
                        - podSelector:
                            matchLabels: {app: app\((i + 1) % 7)}
                        ports:
                        - port: http

                    """
            case 2:
                out += """
                      podSelector:
                        matchLabels: {tier: \(["web", "api", "db"][i % 3])}
                      ingress:
                      - from:
                        - namespaceSelector:
                            matchExpressions:
                            - {key: team, operator: In, values: [team\(i % 10), team\((i + 3) % 10)]}
                          podSelector:
                            matchLabels: {tier: \(["web", "api", "db"][(i + 1) % 3])}
                        ports:
                        - port: 8000
                          endPort: 8100

                    """
            case 3:
                out += """
                      podSelector:
                        matchLabels: {version: v\(i % 2)}
                      policyTypes: [Egress]
                      egress:
                      - to:
                        - ipBlock:
                            cidr: 10.0.0.0/9
                            except: [10.\(i % 64).0.0/16]
                        - namespaceSelector:
                            matchLabels: {env: prod}
                        ports:
                        - port: http
                        - port: 9090
                      - ports:
                        - port: 53
                          protocol: UDP

                    """
            default:
                out += """
                      podSelector:
                        matchExpressions:
                        - {key: app, operator: NotIn, values: [app\(i % 7)]}
                      ingress:
                      - from:
                        - ipBlock:
                            cidr: 10.\(i % 100).0.0/16
                        - podSelector:
                            matchExpressions:
                            - {key: tier, operator: Exists}
                          namespaceSelector:
                            matchLabels: {team: team\(i % 10)}

                    """
            }
            out += "---\n"
        }
        for i in 0..<adminPolicies {
            out += """
                apiVersion: policy.networking.k8s.io/v1alpha1
                kind: AdminNetworkPolicy
                metadata:
                  name: admin\(i)
                spec:
                  priority: \(i * 10)
                  subject:
                    namespaces:
                      matchLabels: {team: team\(i % 10)}
                  ingress:
                  - action: \(["Deny", "Pass", "Allow"][i % 3])
                    from:
                    - namespaces:
                        matchLabels: {env: \(i % 2 == 0 ? "dev" : "prod")}
                    ports:
                    - portRange: {start: 8000, end: 9000}
                  egress:
                  - action: \(["Allow", "Deny", "Pass"][i % 3])
                    to:
                    - networks: [10.\(i % 100).0.0/16]
                    - pods:
                        namespaceSelector: {matchLabels: {team: team\((i + 1) % 10)}}
                        podSelector: {matchLabels: {tier: db}}
                ---

                """
        }
        if adminPolicies > 0 {
            out += """
                apiVersion: policy.networking.k8s.io/v1alpha1
                kind: BaselineAdminNetworkPolicy
                metadata:
                  name: default
                spec:
                  subject:
                    namespaces: {}
                  ingress:
                  - action: Deny
                    from:
                    - namespaces: {matchLabels: {env: dev}}
                ---

                """
        }
        for node in 0..<50 {
            out += "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-\(node)\nstatus:\n  addresses:\n  - type: InternalIP\n    address: 192.168.\(node / 250).\(node % 250 + 1)\n---\n"
        }
        return out
    }
}
