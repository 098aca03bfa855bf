import Foundation

/// `--output json`: the structured form of a ruleset, with stable key order.
extension Ruleset {
    public func jsonObject() -> [String: Any] {
        switch self {
        case let .iptables(r):
            return [
                "mode": "iptables", "family": r.family.rawValue,
                "tables": r.tables.map { t in
                    ["name": t.name,
                     "chains": t.chains.map { c in ["name": c.name, "rules": c.rules.lines] as [String: Any] }] as [String: Any]
                },
            ]
        case let .nftables(r):
            return [
                "mode": "nftables", "family": r.family.rawValue, "table": "\(r.nftFamily) \(NFTablesName.table)",
                "chains": r.chains.map { c -> [String: Any] in
                    var o: [String: Any] = ["name": c.name, "rules": c.rules]
                    if let base = c.base { o["base"] = base }
                    if let comment = c.comment { o["comment"] = comment }
                    return o
                },
                "sets": r.containers.map { s -> [String: Any] in
                    ["name": s.name, "kind": s.isMap ? "map" : "set", "spec": s.spec, "elements": s.elements]
                },
            ]
        }
    }

    /// Pretty-printed JSON of several rulesets, keys sorted.
    public static func json(_ rulesets: [Ruleset]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: rulesets.map { $0.jsonObject() },
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
