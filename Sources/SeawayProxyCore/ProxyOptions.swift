import SeawayModel

/// Everything kube-proxy reads that is not a Service or an EndpointSlice: its configuration
/// and what it would probe on the node. Passed explicitly to every renderer; no globals.
public struct ProxyOptions: Sendable, Hashable {
    public var nodeName: String = ""
    /// Primary node IPs (at most one per family).
    public var nodeIPs: [IPAddress] = []
    /// The node's labels (topology zone).
    public var nodeLabels: [String: String] = [:]
    public var masqueradeAll = false
    /// `--iptables-masquerade-bit`: the mark is `1 << bit`.
    public var masqueradeBit = 14
    public var detectLocal: DetectLocalMode = .none
    /// `--nodeport-addresses`: CIDRs, `["primary"]`, or empty for every address.
    public var nodePortAddresses: [String] = []
    /// `--iptables-localhost-nodeports`.
    public var localhostNodePorts = true
    /// Addresses on the node's interfaces (nodePortAddresses are matched against them).
    public var interfaceAddresses: [IPAddress] = []
    /// nfacct counters that exist on the node (kube-proxy only references existing ones).
    public var nfacctCounters: Set<String> = []
    /// `net.netfilter.nf_conntrack_tcp_be_liberal` is set: no INVALID-drop rule.
    public var tcpBeLiberal = false
    /// The iptables binary supports `MASQUERADE --random-fully`.
    public var iptablesRandomFully = true
    /// Service CIDRs (from ServiceCIDR objects): nftables drops traffic to unallocated ClusterIPs.
    public var serviceCIDRs: [CIDR] = []
    /// `--ipvs-scheduler`.
    public var ipvsScheduler = "rr"
    /// Seaway's opt-in nftables shape (`--nftables-shape compact`): each service chooses its
    /// endpoint with one `numgen random mod K 0 goto` rule per endpoint (the iptables mode's
    /// successive probabilities) instead of kube-proxy's anonymous verdict map per service,
    /// which the kernel is slow to bind by the thousand. Same distribution; not what kube-proxy
    /// writes, so `render` uses it only when asked.
    public var nftablesCompactEndpointSelection = false
    /// Seaway's opt-in spreading of the nftables services over this many tables besides
    /// kube-proxy's own (`--nftables-shards N`; 1, the default, is kube-proxy's one table).
    /// The kernel re-validates the whole table a commit with a jump or a NAT rule touches,
    /// so an endpoint change costs about 1/N of the cluster instead of all of it. See
    /// docs/dataplane.md.
    public var nftablesShards = 1
    /// The most tables the services may be spread over: every one is a nat hook a new
    /// connection that is not to a service passes through.
    public static let maxNFTablesShards = 64
    /// `--proxy-port-range` of the userspace mode: where its listeners go (kube-proxy's
    /// default was any free ephemeral port; Seaway's are placed by hash, see ProxyPortAllocator).
    public var userspacePortRange: ClosedRange<Int> = 10000...29999
    /// Above this many endpoints kube-proxy's iptables mode drops per-endpoint comments.
    public var largeClusterEndpointsThreshold = 1000

    public init() {}

    /// The masquerade mark as kube-proxy formats it with Go's `%#08x`, which pads the hex
    /// digits (not counting "0x") to eight: bit 14 is `0x00004000`.
    public var masqueradeMark: String {
        let hex = String(1 << masqueradeBit, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    }

    public func primaryIP(_ family: IPFamily) -> IPAddress? { nodeIPs.first { $0.family == family } }
}

/// The nfacct counter names kube-proxy's iptables mode uses.
public enum NFAcctCounter {
    public static let invalidDropped = "ct_state_invalid_dropped_pkts"
    public static let localhostNodePortAccepted = "localhost_nps_accepted_pkts"
    public static let all = [invalidDropped, localhostNodePortAccepted]
}
