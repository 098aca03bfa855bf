import Foundation
import SeawayModel

/// What the cluster zones answer to one question, before it becomes a message.
public struct ZoneAnswer: Sendable, Hashable {
    public var rcode: DNSResponseCode
    public var answers: [DNSRecord] = []
    public var authority: [DNSRecord] = []
    public var additional: [DNSRecord] = []
    /// CNAME targets outside the zones whose records the upstream must supply (ExternalName
    /// services), with the type asked for; their answers go after the CNAME.
    public var chase: [DNSQuestion] = []
}

public enum ZoneResult: Sendable, Hashable {
    /// Authoritative answer from the cluster zones.
    case answer(ZoneAnswer)
    /// Not ours (outside every zone, or an NXDOMAIN that falls through): the next handler's.
    case next
}

/// CoreDNS's `kubernetes` plugin as a pure function: a question and the cluster's service
/// directory in, the records (or NXDOMAIN / NODATA / SERVFAIL) out. Follows
/// `plugin/kubernetes` and `plugin/backend_lookup.go` case by case; see docs/dns.md.
public struct KubernetesZone: Sendable {
    public let options: KubernetesDNSOptions
    public let directory: ServiceDirectory
    /// False until the cluster state has loaded: name errors become SERVFAIL, as CoreDNS
    /// answers before its caches have synced.
    public let synced: Bool

    public init(options: KubernetesDNSOptions, directory: ServiceDirectory, synced: Bool = true) {
        self.options = options
        self.directory = directory
        self.synced = synced
    }

    public init(options: KubernetesDNSOptions, cluster: ClusterState) {
        self.init(options: options, directory: ServiceDirectory(cluster, endpointPodNames: options.endpointPodNames))
    }

    /// A zone that has not loaded yet.
    public static func unsynced(options: KubernetesDNSOptions) -> KubernetesZone {
        KubernetesZone(options: options, directory: ServiceDirectory(ClusterState()), synced: false)
    }

    /// CoreDNS's special names under each zone: its own name server, and the apex entry.
    static let nsDNS = DNSName("ns.dns.")!
    static let apexDNS = DNSName("apex.dns.")!

    /// A name error: CoreDNS's errNoItems, errNsNotExposed and errInvalidRequest alike.
    struct NameError: Error {}

    /// One of CoreDNS's `msg.Service` values: where a name points, and the name it has.
    struct Target {
        enum Host {
            case address(IPAddress)
            case name(DNSName)
            case text(String)
        }

        var host: Host
        var port = 0
        /// The record's own name (the SRV target, the NS name).
        var domain: DNSName
        var ttl: UInt32
    }

    public func answer(_ question: DNSQuestion) -> ZoneResult {
        guard let configured = options.zone(of: question.name) else { return .next }
        // The zone as the question spells it: answers keep the asker's case.
        let zone = DNSName(uncheckedLabels: Array(question.name.labels.suffix(configured.labels.count)))
        var result = ZoneAnswer(rcode: .noError)
        do {
            switch question.type {
            case .a, .aaaa:
                (result.answers, result.chase) = try addresses(question.name, question.type, zone: zone, previous: [])
            case .txt:
                result.answers = try services(question.name, .txt, zone: zone).compactMap { t in
                    guard case let .text(s) = t.host else { return nil }
                    return DNSRecord(name: question.name, type: .txt, ttl: t.ttl, data: .txt([Array(s.utf8)]))
                }
            case .cname:
                if let first = try services(question.name, .cname, zone: zone).first, case let .name(target) = first.host {
                    result.answers = [DNSRecord(name: question.name, type: .cname, ttl: first.ttl, data: .name(target))]
                }
            case .ptr:
                result.answers = try pointers(question.name, zone: zone)
            case .srv:
                (result.answers, result.additional) = try serviceRecords(question.name, zone: zone)
            case .soa:
                result.answers = [soa(zone)]
            case .ns where question.name == zone:
                (result.answers, result.additional) = nameServers(zone)
            case .axfr, .ixfr:
                // Zone transfers are not offered.
                return .answer(ZoneAnswer(rcode: .refused))
            default:
                // An A lookup tells NXDOMAIN from NODATA for every other type.
                _ = try addresses(question.name, .a, zone: zone, previous: [])
            }
        } catch {
            if options.fallsThrough(question.name) { return .next }
            return .answer(ZoneAnswer(rcode: synced ? .nameError : .serverFailure, authority: [soa(zone)]))
        }
        if result.answers.isEmpty {
            result.authority = [soa(zone)]
        }
        return .answer(result)
    }

