/// The CNI specification versions the plugins speak, and what differs between them.
public enum CNIVersion {
    /// Oldest first. 0.1.0 and 0.2.0 results (`ip4`/`ip6` objects) are not produced.
    public static let supported = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    public static let newest = "1.1.0"

    /// Whether `version` is one we answer in.
    public static func isSupported(_ version: String) -> Bool { supported.contains(version) }

    /// Results before 1.0.0 carry `"version": "4"|"6"` on each IP.
    public static func ipsCarryVersion(_ version: String) -> Bool { compare(version, "1.0.0") < 0 }

    /// GC and STATUS came with 1.1.0; CHECK with 0.4.0.
    public static func atLeast(_ version: String, _ minimum: String) -> Bool { compare(version, minimum) >= 0 }

    /// Semantic-version order of two `major.minor.patch` strings (missing parts are 0).
    static func compare(_ a: String, _ b: String) -> Int {
        let x = a.split(separator: ".").map { Int($0) ?? 0 }, y = b.split(separator: ".").map { Int($0) ?? 0 }
        for i in 0..<max(x.count, y.count) {
            let p = i < x.count ? x[i] : 0, q = i < y.count ? y[i] : 0
            if p != q { return p < q ? -1 : 1 }
        }
        return 0
    }

    /// The VERSION command's answer.
    public static var versionInfo: JSONValue {
        .object([("cniVersion", .string(newest)), ("supportedVersions", .array(supported.map { .string($0) }))])
    }
}
