/// Every name a cluster zone holds, with the types worth asking of each: what zone files
/// list and what the precompiled answers cover. Names are in the zone's own spelling
/// (lowercase for manifests' names), the apex first, then namespaces, services and their
/// ports and endpoints in namespace/name order.
enum ZoneNames {
    static let addressTypes: [DNSType] = [.a, .aaaa]

    static func questions(of zone: KubernetesZone, origin: DNSName) -> [(DNSName, [DNSType])] {
        var out: [(DNSName, [DNSType])] = []
        forEachQuestion(of: zone, origin: origin) { out.append(($0, $1)) }
        return out
    }

    /// `questions(of:origin:)` one at a time: the names of a large zone, held all at once,
    /// were most of the memory precompiling its answers took (130,000 names of an array of
    /// labels each, at 10,000 services).
    static func forEachQuestion(of zone: KubernetesZone, origin: DNSName, _ body: (DNSName, [DNSType]) -> Void) {
        body(origin, [.soa, .ns] + addressTypes + [.srv])
        let directory = zone.directory
        if origin.isReverseZone {
            for ip in directory.allAddresses {
                let name = DNSName(reverseOf: ip)
                if name.isSubdomain(of: origin) { body(name, [.ptr]) }
            }
            return
        }
        if let ns = origin.prepending(KubernetesZone.nsDNS) { body(ns, addressTypes) }
        if let version = origin.prepending("dns-version") { body(version, [.txt]) }
        // The names below which services and pods live, which exist without records.
        for kind in ["svc", "pod"] {
            if let name = origin.prepending(kind) { body(name, addressTypes + [.srv]) }
        }
        for namespace in directory.allNamespaces where zone.options.exposes(namespace: namespace) {
            if let name = DNSName("\(namespace).svc.\(origin)") { body(name, addressTypes + [.srv]) }
        }
        for service in directory.allServices where zone.options.exposes(namespace: service.namespace) {
            let serviceName = ServiceNames.service(service.name, service.namespace, zone: origin)
            body(serviceName, addressTypes + [.srv])
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
                body(name, addressTypes + [.srv])
            }
            var seenEndpoints: Set<DNSName> = []
            for name in endpointNames where seenEndpoints.insert(name).inserted {
                body(name, addressTypes)
            }
        }
        if zone.options.pods == .verified {
            for (ip, namespaces) in directory.allPods {
                let separator: Character = ip.family == .ipv4 ? "." : ":"
                let dashed = String(ip.description.map { $0 == separator ? "-" : $0 })
                for ns in namespaces {
                    body(ServiceNames.pod(dashed, ns, zone: origin), addressTypes)
                }
            }
        }
    }
}
