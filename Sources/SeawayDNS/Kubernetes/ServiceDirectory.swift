import SeawayModel

/// The cluster as CoreDNS's `kubernetes` plugin caches it: services by namespace and name,
/// their endpoints (ready ones, per EndpointSlice), pods and services by IP. Built once per
/// cluster state; every answer reads it.
public struct ServiceDirectory: Sendable {
    public struct Port: Sendable, Hashable {
        public var name: String
        public var proto: String
        /// -1 for the sentinel CoreDNS adds to a slice without ports (no SRV for it).
        public var port: Int
    }

    public struct Address: Sendable, Hashable {
        public var ip: IPAddress
        /// The endpoint's name in `<hostname>.<service>.<ns>.svc.<zone>`.
        public var hostname: String
    }

    /// One EndpointSlice's ready addresses and its ports (every address has every port).
    public struct EndpointGroup: Sendable, Hashable {
        public var addresses: [Address]
        public var ports: [Port]
    }

    public enum Kind: Sendable, Hashable {
        case clusterIP([IPAddress])
        case headless
        case externalName(String)
    }

    public struct Entry: Sendable, Hashable {
        public var name: String
        public var namespace: String
        public var kind: Kind
        public var ports: [Port]
        public var endpoints: [EndpointGroup]

        var hasReadyAddress: Bool { endpoints.contains { !$0.addresses.isEmpty } }
    }

    /// Every service, in namespace/name order; the indexes below point into it.
    private var entries: [Entry] = []
    /// By lowercased namespace, then lowercased name.
    private var services: [String: [String: Int32]] = [:]
    /// Namespaces that exist: a Namespace object, or any object in it.
    private var existingNamespaces: Set<String> = []
    /// Services by cluster IP, in namespace/name order.
    private var servicesByIP: [IPAddress: [Int32]] = [:]

    /// Where an endpoint address is: its service, slice group and place, and the next
    /// endpoint with the same IP (-1: none). A chain of these per IP costs 16 bytes an
    /// endpoint, where an array per IP would cost an allocation each (100,000 of them in a
    /// large cluster).
    private struct EndpointRef: Sendable {
        var service: Int32
        var group: Int32
        var address: Int32
        var next: Int32
    }

    private var endpointRefs: [EndpointRef] = []
    /// The first of each IP's endpoints in `endpointRefs`, in namespace/name order.
    private var firstEndpointByIP: [IPAddress: Int32] = [:]
    /// Namespaces of pods by their (primary) pod IP, for `pods verified`.
    private var podNamespacesByIP: [IPAddress: [String]] = [:]

    public init(_ cluster: ClusterState, endpointPodNames: Bool = false) {
        // Slices and services by index: copies of them (and a second table of the last
        // endpoint of each IP) added about 10 MB to the server's peak memory while it built
        // a 10,000-service directory.
        let allSlices = cluster.endpointSlices, allServices = cluster.services
        var slicesByService: [String: [Int]] = [:]
        for (i, slice) in allSlices.enumerated() {
            guard let service = slice.serviceName else { continue }
            slicesByService["\(slice.metadata.namespace)/\(service)", default: []].append(i)
        }
        for ns in cluster.namespaces { existingNamespaces.insert(ns.metadata.name.lowercased()) }
        for s in allServices { existingNamespaces.insert(s.metadata.namespace.lowercased()) }
        for p in cluster.pods { existingNamespaces.insert(p.metadata.namespace.lowercased()) }
        for s in allSlices { existingNamespaces.insert(s.metadata.namespace.lowercased()) }

        let order = allServices.indices.sorted {
            (allServices[$0].metadata.namespace, allServices[$0].metadata.name) < (allServices[$1].metadata.namespace, allServices[$1].metadata.name)
        }
        entries.reserveCapacity(order.count)
        for i in order {
            let service = allServices[i]
            let meta = service.metadata
            let kind: Kind
            if service.type == .externalName {
                kind = .externalName(ServiceDirectory.owned(service.externalName ?? ""))
            } else if service.isHeadless {
                kind = .headless
            } else {
                kind = .clusterIP(service.clusterIPs.map { $0 })  // a copy: see `owned`
            }
            let slices = (slicesByService["\(meta.namespace)/\(meta.name)"] ?? []).sorted { allSlices[$0].metadata.name < allSlices[$1].metadata.name }
            let groups = slices.map { ServiceDirectory.group(allSlices[$0], publishNotReady: service.publishNotReadyAddresses, endpointPodNames: endpointPodNames) }
            let index = Int32(entries.count)
            entries.append(Entry(name: ServiceDirectory.owned(meta.name), namespace: ServiceDirectory.owned(meta.namespace), kind: kind,
                                 ports: service.ports.map { Port(name: ServiceDirectory.owned($0.name), proto: $0.proto.rawValue, port: $0.port) },
                                 endpoints: groups))
            services[meta.namespace.lowercased(), default: [:]][meta.name.lowercased()] = index
            if case let .clusterIP(ips) = kind {
                for ip in ips { servicesByIP[ip, default: []].append(index) }
            }
        }
        // Each IP's endpoints chained in namespace/name order: the entries walked from the
        // last, each endpoint put in front of its IP's chain.
        for index in entries.indices.reversed() {
            let groups = entries[index].endpoints
            for g in groups.indices.reversed() {
                for a in groups[g].addresses.indices.reversed() {
                    let ip = groups[g].addresses[a].ip
                    let ref = Int32(endpointRefs.count)
                    endpointRefs.append(EndpointRef(service: Int32(index), group: Int32(g), address: Int32(a),
                                                    next: firstEndpointByIP[ip] ?? -1))
                    firstEndpointByIP[ip] = ref
                }
            }
        }
        for pod in cluster.pods {
            if let ip = pod.podIPs.first { podNamespacesByIP[ip, default: []].append(pod.metadata.namespace.lowercased()) }
        }
    }

