import Foundation
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayRender
import Testing

/// The package root, found from this file's path so tests run from any directory.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A fixture directory: the demo cluster (`Fixtures/demo`, manifests in `cluster/`) or one
/// under `Fixtures/render` (manifests in `manifests/`); each with an optional `host.yaml`, an
/// optional `kube-proxy.yaml` (or `kube-proxy.<mode>.yaml` for one mode), and `<mode>.golden`.
struct RenderFixture: CustomTestStringConvertible, Sendable {
    /// Path under `Fixtures/`.
    let path: String
    var dir: URL { packageRoot.appendingPathComponent("Fixtures/\(path)") }
    var testDescription: String { path }

    init(name: String) { path = "render/\(name)" }
    init(path: String) { self.path = path }

    static var all: [RenderFixture] {
        let root = packageRoot.appendingPathComponent("Fixtures/render")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return [RenderFixture(path: "demo")] + names.sorted().map(RenderFixture.init(name:))
    }

    var manifestsDir: URL {
        let cluster = dir.appendingPathComponent("cluster")
        return FileManager.default.fileExists(atPath: cluster.path) ? cluster : dir.appendingPathComponent("manifests")
    }

    func file(_ name: String) -> String? {
        let path = dir.appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    func cluster() throws -> ClusterState {
        try ManifestLoader().load([manifestsDir.path])
    }

    func options(_ mode: ProxyMode, cluster: ClusterState) throws -> ProxyOptions {
        let configPath = file("kube-proxy.\(mode.rawValue).yaml") ?? file("kube-proxy.yaml")
        let config = try configPath.map { try KubeProxyConfiguration.decode(String(contentsOfFile: $0, encoding: .utf8), file: $0) }
        let host = try file("host.yaml").map { try HostDescription.decode(String(contentsOfFile: $0, encoding: .utf8), file: $0) }
        return try ProxyOptions.resolve(mode: mode, flags: ProxyFlags(), config: config, host: host, cluster: cluster)
    }

    /// Renders `mode` the way `seaway render` prints it.
    func render(_ mode: ProxyMode) throws -> String {
        let cluster = try cluster()
        let rulesets = try RulesetRenderer.render(mode: mode, cluster: cluster, options: options(mode, cluster: cluster))
        if rulesets.count == 1 { return rulesets[0].text }
        return rulesets.map { "# seaway: \($0.family.rawValue) rules (\($0.loader))\n" + $0.text }.joined()
    }
}

/// Compares `actual` with the golden file at `path`. With SEAWAY_RECORD_GOLDENS=1 the file
/// is rewritten instead (and the test still fails, so a recording run is never green by accident).
func assertGolden(_ actual: String, path: URL, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    if ProcessInfo.processInfo.environment["SEAWAY_RECORD_GOLDENS"] == "1" {
        try? actual.write(to: path, atomically: true, encoding: .utf8)
        Issue.record("recorded \(path.lastPathComponent); rerun without SEAWAY_RECORD_GOLDENS", sourceLocation: sourceLocation)
        return
    }
    guard let expected = try? String(contentsOf: path, encoding: .utf8) else {
        Issue.record("missing golden \(path.path) (record with SEAWAY_RECORD_GOLDENS=1)", sourceLocation: sourceLocation)
        return
    }
    if actual == expected { return }
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let i = (0..<min(a.count, e.count)).first { a[$0] != e[$0] } ?? min(a.count, e.count)
    Issue.record("""
        \(path.lastPathComponent) differs at line \(i + 1):
          expected: \(i < e.count ? String(e[i]) : "<end>")
          actual:   \(i < a.count ? String(a[i]) : "<end>")
        """, sourceLocation: sourceLocation)
}
