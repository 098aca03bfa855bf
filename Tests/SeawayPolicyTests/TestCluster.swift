import SeawayModel
import SeawayPolicy

/// The upstream e2e suite's cluster: namespaces x, y, z (labelled ns=x ...), pods a, b, c in
/// each (labelled pod=a ...) serving 80/TCP ("serve-80-tcp"), 81/TCP, 80/UDP and 81/SCTP.
/// Pods of x run on node-1 (192.168.0.1), the others on node-2 (192.168.0.2).
let base: String = {
    var docs: [String] = []
    for (n, ns) in ["x", "y", "z"].enumerated() {
        docs.append("apiVersion: v1\nkind: Namespace\nmetadata: {name: \(ns), labels: {ns: \(ns)}}")
        for (p, pod) in ["a", "b", "c"].enumerated() {
            docs.append("""
                apiVersion: v1
                kind: Pod
                metadata: {name: \(pod), namespace: \(ns), labels: {pod: \(pod)}}
                spec:
                  nodeName: \(ns == "x" ? "node-1" : "node-2")
                  containers:
                  - name: c
                    ports:
                    - {name: serve-80-tcp, containerPort: 80}
                    - {name: serve-81-tcp, containerPort: 81}
                    - {name: serve-80-udp, containerPort: 80, protocol: UDP}
                    - {name: serve-81-sctp, containerPort: 81, protocol: SCTP}
                status: {podIP: 10.0.\(n).\(p + 1)}
                """)
        }
    }
    for (i, node) in ["node-1", "node-2"].enumerated() {
        docs.append("apiVersion: v1\nkind: Node\nmetadata: {name: \(node)}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.\(i + 1)}]}")
    }
    docs.append("""
        apiVersion: v1
        kind: Pod
        metadata: {name: agent, namespace: z, labels: {pod: agent}}
        spec: {nodeName: node-1, hostNetwork: true}
        status: {podIP: 192.168.0.1}
        """)
    return docs.joined(separator: "\n---\n")
}()

func evaluator(_ policies: String = "") throws -> PolicyEvaluator {
    var state = ClusterState()
    try ManifestDecoder().decode(base + (policies.isEmpty ? "" : "\n---\n" + policies), file: "test.yaml", into: &state)
    return PolicyEvaluator(cluster: state)
}

func allowed(_ e: PolicyEvaluator, _ from: String, _ to: String, _ port: Int = 80,
                     _ proto: L4Protocol = .tcp) throws -> Bool {
    try e.check(from: e.endpoint(from), to: e.endpoint(to), port: .number(port), proto: proto).allowed
}

func policy(_ name: String, ns: String = "x", _ spec: String) -> String {
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: \(name), namespace: \(ns)}\nspec:\n"
        + spec.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n")
}
