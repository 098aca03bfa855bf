import SeawayCNI
import SeawayIPAM
import SeawayKernel

/// Another plugin run for this one (the IPAM plugin), given the same configuration bytes
/// and environment with only CNI_COMMAND changed, as the reference's `invoke.Delegate*`
/// does: found on CNI_PATH and executed, except our own `seaway-ipam`, whose code runs in
/// this process (the same code, the same files on disk, one process start less per ADD
/// and DEL: about 3 ms).
struct DelegatedPlugin {
    let type: String
    let request: CNIRequest
    let environment: [String: String]

    static let inProcessType = "seaway-ipam"

    func add() throws(CNIError) -> CNIResult {
        if type == DelegatedPlugin.inProcessType { return try HostLocalPlugin().add(request(.add)) }
        let output = try execute(.add)
        let doc = try JSONValue.parse(output, what: "\(type)'s result")
        return try CNIResult(reading: JSONReader(doc))
    }

    /// DEL, CHECK, GC or STATUS.
    func run(_ command: CNIEnvironment.Command) throws(CNIError) {
        guard type == DelegatedPlugin.inProcessType else {
            _ = try execute(command)
            return
        }
        let plugin = HostLocalPlugin(), r = request(command)
        switch command {
        case .del: try plugin.del(r)
        case .check: try plugin.check(r)
        case .gc: try plugin.gc(r)
        case .status: try plugin.status(r)
        case .add, .version: break
        }
    }

    private func request(_ command: CNIEnvironment.Command) -> CNIRequest {
        var r = request
        r.environment.command = command
        return r
    }

    /// Executes the plugin; its own error document comes back as the same CNIError.
    private func execute(_ command: CNIEnvironment.Command) throws(CNIError) -> [UInt8] {
        guard let path = Subprocess.find(type, in: request.environment.path) else {
            throw CNIError(.invalidConfig, "ipam.type: failed to find plugin \"\(type)\" in path [\(request.environment.path.joined(separator: " "))]")
        }
        var env = environment
        env["CNI_COMMAND"] = command.rawValue
        let outcome: Subprocess.Outcome
        do {
            outcome = try Subprocess.run(path, environment: env, input: request.rawConfig)
        } catch {
            throw CNIError(.generic, "failed to run \(type)", details: error.description)
        }
        guard outcome.status == 0 else {
            if let doc = try? JSONValue.parse(outcome.stdout, what: "\(type)'s error"), case let .number(code)? = doc["code"],
               case let .string(msg)? = doc["msg"] {
                var details: String? = nil
                if case let .string(d)? = doc["details"] { details = d }
                throw CNIError(CNIError.Code(rawValue: Int(code)), msg, details: details)
            }
            throw CNIError(.generic, "\(type) \(command.rawValue) failed with status \(outcome.status)",
                           details: String(decoding: outcome.stdout, as: UTF8.self))
        }
        return outcome.stdout
    }
}
