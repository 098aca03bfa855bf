import SeawayProxyCore

/// Deletes stale UDP conntrack entries with the `conntrack` tool (conntrack-tools), after the
/// sync that made them stale has landed. No matching entry is not an error.
public struct ConntrackCleaner {
    let tools: NetfilterTools

    public init(environment: [String: String]) { tools = NetfilterTools(environment: environment) }

    /// Runs one deletion per entry; returns the ones that failed, with why.
    public func delete(_ entries: [StaleConntrack]) -> [(StaleConntrack, DataplaneError)] {
        var failures: [(StaleConntrack, DataplaneError)] = []
        for entry in entries {
            do {
                try tools.run("conntrack", entry.conntrackArguments, allowedStatus: [0, 1])
            } catch {
                failures.append((entry, error))
            }
        }
        return failures
    }
}
