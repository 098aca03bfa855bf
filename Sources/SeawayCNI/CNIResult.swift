import SeawayNet

/// A plugin's result (the specification's Result type), printed in the shape of the
/// version asked for.
public struct CNIResult: Sendable, Equatable {
    public struct Interface: Sendable, Equatable {
        public var name: String
        public var mac: String?
        public var mtu: Int?
        public var sandbox: String?

        public init(name: String, mac: String? = nil, mtu: Int? = nil, sandbox: String? = nil) {
            self.name = name
            self.mac = mac
            self.mtu = mtu
            self.sandbox = sandbox
        }
    }

    public struct IPConfig: Sendable, Equatable {
        /// The address with its subnet's prefix (`10.22.0.5/24`).
        public var address: IPAddress
        public var prefixLength: Int
        public var gateway: IPAddress?
        /// Index into `interfaces`.
        public var interface: Int?

        public init(address: IPAddress, prefixLength: Int, gateway: IPAddress? = nil, interface: Int? = nil) {
            self.address = address
            self.prefixLength = prefixLength
            self.gateway = gateway
            self.interface = interface
        }
    }

    public struct Route: Sendable, Equatable {
        public var destination: CIDR
        public var gateway: IPAddress?

        public init(destination: CIDR, gateway: IPAddress? = nil) {
            self.destination = destination
            self.gateway = gateway
        }
    }

    public struct DNS: Sendable, Equatable {
        public var nameservers: [String] = []
        public var domain: String?
        public var search: [String] = []
        public var options: [String] = []

        public init() {}

        public init(reading d: JSONReader) throws(CNIError) {
            nameservers = try (d.array("nameservers") ?? []).map { e throws(CNIError) in try e.stringValue() }
            domain = try d.string("domain")
            search = try (d.array("search") ?? []).map { e throws(CNIError) in try e.stringValue() }
            options = try (d.array("options") ?? []).map { e throws(CNIError) in try e.stringValue() }
        }
    }

    public var interfaces: [Interface] = []
    public var ips: [IPConfig] = []
    public var routes: [Route] = []
    public var dns = DNS()

    public init() {}

    /// The result document for `version`. Before 1.0.0 each IP says its family; `dns` is
    /// always present, as the reference plugins print it.
    public func json(version: String) -> JSONValue {
        var fields: [(String, JSONValue)] = [("cniVersion", .string(version))]
        if !interfaces.isEmpty {
            fields.append(("interfaces", .array(interfaces.map { i in
                var f: [(String, JSONValue)] = [("name", .string(i.name))]
                if let mac = i.mac { f.append(("mac", .string(mac))) }
                if let mtu = i.mtu, CNIVersion.atLeast(version, "1.1.0") { f.append(("mtu", .number(Double(mtu)))) }
                if let sandbox = i.sandbox { f.append(("sandbox", .string(sandbox))) }
                return .object(f)
            })))
        }
        if !ips.isEmpty {
            fields.append(("ips", .array(ips.map { ip in
                var f: [(String, JSONValue)] = []
                if CNIVersion.ipsCarryVersion(version) { f.append(("version", .string(ip.address.family == .ipv4 ? "4" : "6"))) }
                if let i = ip.interface { f.append(("interface", .number(Double(i)))) }
                f.append(("address", .string("\(ip.address)/\(ip.prefixLength)")))
                if let gw = ip.gateway { f.append(("gateway", .string(gw.description))) }
                return .object(f)
            })))
        }
        if !routes.isEmpty {
            fields.append(("routes", .array(routes.map { r in
                var f: [(String, JSONValue)] = [("dst", .string(r.destination.description))]
                if let gw = r.gateway { f.append(("gw", .string(gw.description))) }
                return .object(f)
            })))
        }
        var d: [(String, JSONValue)] = []
        if !dns.nameservers.isEmpty { d.append(("nameservers", .array(dns.nameservers.map { .string($0) }))) }
        if let domain = dns.domain { d.append(("domain", .string(domain))) }
        if !dns.search.isEmpty { d.append(("search", .array(dns.search.map { .string($0) }))) }
        if !dns.options.isEmpty { d.append(("options", .array(dns.options.map { .string($0) }))) }
        fields.append(("dns", .object(d)))
        return .object(fields)
    }

    /// Reads a result (a `prevResult`, or another plugin's output) of any supported shape.
    public init(reading r: JSONReader) throws(CNIError) {
        for i in try r.array("interfaces") ?? [] {
            guard let name = try i.string("name") else { throw CNIError(.decodingFailure, "\(i.path).name: missing") }
            interfaces.append(Interface(name: name, mac: try i.string("mac"), mtu: try i.int("mtu"), sandbox: try i.string("sandbox")))
        }
        for ip in try r.array("ips") ?? [] {
            guard let text = try ip.string("address"), let slash = text.firstIndex(of: "/"),
                  let address = IPAddress(strict: String(text[..<slash])), let prefix = Int(text[text.index(after: slash)...]),
                  prefix >= 0, prefix <= address.family.bitLength
            else { throw CNIError(.decodingFailure, "\(ip.path).address: expected an address with a prefix length") }
            ips.append(IPConfig(address: address, prefixLength: prefix, gateway: try ip.address("gateway"), interface: try ip.int("interface")))
        }
        for route in try r.array("routes") ?? [] {
            guard let dst = try route.string("dst"), let cidr = CIDR(dst) else { throw CNIError(.decodingFailure, "\(route.path).dst: expected a CIDR") }
            routes.append(Route(destination: cidr, gateway: try route.address("gw")))
        }
        if let d = try r.object("dns") { dns = try DNS(reading: d) }
    }
}

extension JSONReader {
    func stringValue() throws(CNIError) -> String {
        guard case let .string(s) = value else { throw CNIError(.invalidConfig, "\(path): expected a string") }
        return s
    }
}
