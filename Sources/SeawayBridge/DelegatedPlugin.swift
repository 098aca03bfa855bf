import SeawayCNI
import SeawayKernel

/// Another plugin run for this one (the IPAM plugin), found on CNI_PATH and given the same
/// configuration bytes and environment, with only CNI_COMMAND changed, as the reference's
/// `invoke.Delegate*` does.
struct DelegatedPlugin {
    let type: String
    let request: CNIRequest
    let environment: [String: String]

    /// Runs `command`; the plugin's own error document comes back as the same CNIError.
    func run(_ command: String) throws(CNIError) -> [UInt8] {
        guard let path = Subprocess.find(type, in: request.environment.path) else {
            throw CNIError(.invalidConfig, "ipam.type: failed to find plugin \"\(type)\" in path [\(request.environment.path.joined(separator: " "))]")
        }
        var env = environment
        env["CNI_COMMAND"] = command
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
            throw CNIError(.generic, "\(type) \(command) failed with status \(outcome.status)",
                           details: String(decoding: outcome.stdout, as: UTF8.self))
        }
        return outcome.stdout
    }

    func add() throws(CNIError) -> CNIResult {
        let output = try run("ADD")
        let doc = try JSONValue.parse(output, what: "\(type)'s result")
        return try CNIResult(reading: JSONReader(doc))
    }
}
