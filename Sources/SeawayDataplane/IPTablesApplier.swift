import SeawayKernel
import SeawayModel
import SeawayRender

/// iptables mode on the kernel, through the iptables tools (kube-proxy's way): per IP
/// family, one `iptables-save` to see what is there, then one `iptables-restore --noflush`
/// with the whole ruleset, its stale service chains deleted and the missing jumps from the
/// built-in chains inserted (IPTablesApplyPlan). One restore is one transaction: if it
/// fails, that family's rules stay as they were.
public struct IPTablesApplier {
    let tools: NetfilterTools

    public init(environment: [String: String]) { tools = NetfilterTools(environment: environment) }

    static func save(_ family: IPFamily) -> String { family == .ipv4 ? "iptables-save" : "ip6tables-save" }
    static func restore(_ family: IPFamily) -> String { family == .ipv4 ? "iptables-restore" : "ip6tables-restore" }

    public func saved(_ family: IPFamily) throws(DataplaneError) -> IPTablesSaved {
        IPTablesSaved(String(decoding: try tools.run(Self.save(family), []), as: UTF8.self))
    }

    /// Applies `rulesets` (one per family) and returns the plans it applied.
    @discardableResult
    public func apply(_ rulesets: [IPTablesRuleset]) throws(DataplaneError) -> [IPTablesApplyPlan] {
        var plans: [IPTablesApplyPlan] = []
        for ruleset in rulesets {
            let plan = IPTablesApplyPlan(rendered: ruleset, saved: try saved(ruleset.family))
            try tools.run(Self.restore(ruleset.family), ["--noflush", "--wait"], input: plan.bytes)
            plans.append(plan)
        }
        return plans
    }

    /// Restores `payload` as it is (`--noflush`): chains it names are rewritten, the rest stay.
    public func restore(_ payload: IPTablesRuleset) throws(DataplaneError) {
        try tools.run(Self.restore(payload.family), ["--noflush", "--wait"], input: payload.bytes)
    }

    /// Removes what kube-proxy's iptables mode makes (IPTablesCleanupPlan), one restore per
    /// family.
    public func cleanup() throws(DataplaneError) {
        for family in [IPFamily.ipv4, .ipv6] {
            let payload = IPTablesCleanupPlan.payload(try saved(family))
            if !payload.isEmpty { try tools.run(Self.restore(family), ["--noflush", "--wait"], input: payload) }
        }
    }
}
