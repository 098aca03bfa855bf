import SeawayModel
import SeawayProxyCore

/// One family's rendered rules in one mode.
public enum Ruleset: Sendable, Hashable {
    case iptables(IPTablesRuleset)
    case nftables(NFTablesRuleset)
    case ipvs(IPVSRuleset)
    case userspace(UserspaceRuleset)

    public var family: IPFamily {
        switch self {
        case let .iptables(r): return r.family
        case let .nftables(r): return r.family
        case let .ipvs(r): return r.family
        case let .userspace(r): return r.family
        }
    }

    /// Exactly what the kernel tool reads, as bytes.
    public var bytes: [UInt8] {
        switch self {
        case let .iptables(r): return r.bytes
        case let .nftables(r): return r.bytes
        case let .ipvs(r): return Array(r.text.utf8)
        case let .userspace(r): return r.bytes
        }
    }

    /// `bytes` in order, a chunk at a time: what writes a large ruleset out without
    /// joining it into one array first.
    public func forEachChunk<E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> Void) throws(E) {
        switch self {
        case let .iptables(r): try r.forEachChunk(body)
        case let .nftables(r): try r.forEachChunk(body)
        case .ipvs, .userspace: try bytes.withUnsafeBufferPointer { (b) throws(E) in try body(b) }
        }
    }

    /// Exactly what the kernel tool reads (`iptables-restore` / `nft -f`).
    public var text: String {
        switch self {
        case let .iptables(r): return r.text
        case let .nftables(r): return r.text
        case let .ipvs(r): return r.text
        case let .userspace(r): return r.text
        }
    }

    /// iptables chains in canonical (sorted) order; nftables output is already sorted.
    public func sortedCanonically() -> Ruleset {
        switch self {
        case let .iptables(r): return .iptables(r.sortedCanonically())
        case .nftables, .userspace: return self
        case var .ipvs(r):
            r.iptables = r.iptables.sortedCanonically()
            return .ipvs(r)
        }
    }

    /// The tool that loads `text` for this family.
    public var loader: String {
        switch self {
        case .iptables: return family == .ipv4 ? "iptables-restore" : "ip6tables-restore"
        case .nftables, .userspace: return "nft -f"
        case .ipvs: return "ipvsadm-restore, ip -batch, ipset restore, iptables-restore"
        }
    }
}

/// Model -> per-node service map -> rendered ruleset, for every family the node proxies
/// (in nftables mode with shard tables, each family's tables one after the other).
public enum RulesetRenderer {
    public static func render(mode: ProxyMode, cluster: ClusterState, options: ProxyOptions) throws -> [Ruleset] {
        try ServiceMap.families(cluster: cluster, options: options).flatMap { family -> [Ruleset] in
            let map = ServiceMap(cluster: cluster, options: options, family: family)
            switch mode {
            case .iptables: return [.iptables(IPTablesRenderer().render(map))]
            case .nftables: return NFTablesRenderer().render(map).map(Ruleset.nftables)
            case .ipvs: return [.ipvs(IPVSRenderer().render(map))]
            case .userspace:
                // A fresh allocator gives the ports a fresh agent takes (ProxyPortAllocator).
                var ports = ProxyPortAllocator(range: options.userspacePortRange)
                return [.userspace(try UserspaceRenderer().render(map, allocator: &ports))]
            }
        }
    }
}

/// What a partial sync writes when the cluster goes from one state to another.
public enum PartialSync {
    public struct UnsupportedMode: Error, CustomStringConvertible {
        public var description: String { "--payload is available for --mode iptables and nftables" }
    }

    /// The payload kube-proxy's partial sync would write, per family: an iptables-restore
    /// payload (top-level chains and changed chains) or an `nft -f` transaction.
    public static func payloads(mode: ProxyMode, old: ClusterState, new: ClusterState,
                                options: ProxyOptions) throws -> [(family: IPFamily, text: String)] {
        let changes = old.changes(to: new)
        return try ServiceMap.families(cluster: new, options: options).map { family in
            var state = ProxyState(cluster: old, options: options, family: family)
            switch mode {
            case .iptables:
                var sync = IPTablesSync(state.serviceMap)
                var changed: Set<ServicePortName> = []
                for c in changes { changed.formUnion(state.apply(c)) }
                return (family, sync.update(state, changed: changed).text)
            case .nftables:
                var sync = NFTablesSync(state.serviceMap)
                var changed: Set<ServicePortName> = []
                for c in changes { changed.formUnion(state.apply(c)) }
                return (family, sync.update(state, changed: changed).text)
            case .ipvs, .userspace:
                throw UnsupportedMode()
            }
        }
    }
}
