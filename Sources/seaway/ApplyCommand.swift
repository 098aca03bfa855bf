import ArgumentParser
import SeawayDataplane
import SeawayKernel
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayRender

extension NFTablesApplier.Transport: ExpressibleByArgument {}

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Program the rules `render` prints into this network namespace (one full sync).",
        discussion: """
            iptables mode: one iptables-save and one iptables-restore --noflush per IP family:
            every chain rewritten, stale service chains deleted, kube-proxy's jumps from the
            built-in chains inserted where missing. nftables mode: the kube-proxy tables
            replaced in one transaction. ipvs mode: refused on a kernel without IPVS, before
            anything changes; otherwise the ipsets (each swapped in whole), the iptables
            rules, the kube-ipvs0 addresses and the virtual servers that differ from what the
            kernel has (IPVS over generic netlink). Without --host, what kube-proxy would probe (interface addresses,
            nfacct counters) is read from this namespace. Bad input changes nothing.
            """)

    @Option(help: "iptables, nftables, ipvs or userspace.")
    var mode: ProxyMode

    @OptionGroup var proxy: ProxyInputOptions

    @Option(help: "How nftables rules reach the kernel: netlink (one libnftnl batch) or nft (nft -f of the same text).")
    var nftablesTransport: NFTablesApplier.Transport = .netlink

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories (YAML or JSON); '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws { try source.validate(manifests: manifests) }

    func run() throws {
        try reportingErrors {
            let cluster = try source.load(manifests)
            let environment = ProcessIO.environment()
            // Before anything changes (nfacct counters included).
            if mode == .ipvs { try IPVSApplier.requireIPVS() }
            var options = try proxy.resolve(mode: mode, cluster: cluster) {
                try NodeProbe.host(nodeName: proxy.hostnameOverride, nodeIPs: nil, environment: environment)
            }
            // Counters a --host file lists must exist before rules name them: create them, as
            // kube-proxy does, and leave out any this kernel cannot count with.
            options.nfacctCounters = Set(NodeProbe.ensureCounters(NFAcctCounter.all.filter(options.nfacctCounters.contains),
                                                                  environment: environment))
            let rulesets = try RulesetRenderer.render(mode: mode, cluster: cluster, options: options)
            switch mode {
            case .iptables:
                let tables = rulesets.compactMap { r -> IPTablesRuleset? in if case let .iptables(t) = r { return t } else { return nil } }
                let plans = try IPTablesApplier(environment: environment).apply(tables)
                for plan in plans {
                    let r = plan.ruleset
                    printNotice("applied iptables (\(r.family.rawValue)): \(r.filter.chainCount + r.nat.chainCount) chains, "
                                + "\(plan.missingJumps.count) jump rules added, \(r.filter.deletedChains.count + r.nat.deletedChains.count) stale chains deleted")
                }
            case .nftables:
                let tables = rulesets.compactMap { r -> NFTablesRuleset? in if case let .nftables(t) = r { return t } else { return nil } }
                try NFTablesApplier(environment: environment, transport: nftablesTransport).apply(tables)
                for t in tables { printNotice("applied nftables (\(t.family.rawValue)): \(t.chainCount) chains, \(t.containers.count) sets and maps") }
            case .ipvs:
                let tables = rulesets.compactMap { r -> IPVSRuleset? in if case let .ipvs(t) = r { return t } else { return nil } }
                let plan = try IPVSApplier.apply(tables, nodeIPs: options.nodeIPs, to: KernelIPVS(environment: environment))
                printNotice("applied ipvs: \(tables.reduce(0) { $0 + $1.virtualServers.count }) virtual servers "
                            + "(\(plan.messages.count) IPVS messages), \(plan.bind.count) addresses bound to \(IPVSRuleset.dummyDevice) "
                            + "and \(plan.unbind.count) unbound, \(tables.reduce(0) { $0 + $1.ipsets.count }) ipsets")
            case .userspace:
                throw DataplaneError("userspace mode redirects to a running proxy: use `seaway proxy --mode userspace --watch DIR`; nothing was changed")
            }
        }
    }
}

struct CleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove the rules kube-proxy (or seaway apply) made in this network namespace.",
        discussion: """
            iptables: kube-proxy's CleanupLeftovers (its jumps, its fixed chains and every
            service chain; KUBE-MARK-MASQ and KUBE-FIREWALL stay, as the kubelet shares them).
            nftables: both families' kube-proxy tables. ipvs: its iptables rules (as iptables),
            every IPVS virtual server (as kube-proxy's cleanup), kube-ipvs0 and the KUBE- ipsets.
            userspace: both families' seaway-userspace tables.
            """)

    @Option(help: "iptables, nftables, ipvs or userspace.")
    var mode: ProxyMode

    func run() throws {
        try reportingErrors {
            let environment = ProcessIO.environment()
            switch mode {
            case .iptables: try IPTablesApplier(environment: environment).cleanup()
            case .ipvs: try IPVSApplier.cleanup(KernelIPVS(environment: environment))
            case .nftables: try NFTablesApplier(environment: environment).cleanup()
            case .userspace: try NFTablesApplier(environment: environment).cleanup(table: UserspaceRenderer.table)
            }
            printNotice("removed kube-proxy's \(mode.rawValue) rules")
        }
    }
}