    /// The zone's SOA, as CoreDNS writes it: TTL and MINIMUM are the plugin TTL (at most 300).
    func soa(_ zone: DNSName) -> DNSRecord {
        DNSRecord(name: zone, type: .soa, ttl: min(options.ttl, 300), data: .soa(.init(
            mname: zone.prepending(KubernetesZone.nsDNS) ?? zone, rname: zone.prepending("hostmaster") ?? zone,
            serial: options.serial, refresh: 7200, retry: 1800, expire: 86400, minimum: options.ttl)))
    }

    // MARK: - Lookups by type (plugin/backend_lookup.go)

    /// A or AAAA records, following CNAMEs inside the zone (at most 8 deep); CNAMEs leaving the
    /// zone are handed back as `chase` for the upstream.
    func addresses(_ name: DNSName, _ type: DNSType, zone: DNSName, previous: [DNSRecord]) throws(NameError)
        -> (records: [DNSRecord], chase: [DNSQuestion]) {
        var targets: [Target]
        if name == zone {
            // The apex: CoreDNS looks for a special `apex.dns` entry first, then the name.
            targets = (try? services(zone.prepending(KubernetesZone.apexDNS)!, type, zone: zone)) ?? []
            if targets.isEmpty { targets = try services(name, type, zone: zone) }
        } else {
            targets = try services(name, type, zone: zone)
        }
        var records: [DNSRecord] = []
        var chase: [DNSQuestion] = []
        var seen: Set<IPAddress> = []
        for t in targets {
            switch t.host {
            case let .address(ip):
                guard (ip.family == .ipv4) == (type == .a), seen.insert(ip).inserted else { continue }
                records.append(DNSRecord.address(name, ip, ttl: t.ttl))
            case let .name(target):
                if target == name { continue }  // x CNAME x
                let cname = DNSRecord(name: name, type: .cname, ttl: t.ttl, data: .name(target))
                if previous.count > 7 || previous.contains(cname) { continue }
                if target.isSubdomain(of: zone) {
                    if let (next, nextChase) = try? addresses(target, type, zone: zone, previous: previous + [cname]),
                       !next.isEmpty {
                        records.append(cname)
                        records += next
                        chase += nextChase
                    }
                } else {
                    records.append(cname)
                    chase.append(DNSQuestion(name: target, type: type))
                }
            case .text:
                continue
            }
        }
        return (records, chase)
    }

    /// SRV records with the A/AAAA of their targets as additional records. Every target has
    /// priority 0; weights split 100 between the records (CoreDNS's arithmetic, floored, at
    /// least 1), counting duplicates and port-less sentinels as CoreDNS does.
    func serviceRecords(_ name: DNSName, zone: DNSName) throws(NameError) -> (records: [DNSRecord], extra: [DNSRecord]) {
        let targets = try services(name, .srv, zone: zone)
        let total = Double(100 * targets.count)
        var records: [DNSRecord] = []
        var extra: [DNSRecord] = []
        // CoreDNS drops an SRV record repeating a target and port, and an address record
        // repeating a target and address.
        struct TargetPort: Hashable { var target: DNSName; var port: Int }
        struct TargetAddress: Hashable { var target: DNSName; var ip: IPAddress }
        var seenSRV: Set<TargetPort> = []
        var seenAddress: Set<TargetAddress> = []
        for t in targets where t.port != -1 {
            guard case let .address(ip) = t.host else { continue }
            let weight = max(1, UInt16((100.0 / total * 100).rounded(.down)))
            if seenSRV.insert(TargetPort(target: t.domain, port: t.port)).inserted {
                records.append(DNSRecord(name: name, type: .srv, ttl: t.ttl,
                                         data: .srv(priority: 0, weight: weight, port: UInt16(t.port), target: t.domain)))
            }
            if seenAddress.insert(TargetAddress(target: t.domain, ip: ip)).inserted {
                extra.append(DNSRecord.address(t.domain, ip, ttl: t.ttl))
            }
        }
        return (records, extra)
    }

