/// What kube-proxy would probe on the node, written down for a dry run (`--host FILE`):
///
/// ```yaml
/// nodeName: node-1
/// nodeIPs: [192.168.0.2, "2001:db8::2"]
/// interfaceAddresses: [192.168.0.2/24, 127.0.0.1/8]
/// kernel:
///   nfacct: [ct_state_invalid_dropped_pkts, localhost_nps_accepted_pkts]
///   tcpBeLiberal: false
///   iptablesRandomFully: true
/// ```
public struct HostDescription: Sendable, Hashable {
    public var nodeName: String?
    public var nodeIPs: [IPAddress]?
    /// Interface addresses as CIDRs; the address part is what nodePortAddresses match.
    public var interfaceAddresses: [IPAddress]?
    public var nfacctCounters: [String]?
    public var tcpBeLiberal: Bool?
    public var iptablesRandomFully: Bool?

    public init() {}

    public static func decode(_ text: String, file: String) throws -> HostDescription {
        let root: YAMLValue?
        do {
            root = try YAMLDocuments.single(in: text)
        } catch let error as YAMLDocuments.SyntaxError {
            throw ManifestDecoder.syntaxError(error, file: file)
        }
        guard let root else { return HostDescription() }
        let f = Field(node: root, path: "")
        do {
            try f.requireMapping()
            var h = HostDescription()
            h.nodeName = try f["nodeName"]?.string()
            if let ips = f["nodeIPs"] {
                h.nodeIPs = try ips.list().map { item in
                    let text = try item.string()
                    guard let ip = IPAddress(text) else { throw item.error("'\(text)' is not a valid IP address") }
                    return ip
                }
            }
            if let addrs = f["interfaceAddresses"] {
                h.interfaceAddresses = try addrs.list().map { item in
                    let text = try item.string()
                    let addressPart = text.split(separator: "/", maxSplits: 1).first.map(String.init) ?? text
                    guard let ip = IPAddress(addressPart), text.contains("/") ? CIDR(text) != nil : true else {
                        throw item.error("'\(text)' is not a valid interface address (CIDR)")
                    }
                    return ip
                }
            }
            if let kernel = f["kernel"] {
                h.nfacctCounters = try kernel["nfacct"]?.stringList()
                h.tcpBeLiberal = try kernel["tcpBeLiberal"]?.bool()
                h.iptablesRandomFully = try kernel["iptablesRandomFully"]?.bool()
            }
            return h
        } catch let e as FieldError {
            throw ManifestError(file: file, line: e.line, object: "host description", field: e.path, message: e.message)
        }
    }
}
