import Testing
@testable import SeawayProxyAgent

/// The sync-failure counter carries the name kube-proxy's mode of the same name exports.
@Suite struct ProxyMetricsTests {
    @Test(arguments: [("iptables", "iptables_restore"), ("ipvs", "iptables_restore"), ("nftables", "nftables_sync"),
                      ("userspace", "nftables_sync")])
    func syncFailuresAreNamedAsKubeProxysModeNamesThem(_ mode: String, _ kind: String) {
        let metrics = ProxyMetrics(mode: mode)
        metrics.syncFailures.increment()
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains("kubeproxy_sync_proxy_rules_\(kind)_failures_total 1"), "\(text)")
        #expect(text.contains("kubeproxy_sync_full_proxy_rules_duration_seconds_count"))
    }
}
