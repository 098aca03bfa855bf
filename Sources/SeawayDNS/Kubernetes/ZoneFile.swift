/// One cluster zone as an RFC 1035 master file, for serving the same records from another
/// server (the NSD comparison in Benchmarks/) or diffing two clusters' DNS.
///
/// Every name the cluster gives rise to is asked of `KubernetesZone` itself, so the file
/// holds exactly what `seaway dns serve` answers, with no second copy of the rules. What no
/// file can hold is left out and said so in the header: pod names in `insecure` mode (any
/// address is a name), and the records behind ExternalName targets outside the zone (the
/// upstream's).
public enum ZoneFile {
    public static func text(of zone: KubernetesZone, origin: DNSName) -> String {
        var out = """
            ; The \(origin) zone as seaway dns serve answers it (Kubernetes DNS schema \(KubernetesDNSOptions.schemaVersion)).
            ; Not included: records of ExternalName targets outside the zone\(zone.options.pods == .insecure ? ", pod names (pods insecure)" : "").
            $ORIGIN \(origin)

            """
        // Each record once, at its own name (a CNAME's in-zone target is listed where it lives).
        var seen: Set<DNSRecord> = []
        for (name, types) in ZoneNames.questions(of: zone, origin: origin) {
            for type in types {
                guard case let .answer(answer) = zone.answer(DNSQuestion(name: name, type: type)) else { continue }
                for record in answer.answers where record.name == name && seen.insert(record).inserted {
                    out += record.description
                    out += "\n"
                }
            }
        }
        return out
    }
}
