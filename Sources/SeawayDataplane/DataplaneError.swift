import SeawayKernel

/// Why applying rules failed; thrown before anything changed unless it says otherwise.
public struct DataplaneError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }

    init(_ what: String, _ error: SystemError) { description = "\(what): \(error)" }
}

/// Finds and runs the netfilter tools (iptables-restore, nft, nfacct) from PATH.
struct NetfilterTools {
    let environment: [String: String]

    var searchPath: [String] {
        ((environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin").split(separator: ":").map(String.init)
    }

    func path(_ tool: String) throws(DataplaneError) -> String {
        guard let p = Subprocess.find(tool, in: searchPath) else {
            throw DataplaneError("\(tool) not found on PATH (Debian: apt install iptables nftables nfacct conntrack)")
        }
        return p
    }

    /// Runs `tool` and returns its stdout; a failure carries the tool's own stderr.
    @discardableResult
    func run(_ tool: String, _ arguments: [String], input: [UInt8] = [], allowedStatus: Set<Int32> = [0]) throws(DataplaneError) -> [UInt8] {
        let executable = try path(tool)
        let outcome: Subprocess.Outcome
        do {
            outcome = try Subprocess.run(executable, arguments: arguments, environment: environment, input: input, captureStderr: true)
        } catch {
            throw DataplaneError("run \(tool)", error)
        }
        guard allowedStatus.contains(outcome.status) else {
            throw DataplaneError("\(tool) \(arguments.joined(separator: " ")) failed (status \(outcome.status)): \(outcome.stderrText)")
        }
        return outcome.stdout
    }
}
