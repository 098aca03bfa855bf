import SeawayNet

/// host-local's configuration, read from the whole network config as the reference reads
/// it: the `ipam` section (a single old-style range and/or `ranges`), requested IPs from
/// CNI_ARGS `IP=`, `args.cni.ips` and `runtimeConfig.ips`, and extra ranges from
/// `runtimeConfig.ipRanges` (tried first).
public struct IPAMConfig: Sendable {
    public var networkName: String
    public var cniVersion: String
    public var rangeSets: [IPRangeSet]
    public var routes: [CNIResult.Route]
    /// Where reservations live: `<dataDir>/<network name>/`.
    public var dataDirectory: String
    public var resolvConf: String?
    public var requestedIPs: [IPAddress]
    /// GC: the attachments that are still valid (`cni.dev/valid-attachments`).
    public var validAttachments: [(containerID: String, ifname: String)]

    public static let defaultDataDirectory = "/var/lib/cni/networks"

    public init(_ config: JSONValue, environment: CNIEnvironment) throws(CNIError) {
        let r = JSONReader(config)
        cniVersion = try r.string("cniVersion") ?? "0.1.0"
        guard let name = try r.string("name"), !name.isEmpty else { throw CNIError(.invalidConfig, "name: missing") }
        guard IPAMConfig.isValidNetworkName(name) else {
            throw CNIError(.invalidConfig, "name: '\(name)' must start with a letter or digit, then letters, digits, '_', '.' or '-'")
        }
        networkName = name
        guard let ipam = try r.object("ipam") else { throw CNIError(.invalidConfig, "ipam: missing (IPAM config missing 'ipam' key)") }

        try environment.requireKnownArgs(["IP"])
        var requested: [IPAddress] = []
        if let text = environment.arg("IP") {
            for part in text.split(separator: ",") {
                guard let ip = IPAddress(strict: String(part)) else { throw CNIError(.invalidEnvironment, "CNI_ARGS: IP '\(part)' is not an IP address") }
                requested.append(ip)
            }
        }
        if let args = try r.object("args"), let cni = try args.object("cni") {
            for e in try cni.array("ips") ?? [] { requested.append(try e.ipValue()) }
        }
        let runtime = try r.object("runtimeConfig")
        for e in try runtime?.array("ips") ?? [] {
            // `ips` capability entries may carry a prefix (`10.0.0.5/24`); the address is what counts.
            let text = try e.stringValue()
            let address = text.split(separator: "/").first.map(String.init) ?? text
            guard let ip = IPAddress(strict: address) else { throw CNIError(.invalidConfig, "\(e.path): '\(text)' is not an IP address") }
            requested.append(ip)
        }
        requestedIPs = requested

        var sets: [IPRangeSet] = []
        for set in try runtime?.array("ipRanges") ?? [] { sets.append(try IPAMConfig.rangeSet(set)) }
        if ipam.optional("subnet") != nil { sets.append(IPRangeSet(ranges: [try IPRange(ipam)])) }
        for set in try ipam.array("ranges") ?? [] { sets.append(try IPAMConfig.rangeSet(set)) }
        guard !sets.isEmpty else { throw CNIError(.invalidConfig, "ipam.ranges: no IP ranges specified") }
        for i in sets.indices {
            for j in sets.indices where j > i && sets[i].ranges.contains(where: { a in sets[j].ranges.contains { a.overlaps($0) } }) {
                throw CNIError(.invalidConfig, "ipam.ranges: range set \(i) overlaps with \(j)")
            }
        }
        rangeSets = sets

        routes = []
        for route in try ipam.array("routes") ?? [] {
            guard let dst = try route.string("dst"), let cidr = CIDR(dst) else { throw CNIError(.invalidConfig, "\(route.path).dst: expected a CIDR") }
            routes.append(CNIResult.Route(destination: cidr, gateway: try route.address("gw")))
        }
        dataDirectory = try ipam.string("dataDir") ?? IPAMConfig.defaultDataDirectory
        resolvConf = try ipam.string("resolvConf")

        validAttachments = try CNIConfig.validAttachments(r)
    }

    static func rangeSet(_ r: JSONReader) throws(CNIError) -> IPRangeSet {
        let ranges = try r.elements().map { e throws(CNIError) in try IPRange(e) }
        guard let first = ranges.first else { throw CNIError(.invalidConfig, "\(r.path): empty range set") }
        for (i, range) in ranges.enumerated() {
            guard range.rangeStart.family == first.rangeStart.family else {
                throw CNIError(.invalidConfig, "\(r.path)[\(i)]: mixed address families in one range set")
            }
            for (j, other) in ranges.enumerated() where j < i && range.overlaps(other) {
                throw CNIError(.invalidConfig, "\(r.path)[\(i)]: overlaps with range \(j)")
            }
        }
        return IPRangeSet(ranges: ranges)
    }

    static func isValidNetworkName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func alnum(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
        return alnum(bytes[0]) && bytes.dropFirst().allSatisfy { alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }
}

extension JSONReader {
    func ipValue() throws(CNIError) -> IPAddress {
        let text = try stringValue()
        guard let ip = IPAddress(strict: text) else { throw CNIError(.invalidConfig, "\(path): '\(text)' is not an IP address") }
        return ip
    }
}
