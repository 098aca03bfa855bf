import Foundation
import SeawayKube
import SeawayModel
import Testing
import Yams

/// docs/deploy stays true: the ClusterRole grants exactly what the agent lists and watches,
/// and the ConfigMap is a configuration `--config` reads.
@Suite struct DeployManifestTests {
    static let deploy = InformerTests.root.appendingPathComponent("docs/deploy")

    @Test func theClusterRoleGrantsWhatTheAgentWatchesAndNoMore() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("rbac.yaml"), encoding: .utf8)
        var granted: Set<String> = []
        for case let doc as [String: Any] in try Yams.load_all(yaml: text) where doc["kind"] as? String == "ClusterRole" {
            for case let rule as [String: Any] in doc["rules"] as? [Any] ?? [] {
                #expect(Set(rule["verbs"] as? [String] ?? []) == ["list", "watch"])
                for group in rule["apiGroups"] as? [String] ?? [] {
                    for resource in rule["resources"] as? [String] ?? [] { granted.insert(group.isEmpty ? resource : "\(group)/\(resource)") }
                }
            }
        }
        let watched = Set(KubeResource.proxy(node: "n").map { r -> String in
            let parts = r.path.split(separator: "/")  // api/v1/x or apis/group/version/x
            return parts[0] == "api" ? String(parts[2]) : "\(parts[1])/\(parts[3])"
        })
        #expect(granted == watched)
    }

    @Test func theConfigMapIsAKubeProxyConfiguration() throws {
        let file = Self.deploy.appendingPathComponent("configmap.yaml").path
        let c = try KubeProxyConfiguration.decode(try String(contentsOfFile: file, encoding: .utf8), file: file)
        #expect(c.mode == "nftables" && c.clusterCIDR == "10.244.0.0/16")
        let daemonset = try String(contentsOf: Self.deploy.appendingPathComponent("daemonset.yaml"), encoding: .utf8)
        #expect(daemonset.contains("--config=/etc/seaway/config.conf") && daemonset.contains("add: [NET_ADMIN, NET_RAW]"))
    }
}
