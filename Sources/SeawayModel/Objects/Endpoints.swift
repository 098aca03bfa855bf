/// A legacy v1 Endpoints object. Seaway converts it to EndpointSlices the way the API
/// server's EndpointSlice mirroring controller does, so every consumer reads slices only.
public struct Endpoints: Sendable, Hashable {
    public struct Address: Sendable, Hashable {
        public var ip: IPAddress
        public var hostname: String?
        public var nodeName: String?
        public var targetRef: EndpointSlice.TargetRef?
    }

    public struct Subset: Sendable, Hashable {
        public var addresses: [Address]
        public var notReadyAddresses: [Address]
        public var ports: [EndpointSlice.Port]
    }

    /// Endpoints carrying this label set to "true" are not mirrored (upstream behaviour).
    public static let skipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror"

    public var metadata: ObjectMeta
    public var subsets: [Subset]

    /// The slices the mirroring controller would create: one per subset and address family,
    /// ready addresses with `ready: true`, not-ready ones with `ready: false`.
    public func mirroredSlices() -> [EndpointSlice] {
        if metadata.labels[Endpoints.skipMirrorLabel] == "true" { return [] }
        var slices: [EndpointSlice] = []
        for (index, subset) in subsets.enumerated() {
            for family in IPFamily.allCases {
                let addressType: EndpointSlice.AddressType = family == .ipv4 ? .ipv4 : .ipv6
                func convert(_ a: Address, ready: Bool) -> EndpointSlice.Endpoint {
                    EndpointSlice.Endpoint(addresses: [a.ip.description],
                                           conditions: .init(ready: ready),
                                           hostname: a.hostname, nodeName: a.nodeName, targetRef: a.targetRef)
                }
                let endpoints = subset.addresses.filter { $0.ip.family == family }.map { convert($0, ready: true) }
                    + subset.notReadyAddresses.filter { $0.ip.family == family }.map { convert($0, ready: false) }
                if endpoints.isEmpty { continue }
                var labels = metadata.labels
                labels[EndpointSlice.serviceNameLabel] = metadata.name
                labels["endpointslice.kubernetes.io/managed-by"] = "endpointslicemirroring-controller.k8s.io"
                let meta = ObjectMeta(name: "\(metadata.name)-mirror-\(index)-\(family.rawValue.lowercased())",
                                      namespace: metadata.namespace, labels: labels, source: metadata.source)
                slices.append(EndpointSlice(metadata: meta, addressType: addressType,
                                            endpoints: endpoints, ports: subset.ports))
            }
        }
        return slices
    }
}

extension Endpoints {
    static func decode(_ f: Field) throws -> Endpoints {
        var eps = Endpoints(metadata: try ObjectMeta.decode(f, namespaced: true), subsets: [])
        for s in try f["subsets"]?.list() ?? [] {
            func addresses(_ key: String) throws -> [Address] {
                try (s[key]?.list() ?? []).map { a in
                    guard let ipField = a["ip"] else { throw a.error("ip is required") }
                    let text = try ipField.string()
                    guard let ip = IPAddress(text) else { throw ipField.error("'\(text)' is not a valid IP address") }
                    var ref: EndpointSlice.TargetRef? = nil
                    if let t = a["targetRef"] {
                        ref = .init(kind: try t["kind"]?.string(), namespace: try t["namespace"]?.string(),
                                    name: try t["name"]?.string())
                    }
                    return Address(ip: ip, hostname: try a["hostname"]?.string(),
                                   nodeName: try a["nodeName"]?.string(), targetRef: ref)
                }
            }
            let ports = try (s["ports"]?.list() ?? []).map { p in
                guard let n = p["port"] else { throw p.error("port is required") }
                return EndpointSlice.Port(name: try p["name"]?.string() ?? "", port: try n.int(in: 1...65535),
                                          proto: try L4Protocol.decode(p["protocol"]))
            }
            eps.subsets.append(Subset(addresses: try addresses("addresses"),
                                      notReadyAddresses: try addresses("notReadyAddresses"), ports: ports))
        }
        return eps
    }
}
