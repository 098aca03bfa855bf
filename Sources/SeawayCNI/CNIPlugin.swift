/// One invocation of a plugin: its environment and its network configuration.
public struct CNIRequest: Sendable {
    public var environment: CNIEnvironment
    /// The configuration as parsed.
    public var config: JSONValue
    /// The configuration exactly as it came on stdin: what a delegated plugin (IPAM) gets.
    public var rawConfig: [UInt8]
    /// The `cniVersion` the configuration asks for; results and errors are in its shape.
    public var version: String

    public init(environment: CNIEnvironment, config: JSONValue, rawConfig: [UInt8], version: String) {
        self.environment = environment
        self.config = config
        self.rawConfig = rawConfig
        self.version = version
    }
}

/// What a CNI plugin implements; `CNIPluginRunner` does the protocol around it.
public protocol CNIPlugin {
    /// ADD: the result.
    func add(_ request: CNIRequest) throws(CNIError) -> CNIResult
    /// DEL: must succeed when what it would remove is already gone.
    func del(_ request: CNIRequest) throws(CNIError)
    func check(_ request: CNIRequest) throws(CNIError)
    /// GC (1.1.0): release everything not in `cni.dev/valid-attachments`.
    func gc(_ request: CNIRequest) throws(CNIError)
    /// STATUS (1.1.0): throw 50/51 when ADDs cannot be served.
    func status(_ request: CNIRequest) throws(CNIError)
}

/// The CNI protocol around a plugin: environment, the config on stdin, the version check,
/// the result or error document on stdout, and the exit status.
public enum CNIPluginRunner {
    public struct Outcome: Sendable {
        public var stdout: String
        public var exitCode: Int32
    }

    public static func run(_ plugin: some CNIPlugin, environment: [String: String], stdin: [UInt8]) -> Outcome {
        var version = CNIVersion.newest
        do throws(CNIError) {
            let env = try CNIEnvironment(environment)
            if env.command == .version {
                // As the reference skeleton prints it: one compact line.
                return Outcome(stdout: CNIVersion.versionInfo.compactText + "\n", exitCode: 0)
            }
            let config = try JSONValue.parse(stdin, what: "the network configuration on stdin")
            guard case .object = config else { throw CNIError(.decodingFailure, "the network configuration is not a JSON object") }
            let requested = try JSONReader(config).string("cniVersion") ?? "0.1.0"
            guard CNIVersion.isSupported(requested) else {
                let supported = CNIVersion.supported.map { "\"\($0)\"" }.joined(separator: " ")
                throw CNIError(.incompatibleVersion, "incompatible CNI versions",
                               details: "config is \"\(requested)\", plugin supports [\(supported)]")
            }
            version = requested
            let request = CNIRequest(environment: env, config: config, rawConfig: stdin, version: version)
            switch env.command {
            case .add:
                let result = try plugin.add(request)
                // No trailing newline: the reference plugins print none.
                return Outcome(stdout: result.json(version: version).text, exitCode: 0)
            case .del:
                try plugin.del(request)
            case .check:
                guard CNIVersion.atLeast(version, "0.4.0") else {
                    throw CNIError(.incompatibleVersion, "config version \(version) does not allow CHECK")
                }
                try plugin.check(request)
            case .gc:
                guard CNIVersion.atLeast(version, "1.1.0") else {
                    throw CNIError(.incompatibleVersion, "config version \(version) does not allow GC")
                }
                try plugin.gc(request)
            case .status:
                guard CNIVersion.atLeast(version, "1.1.0") else {
                    throw CNIError(.incompatibleVersion, "config version \(version) does not allow STATUS")
                }
                try plugin.status(request)
            case .version:
                break
            }
            return Outcome(stdout: "", exitCode: 0)
        } catch {
            return Outcome(stdout: error.json(version: version).text, exitCode: 1)
        }
    }
}
