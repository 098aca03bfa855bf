/// The CNI_* environment a plugin is called with, checked per command as the reference
/// plugins' skeleton checks it.
public struct CNIEnvironment: Sendable {
    public enum Command: String, Sendable, CaseIterable {
        case add = "ADD", del = "DEL", check = "CHECK", version = "VERSION", gc = "GC", status = "STATUS"
    }

    public var command: Command
    public var containerID: String
    public var netns: String
    public var ifname: String
    /// `CNI_ARGS`: `K=V;K2=V2`, in order.
    public var args: [(String, String)]
    public var path: [String]

    /// Reads `environment`; CNI error 4 naming every required variable that is missing.
    public init(_ environment: [String: String]) throws(CNIError) {
        guard let raw = environment["CNI_COMMAND"], !raw.isEmpty else {
            throw CNIError(.invalidEnvironment, "required env variables [CNI_COMMAND] missing")
        }
        guard let command = Command(rawValue: raw) else {
            throw CNIError(.invalidEnvironment, "unknown CNI_COMMAND: \(raw)")
        }
        self.command = command
        let required: [String]
        switch command {
        case .add, .check: required = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]
        case .del: required = ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]
        case .gc, .status: required = ["CNI_PATH"]
        case .version: required = []
        }
        let missing = required.filter { (environment[$0] ?? "").isEmpty }
        if !missing.isEmpty {
            throw CNIError(.invalidEnvironment, "required env variables [\(missing.joined(separator: ","))] missing")
        }
        containerID = environment["CNI_CONTAINERID"] ?? ""
        netns = environment["CNI_NETNS"] ?? ""
        ifname = environment["CNI_IFNAME"] ?? ""
        path = (environment["CNI_PATH"] ?? "").split(separator: ":").map(String.init)
        var args: [(String, String)] = []
        for pair in (environment["CNI_ARGS"] ?? "").split(separator: ";") where !pair.isEmpty {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw CNIError(.invalidEnvironment, "CNI_ARGS: '\(pair)' is not KEY=VALUE")
            }
            args.append((String(pair[..<eq]), String(pair[pair.index(after: eq)...])))
        }
        self.args = args
        if command == .add || command == .check || command == .del, !CNIEnvironment.isValidIfname(ifname) {
            throw CNIError(.invalidEnvironment, "CNI_IFNAME: '\(ifname)' is not a valid interface name")
        }
    }

    /// CNI_ARGS may only carry `known` keys unless it says `IgnoreUnknown=1` (or `true`), as
    /// the reference plugins' argument loader requires (runtimes pass `IgnoreUnknown=1`).
    public func requireKnownArgs(_ known: Set<String>) throws(CNIError) {
        if let ignore = arg("IgnoreUnknown")?.lowercased(), ignore == "1" || ignore == "true" { return }
        let unknown = args.map(\.0).filter { $0 != "IgnoreUnknown" && !known.contains($0) }
        if !unknown.isEmpty {
            throw CNIError(.invalidEnvironment, "CNI_ARGS: unknown args [\(unknown.map { "\"\($0)\"" }.joined(separator: " "))]")
        }
    }

    /// The value of `key` in CNI_ARGS.
    public func arg(_ key: String) -> String? { args.last { $0.0 == key }?.1 }

    /// Linux interface names: 1-15 bytes, no '/', ':' or whitespace, not '.' or '..'.
    public static func isValidIfname(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count < 16 && name != "." && name != ".."
            && !bytes.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 || $0 == 0x7f }
    }
}
