import Foundation
import SeawayTestSupport
import Testing

/// `seaway dns serve --kubeconfig`: answers from a watched API server, following its changes,
/// and keeping the last good zone when it goes away.
@Suite struct DNSServeLiveTests {
    func eventually(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? condition()) == true { return }
            usleep(50_000)
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// A gauge's value from the server's /metrics.
    func metric(_ dns: DNSServerProcess, _ name: String) -> Double? {
        guard let body = httpGet(port: dns.httpPort, "/metrics")?.body else { return nil }
        for line in body.split(separator: "\n") where line.hasPrefix(name + " ") { return Double(line.split(separator: " ").last ?? "") }
        return nil
    }

    @Test func answersFollowTheWatch() throws {
        let api = try FakeAPIServer()
        defer { api.stop() }
        api.apply(.added, path: "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "default"]])
        api.apply(.added, path: "/api/v1/services", ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web", "namespace": "default"],
                                                     "spec": ["clusterIP": "10.96.0.10", "ports": [["port": 80]]]])
        let kubeconfig = NSTemporaryDirectory() + "seaway-dns-kubeconfig-\(getpid())"
        try api.writeKubeconfig(to: kubeconfig)
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }

        let dns = try DNSServerProcess(["--kubeconfig", kubeconfig], waitForLoad: false, http: true)
        defer { dns.stop() }
        try eventually("the first answer") { try dns.dig(["web.default.svc.cluster.local", "+short"]) == "10.96.0.10\n" }
        api.apply(.added, path: "/api/v1/services", ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "fresh", "namespace": "default"],
                                                     "spec": ["clusterIP": "10.96.0.77", "ports": [["port": 80]]]])
        try eventually("the watched service") { try dns.dig(["fresh.default.svc.cluster.local", "+short"]) == "10.96.0.77\n" }
        #expect(metric(dns, "seaway_dns_source_stale") == 0)
        api.stop()
        try eventually("staleness in the metrics") { metric(dns, "seaway_dns_source_stale") == 1 }
        #expect(try dns.dig(["fresh.default.svc.cluster.local", "+short"]) == "10.96.0.77\n")
        #expect(dns.stderr.contains("dns: watching \(api.url)"), "\(dns.stderr)")
    }
}
