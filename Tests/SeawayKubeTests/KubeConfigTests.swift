import Foundation
import SeawayKube
import SeawayModel
import SeawayTestSupport
import Testing

/// kubeconfig and in-cluster settings as kubectl and client-go read them.
@Suite struct KubeConfigTests {
    static let config = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: dev-cluster
          cluster:
            server: https://10.0.0.1:6443
            certificate-authority: certs/ca.crt
        - name: prod-cluster
          cluster:
            server: https://prod.example.com
            certificate-authority-data: \(Data("CA PEM".utf8).base64EncodedString())
            insecure-skip-tls-verify: false
        users:
        - name: alice
          user:
            client-certificate: /abs/alice.crt
            client-key-data: \(Data("KEY PEM".utf8).base64EncodedString())
        - name: robot
          user: {tokenFile: token}
        - name: cloud
          user: {exec: {command: aws}}
        contexts:
        - name: dev
          context: {cluster: dev-cluster, user: robot, namespace: team-a}
        - name: prod
          context: {cluster: prod-cluster, user: alice}
        - name: cloud
          context: {cluster: prod-cluster, user: cloud}
        """

    @Test func contextsClustersAndUsers() throws {
        let c = try KubeConfig.decode(Self.config, file: "/home/me/.kube/config")
        let dev = try c.select(context: nil)
        #expect(dev.context == "dev" && dev.namespace == "team-a")
        #expect(dev.cluster.server == "https://10.0.0.1:6443")
        // Relative paths are relative to the kubeconfig's directory, as kubectl reads them.
        #expect(dev.cluster.certificateAuthority == "/home/me/.kube/certs/ca.crt")
        #expect(dev.user.tokenFile == "/home/me/.kube/token")
        let prod = try c.select(context: "prod")
        #expect(prod.cluster.certificateAuthorityData == Array("CA PEM".utf8))
        #expect(prod.user.clientCertificate == "/abs/alice.crt" && prod.user.clientKeyData == Array("KEY PEM".utf8))
        #expect(prod.namespace == "default")
    }

    @Test func whatIsNotThereOrNotSupportedSaysSo() throws {
        let c = try KubeConfig.decode(Self.config, file: "k")
        let missing = #expect(throws: ManifestError.self) { try c.select(context: "staging") }
        #expect("\(missing!)".contains("no context named 'staging' (have: cloud, dev, prod)"))
        let exec = #expect(throws: ManifestError.self) { try c.select(context: "cloud") }
        #expect("\(exec!)".contains("exec credentials are not supported"))
        let bad = #expect(throws: ManifestError.self) { try KubeConfig.decode("clusters:\n- name: x\n  cluster: {}\n", file: "k") }
        #expect("\(bad!)".contains("cluster x has no server"))
        #expect(throws: ManifestError.self) { try KubeConfig.decode("", file: "k").select(context: nil) }
    }

    @Test func kubeconfigVariableFilesMergeFirstWins() throws {
        #expect(KubeConfig.files(kubeconfigVariable: "/a:/b::/c", home: "/h") == ["/a", "/b", "/c"])
        #expect(KubeConfig.files(kubeconfigVariable: nil, home: "/h") == ["/h/.kube/config"])
        let first = try KubeConfig.decode("""
            current-context: one
            clusters: [{name: c, cluster: {server: "https://first"}}]
            contexts: [{name: one, context: {cluster: c, user: u}}]
            """, file: "a")
        let second = try KubeConfig.decode("""
            current-context: two
            clusters: [{name: c, cluster: {server: "https://second"}}, {name: d, cluster: {server: "https://d"}}]
            contexts: [{name: two, context: {cluster: d, user: u}}]
            """, file: "b")
        let merged = first.merging(second)
        #expect(try merged.select(context: nil).cluster.server == "https://first")
        #expect(try merged.select(context: "two").cluster.server == "https://d")
    }

    @Test func connectionsReadTheirFiles() throws {
        let dir = NSTemporaryDirectory() + "seaway-kubeconfig-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir + "/certs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "CA".write(toFile: dir + "/certs/ca.crt", atomically: true, encoding: .utf8)
        try "tok-1\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try Self.config.write(toFile: dir + "/config", atomically: true, encoding: .utf8)

        let c = try APIServerConnection.kubeconfig(path: dir + "/config", context: nil, environment: [:])
        #expect(c.server == "https://10.0.0.1:6443" && c.certificateAuthorityPEM == Array("CA".utf8) && c.namespace == "team-a")
        #expect(c.origin == "kubeconfig \(dir)/config (context dev)")
        // KUBECONFIG when no --kubeconfig; missing entries skipped as kubectl does.
        let v = try APIServerConnection.kubeconfig(path: nil, context: nil, environment: ["KUBECONFIG": "\(dir)/missing:\(dir)/config"])
        #expect(v.server == c.server)
        // The alice context's certificate file does not exist: named in the error.
        let e = #expect(throws: KubeError.self) { try APIServerConnection.kubeconfig(path: dir + "/config", context: "prod", environment: [:]) }
        #expect(e?.description == "client-certificate /abs/alice.crt: no such file")
        #expect(throws: KubeError.self) { try APIServerConnection.kubeconfig(path: dir + "/nope", context: nil, environment: [:]) }

        // In a pod: the service account's files and the service environment.
        try FileManager.default.createDirectory(atPath: dir + "/sa", withIntermediateDirectories: true)
        try "SA CA".write(toFile: dir + "/sa/ca.crt", atomically: true, encoding: .utf8)
        try "sa-token".write(toFile: dir + "/sa/token", atomically: true, encoding: .utf8)
        try "kube-system\n".write(toFile: dir + "/sa/namespace", atomically: true, encoding: .utf8)
        let pod = try APIServerConnection.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
                                                    directory: dir + "/sa")
        #expect(pod.server == "https://[fd00::1]:443" && pod.namespace == "kube-system" && pod.certificateAuthorityPEM == Array("SA CA".utf8))
        #expect(throws: KubeError.self) { try APIServerConnection.inCluster(environment: [:], directory: dir + "/sa") }
    }
}
