import Foundation

/// `--output json`: the structured form of a ruleset, with stable key order.
extension Ruleset {
    public func jsonObject() -> [String: Any] {
        func tables(_ r: IPTablesRuleset) -> [[String: Any]] {
            r.tables.map { t in
                ["name": t.name,
                 "chains": t.chains.map { c in ["name": c.name, "rules": c.rules.lines] as [String: Any] }] as [String: Any]
            }
        }
        switch self {
        case let .iptables(r):
            return ["mode": "iptables", "family": r.family.rawValue, "tables": tables(r)]
        case let .ipvs(r):
            return [
                "mode": "ipvs", "family": r.family.rawValue,
                "virtualServers": r.virtualServers.map { vs -> [String: Any] in
                    var o: [String: Any] = [
                        "service": vs.service, "address": vs.address.description, "port": vs.port,
                        "protocol": vs.proto.rawValue, "scheduler": vs.scheduler,
                        "realServers": vs.realServers.map { ["address": $0.address.description, "port": $0.port, "weight": $0.weight] },
                    ]
                    if let t = vs.persistenceTimeout { o["persistenceTimeout"] = t }
                    return o
                },
                "dummyDevice": ["name": IPVSRuleset.dummyDevice, "addresses": r.dummyAddresses.map(\.description)] as [String: Any],
                "ipsets": r.ipsets.map { ["name": $0.name, "type": $0.type, "entries": $0.entries] as [String: Any] },
                "iptables": tables(r.iptables),
            ]
        case let .nftables(r):
            return Self.nftablesObject(r, mode: "nftables")
        case let .userspace(r):
            var o = Self.nftablesObject(r.nftables, mode: "userspace")
            o["listeners"] = r.plan.portals.map { p -> [String: Any] in
                var l: [String: Any] = [
                    "service": p.name.description, "protocol": p.proto.rawValue, "proxyPort": p.proxyPort,
                    "addresses": p.addresses.map { $0.joined(port: p.servicePort) },
                    "endpoints": p.endpoints.map(\.description),
                ]
                if p.nodePort != 0 { l["nodePort"] = p.nodePort }
                if let a = p.affinitySeconds { l["affinityTimeoutSeconds"] = a }
                return l
            }
            return o
        }
    }

    private static func nftablesObject(_ r: NFTablesRuleset, mode: String) -> [String: Any] {
        [
            "mode": mode, "family": r.family.rawValue, "table": "\(r.nftFamily) \(r.table)",
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

    /// Pretty-printed JSON of several rulesets, keys sorted.
    public static func json(_ rulesets: [Ruleset]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: rulesets.map { $0.jsonObject() },
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