    /// PTR records for a service's cluster IP (the first service that has it) or else every
    /// endpoint with that address, named in the primary zone.
    func pointers(_ name: DNSName, zone: DNSName) throws(NameError) -> [DNSRecord] {
        guard let ip = name.reverseAddress else {
            // Not an address: only tells NXDOMAIN from NODATA.
            _ = try records(name, zone: zone)
            return []
        }
        let primary = options.primaryZone
        var targets: [DNSName] = []
        if let service = directory.services(withClusterIP: ip).first(where: { options.exposes(namespace: $0.namespace) }) {
            targets = [ServiceNames.service(service.name, service.namespace, zone: primary)]
        } else {
            for (service, address) in directory.endpoints(withIP: ip) where options.exposes(namespace: service.namespace) {
                targets.append(ServiceNames.endpoint(address.hostname, service.name, service.namespace, zone: primary))
            }
        }
        guard !targets.isEmpty else { throw NameError() }
        var seen: Set<DNSName> = []
        return targets.filter { seen.insert($0).inserted }.map {
            DNSRecord(name: name, type: .ptr, ttl: options.ttl, data: .name($0))
        }
    }

    /// The zone's NS records and their addresses.
    func nameServers(_ zone: DNSName) -> (records: [DNSRecord], extra: [DNSRecord]) {
        var records: [DNSRecord] = []
        var extra: [DNSRecord] = []
        var seen: Set<DNSName> = []
        for (nsName, ip) in nameServerAddresses(zone) {
            extra.append(DNSRecord.address(nsName, ip, ttl: options.ttl))
            if seen.insert(nsName).inserted {
                records.append(DNSRecord(name: zone, type: .ns, ttl: options.ttl, data: .name(nsName)))
            }
        }
        return (records, extra)
    }

    /// The services whose endpoints are this server's own addresses (the cluster DNS service),
    /// else `ns.dns.<zone>` with the addresses themselves.
    func nameServerAddresses(_ zone: DNSName) -> [(DNSName, IPAddress)] {
        var out: [(DNSName, IPAddress)] = []
        for local in options.localIPs {
            for (service, _) in directory.endpoints(withIP: local) {
                switch service.kind {
                case .headless:
                    for group in service.endpoints {
                        for a in group.addresses {
                            out.append((ServiceNames.endpoint(a.hostname, service.name, service.namespace, zone: zone), a.ip))
                        }
                    }
                case let .clusterIP(ips):
                    if let ip = ips.first { out.append((ServiceNames.service(service.name, service.namespace, zone: zone), ip)) }
                case .externalName:
                    continue
                }
            }
        }
        if out.isEmpty {
            let name = zone.prepending(KubernetesZone.nsDNS) ?? zone
            out = options.localIPs.map { (name, $0) }
        }
        return out
    }

    // MARK: - The plugin's Services / Records / findServices / findPods

    func services(_ name: DNSName, _ type: DNSType, zone: DNSName) throws(NameError) -> [Target] {
        let below = name.labels(below: zone)
        switch type {
        case .txt:
            guard below.count == 1, String(decoding: below.first!, as: UTF8.self).lowercased() == "dns-version" else { return [] }
            return [Target(host: .text(KubernetesDNSOptions.schemaVersion), domain: name, ttl: 28800)]
        default:
            break
        }
        if name == zone.prepending(KubernetesZone.nsDNS) {
            return nameServerAddresses(zone).compactMap { nsName, ip in
                (ip.family == .ipv4) == (type == .a) ? Target(host: .address(ip), domain: name, ttl: options.ttl) : nil
            }
        }
        let found = try records(name, zone: zone)
        // SRV answers leave ExternalName services out.
        return type == .srv ? found.filter { if case .name = $0.host { return false } else { return true } } : found
    }

    func records(_ name: DNSName, zone: DNSName) throws(NameError) -> [Target] {
        let labels = name.labels(below: zone).map { String(decoding: $0, as: UTF8.self).lowercased() }
        let request: KubernetesRequest
        do { request = try KubernetesRequest(labels: labels[...]) } catch { throw NameError() }
        switch request.kind {
        case .apex:
            return []
        case .service, .pod:
            if name.isReverseZone { throw NameError() }
            guard namespaceExposed(request.namespace) else { throw NameError() }
            return request.kind == .pod ? try pods(request, zone: zone) : try services(request, zone: zone)
        }
    }

