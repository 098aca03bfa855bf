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
        for (name, types) in questions(of: zone, origin: origin) {
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

    /// Each name in the zone with the types worth asking, the apex first.
    static func questions(of zone: KubernetesZone, origin: DNSName) -> [(DNSName, [DNSType])] {
        let addressTypes: [DNSType] = [.a, .aaaa]
        var out: [(DNSName, [DNSType])] = [(origin, [.soa, .ns])]
        let directory = zone.directory
        if origin.isReverseZone {
            for ip in directory.allAddresses {
                let name = DNSName(reverseOf: ip)
                if name.isSubdomain(of: origin) { out.append((name, [.ptr])) }
            }
            return out
        }
        if let ns = origin.prepending(KubernetesZone.nsDNS) { out.append((ns, addressTypes)) }
        if let version = origin.prepending("dns-version") { out.append((version, [.txt])) }
        for service in directory.allServices where zone.options.exposes(namespace: service.namespace) {
            let serviceName = ServiceNames.service(service.name, service.namespace, zone: origin)
            out.append((serviceName, addressTypes + [.srv]))
            var ports = service.ports
            var endpointNames: [DNSName] = []
            for group in service.endpoints {
                ports += group.ports
                for address in group.addresses {
                    endpointNames.append(ServiceNames.endpoint(address.hostname, service.name, service.namespace, zone: origin))
                }
            }
            var seenPorts: Set<String> = []
            for port in ports where !port.name.isEmpty && !port.proto.isEmpty {
                let prefix = "_\(port.name.lowercased())._\(port.proto.lowercased())"
                guard seenPorts.insert(prefix).inserted,
                      let name = DNSName("\(prefix).\(serviceName)") else { continue }
                out.append((name, [.srv]))
            }
            var seenEndpoints: Set<DNSName> = []
            for name in endpointNames where seenEndpoints.insert(name).inserted {
                out.append((name, addressTypes))
            }
        }
        if zone.options.pods == .verified {
            for (ip, namespaces) in directory.allPods {
                let separator: Character = ip.family == .ipv4 ? "." : ":"
                let dashed = String(ip.description.map { $0 == separator ? "-" : $0 })
                for ns in namespaces {
                    out.append((ServiceNames.pod(dashed, ns, zone: origin), addressTypes))
                }
            }
        }
        return out
    }
}
