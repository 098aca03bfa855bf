import SeawayModel
import SeawayNetlink
import SeawayRender

/// What the kernel holds of IPVS mode before a sync.
public struct IPVSKernelState: Sendable, Equatable {
    /// The addresses on the `kube-ipvs0` device (none when there is no device yet).
    public var boundAddresses: [IPAddress]
    /// Every virtual server the kernel has, with its real servers.
    public var virtualServers: [IPVSRuleset.VirtualServer]

    public init(boundAddresses: [IPAddress] = [], virtualServers: [IPVSRuleset.VirtualServer] = []) {
        self.boundAddresses = boundAddresses
        self.virtualServers = virtualServers
    }
}

/// One IPVS-mode sync, worked out before anything is touched: the addresses to bind to and
/// unbind from `kube-ipvs0`, the ipsets as one `ipset restore` input, and the generic
/// netlink messages that move the virtual servers from what the kernel has to what was
/// rendered. Pure.
public struct IPVSSyncPlan: Sendable {
    public var bind: [IPAddress]
    public var unbind: [IPAddress]
    /// `ipset -exist restore` input: every set replaced whole and at once (`IPSetSwap`).
    public var ipsetRestore: String
    public var messages: [[UInt8]]

    /// `nodeIPs` are the addresses NodePort virtual servers listen on. Virtual servers on
    /// those, on `kube-ipvs0`'s addresses, or on an address the rulesets use belong to this
    /// mode and are synced; any other virtual server in the kernel is someone else's and is
    /// left alone (kube-proxy draws the same line).
    public init(from kernel: IPVSKernelState, to rulesets: [IPVSRuleset], nodeIPs: [IPAddress], family: UInt16) {
        let wanted = rulesets.flatMap(\.dummyAddresses)
        let wantedSet = Set(wanted), bound = Set(kernel.boundAddresses)
        bind = wanted.filter { !bound.contains($0) }
        unbind = kernel.boundAddresses.filter { !wantedSet.contains($0) }

        let new = rulesets.flatMap(\.virtualServers)
        let owned = bound.union(nodeIPs).union(new.map(\.address))
        let old = kernel.virtualServers.filter { owned.contains($0.address) }
        messages = IPVSApplier.messages(from: old, to: new, family: family)
        ipsetRestore = IPSetSwap.restoreText(rulesets.flatMap(\.ipsets))
    }
}

/// ipsets replaced whole: each set's new entries go into a scratch set of the same type,
/// which then swaps places with it (`ipset swap`), so a packet matched against a set sees
/// either the old entries or the new ones, never a set half refilled.
enum IPSetSwap {
    /// `ipset -exist restore` input for `sets` (created if missing, then refilled). The
    /// scratch set's name is this mode's own and short enough for ipset's 31 characters.
    static func restoreText(_ sets: [IPVSRuleset.IPSet]) -> String {
        let scratch = "SEAWAY-SWAP"
        var out = ""
        for set in sets {
            let kind = "\(set.type) \(set.options)"
            out += "create \(set.name) \(kind)\n"
            // A scratch set left by an interrupted run is reused: -exist, then emptied.
            out += "create \(scratch) \(kind)\n"
            out += "flush \(scratch)\n"
            for entry in set.entries { out += "add \(scratch) \(entry)\n" }
            out += "swap \(set.name) \(scratch)\n"
            out += "destroy \(scratch)\n"
        }
        return out
    }
}