    /// The ready addresses of a slice, named as CoreDNS names them. An endpoint whose
    /// `ready` condition is unset counts as ready (the API's advice); with
    /// publishNotReadyAddresses the EndpointSlice controller marks every endpoint ready, so
    /// hand-written slices get the same treatment.
    private static func group(_ slice: EndpointSlice, publishNotReady: Bool, endpointPodNames: Bool) -> EndpointGroup {
        var addresses: [Address] = []
        for ep in slice.endpoints where ep.conditions.ready ?? true || publishNotReady {
            for text in ep.addresses {
                guard let ip = IPAddress(text) else { continue }
                addresses.append(Address(ip: ip, hostname: hostname(ep, ip: ip, text: text, endpointPodNames: endpointPodNames)))
            }
        }
        let ports = slice.ports.isEmpty
            ? [Port(name: "", proto: "", port: -1)]
            : slice.ports.map { Port(name: ServiceDirectory.owned($0.name ?? ""), proto: $0.proto.rawValue, port: $0.port ?? -1) }
        return EndpointGroup(addresses: addresses, ports: ports)
    }

    /// The endpoint's hostname, else (with endpoint_pod_names) its pod's name if that is a
    /// valid label, else its address with dashes (`10-0-0-1`, IPv6 colons as dashes).
    private static func hostname(_ ep: EndpointSlice.Endpoint, ip: IPAddress, text: String, endpointPodNames: Bool) -> String {
        if let h = ep.hostname, !h.isEmpty { return owned(h) }
        if endpointPodNames, let pod = ep.targetRef?.name, !pod.isEmpty, pod.count < 64 { return owned(pod) }
        let separator: Character = ip.family == .ipv4 ? "." : ":"
        return String(text.map { $0 == separator ? "-" : $0 })
    }

    /// `text` in storage of its own. The directory outlives the parsed cluster, whose strings
    /// and arrays were allocated by the decoding threads among the YAML parser's garbage:
    /// one shared string keeps its whole page of that garbage resident, and 10,000 services
    /// kept some 30 MB that way. (Strings of up to 15 bytes are stored inline anyway.)
    static func owned(_ text: String) -> String {
        var text = text
        return text.withUTF8 { String(decoding: $0, as: UTF8.self) }
    }

    public func namespaceExists(_ namespace: String) -> Bool { existingNamespaces.contains(namespace.lowercased()) }

    public func service(_ name: String, namespace: String) -> Entry? {
        services[namespace.lowercased()]?[name.lowercased()].map { entries[Int($0)] }
    }

    public func services(withClusterIP ip: IPAddress) -> [Entry] { (servicesByIP[ip] ?? []).map { entries[Int($0)] } }

    public func endpoints(withIP ip: IPAddress) -> [(service: Entry, address: Address)] {
        var out: [(service: Entry, address: Address)] = []
        var next = firstEndpointByIP[ip] ?? -1
        while next >= 0 {
            let ref = endpointRefs[Int(next)]
            let entry = entries[Int(ref.service)]
            out.append((entry, entry.endpoints[Int(ref.group)].addresses[Int(ref.address)]))
            next = ref.next
        }
        return out
    }

    public func podExists(ip: IPAddress, namespace: String) -> Bool {
        podNamespacesByIP[ip]?.contains(namespace.lowercased()) ?? false
    }

    // MARK: - Enumeration (for zone files; not on the answer path)

    /// Every service, in namespace/name order.
    public var allServices: [Entry] { entries }

    /// Every namespace that exists, lowercased, in order.
    public var allNamespaces: [String] { existingNamespaces.sorted() }

    /// Every cluster IP and endpoint IP, in address order.
    public var allAddresses: [IPAddress] {
        Set(servicesByIP.keys).union(firstEndpointByIP.keys).sorted()
    }

    /// Every pod's (primary) IP with its namespaces, in address order.
    public var allPods: [(ip: IPAddress, namespaces: [String])] {
        podNamespacesByIP.keys.sorted().map { ($0, podNamespacesByIP[$0]!.sorted()) }
    }
}
