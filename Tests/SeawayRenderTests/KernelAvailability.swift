import SeawayTestSupport
import Testing

extension ThrowawayNamespace {
    /// What the rule validation tests need besides root.
    static var available: Bool {
        available(requiring: ["/usr/sbin/nft", "/usr/sbin/iptables-restore", "/usr/sbin/nfacct", "/usr/sbin/ipset"])
    }

    static let unavailableReason: Comment =
        "SKIPPED LOUDLY: kernel validation needs root and ip, nft, iptables-restore, nfacct and ipset (CI runs as root)"

    typealias CommandFailed = SeawayTestSupport.CommandFailed
}