    func namespaceExposed(_ namespace: String) -> Bool {
        options.exposes(namespace: namespace) && directory.namespaceExists(namespace)
    }

    func pods(_ r: KubernetesRequest, zone: DNSName) throws(NameError) -> [Target] {
        guard options.pods != .disabled else { throw NameError() }
        if r.service.isEmpty { return [] }
        // a-b-c-d is IPv4; anything else has its dashes read as IPv6 colons.
        let dashes = r.service.filter { $0 == "-" }.count
        let text = dashes == 3 && !r.service.contains("--")
            ? r.service.replacingOccurrences(of: "-", with: ".") : r.service.replacingOccurrences(of: "-", with: ":")
        guard let ip = IPAddress(strict: text) else { throw NameError() }
        if options.pods == .verified, !directory.podExists(ip: ip, namespace: r.namespace) { throw NameError() }
        return [Target(host: .address(ip), domain: ServiceNames.pod(r.service, r.namespace, zone: zone), ttl: options.ttl)]
    }

    func services(_ r: KubernetesRequest, zone: DNSName) throws(NameError) -> [Target] {
        if r.service.isEmpty { return [] }
        guard let service = directory.service(r.service, namespace: r.namespace) else { throw NameError() }
        let serviceName = ServiceNames.service(service.name, service.namespace, zone: zone)
        func portMatches(_ p: ServiceDirectory.Port) -> Bool {
            (r.port.isEmpty || r.port.equalsIgnoringASCIICase(p.name))
                && (r.proto.isEmpty || r.proto.equalsIgnoringASCIICase(p.proto))
        }
        var out: [Target] = []
        var found = false
        let isEmptyClusterIP = service.kind != .headless && !service.hasReadyAddress
        if case let .externalName(target) = service.kind {
            // An endpoint label cannot be under an ExternalName service; an IP is no CNAME.
            if r.endpoint.isEmpty, IPAddress(strict: target) == nil, let name = DNSName(target) {
                out.append(Target(host: .name(name), domain: serviceName, ttl: options.ttl))
                found = true
            }
        } else if options.ignoreEmptyService && isEmptyClusterIP {
            // `ignore empty_service`: as if the service did not exist.
        } else if service.kind == .headless || !r.endpoint.isEmpty {
            for group in service.endpoints {
                for address in group.addresses {
                    if !r.endpoint.isEmpty, !r.endpoint.equalsIgnoringASCIICase(address.hostname) { continue }
                    for p in group.ports where portMatches(p) {
                        found = true
                        out.append(Target(host: .address(address.ip), port: p.port,
                                          domain: ServiceNames.endpoint(address.hostname, service.name, service.namespace, zone: zone),
                                          ttl: options.ttl))
                    }
                }
            }
        } else if case let .clusterIP(ips) = service.kind {
            for p in service.ports where portMatches(p) {
                found = true
                for ip in ips { out.append(Target(host: .address(ip), port: p.port, domain: serviceName, ttl: options.ttl)) }
            }
        }
        guard found else { throw NameError() }
        return out
    }
}

/// The names the specification gives services, endpoints and pods.
enum ServiceNames {
    static func service(_ name: String, _ namespace: String, zone: DNSName) -> DNSName {
        join([name, namespace, "svc"], zone)
    }

    static func endpoint(_ hostname: String, _ name: String, _ namespace: String, zone: DNSName) -> DNSName {
        join([hostname, name, namespace, "svc"], zone)
    }

    static func pod(_ dashed: String, _ namespace: String, zone: DNSName) -> DNSName {
        join([dashed, namespace, "pod"], zone)
    }

    private static func join(_ labels: [String], _ zone: DNSName) -> DNSName {
        DNSName(uncheckedLabels: labels.map { Array($0.utf8) } + zone.labels)
    }
}

extension String {
    /// DNS's case-insensitivity (RFC 4343): ASCII letters only, no locale, no allocation.
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        utf8.count == other.utf8.count && zip(utf8, other.utf8).allSatisfy { DNSName.lower($0) == DNSName.lower($1) }
    }
}
