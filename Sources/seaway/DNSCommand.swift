import ArgumentParser
import Foundation
import SeawayDNS
import SeawayKube
import SeawayLoader
import SeawayModel

struct DNSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns",
        abstract: "Cluster DNS as CoreDNS's kubernetes plugin answers it: a one-shot lookup or a server.",
        subcommands: [DNSLookupCommand.self, DNSServeCommand.self, DNSZoneFileCommand.self])
}

extension KubernetesDNSOptions.PodMode: ExpressibleByArgument {}

/// The `kubernetes` block's options as flags, shared by `dns lookup` and `dns serve`. Each
/// one given overrides what a Corefile says.
struct DNSZoneArguments: ParsableArguments {
    @Option(name: .customLong("zone"), help: ArgumentHelp(
        "A zone to answer for, forward or reverse (repeat it). Default: cluster.local, in-addr.arpa, ip6.arpa.",
        valueName: "zone"))
    var zones: [String] = []

    @Option(help: "Pod records (a-b-c-d.NS.pod.ZONE): disabled (the default), insecure or verified.")
    var pods: KubernetesDNSOptions.PodMode?

    @Option(help: "TTL of the answers in seconds, 0 to 3600 (default 5).")
    var ttl: UInt32?

    @Option(help: ArgumentHelp("Expose only these namespaces.", valueName: "ns1,ns2"))
    var namespaces: String?

    @Flag(help: "NXDOMAIN for ClusterIP services without ready endpoints.")
    var ignoreEmptyService = false

    @Flag(help: "Name endpoints without a hostname after their pod rather than their address.")
    var endpointPodNames = false

    @Option(name: .customLong("fallthrough"), help: ArgumentHelp(
        "Pass NXDOMAIN answers in this zone on to the upstream instead (repeat it).", valueName: "zone"))
    var fallthroughZones: [String] = []

    func validate() throws {
        if let ttl, ttl > KubernetesDNSOptions.maximumTTL { throw ValidationError("--ttl must be at most 3600 (CoreDNS's limit)") }
        for z in zones + fallthroughZones where DNSName(z) == nil { throw ValidationError("'\(z)' is not a domain name") }
    }

    /// `base` (the defaults, or a Corefile's settings) with every flag given applied over it.
    func options(over base: KubernetesDNSOptions = KubernetesDNSOptions()) -> KubernetesDNSOptions {
        var o = base
        if !zones.isEmpty { o.zones = zones.compactMap { DNSName($0) } }
        if let pods { o.pods = pods }
        if let ttl { o.ttl = ttl }
        if let namespaces {
            o.namespaces = Set(namespaces.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        if ignoreEmptyService { o.ignoreEmptyService = true }
        if endpointPodNames { o.endpointPodNames = true }
        if !fallthroughZones.isEmpty { o.fallthroughZones = fallthroughZones.compactMap { DNSName($0) } }
        return o.stampedNow()
    }
}

extension KubernetesDNSOptions {
    /// These options with the SOA serial of a cluster state loaded now: the time in seconds,
    /// so that every (re)load serves a newer serial.
    func stampedNow() -> KubernetesDNSOptions {
        var o = self
        o.serial = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        return o
    }
}

extension DNSType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

struct DNSLookupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookup",
        abstract: "Answer one DNS question from manifests, as the cluster's DNS would, printed like dig.",
        discussion: """
            With --from-namespace the name goes through that pod's search path (NS.svc.ZONE svc.ZONE ZONE, \
            ndots:5) and every name tried is shown. Exit status: 0 when the answer has records, 2 when it \
            is NXDOMAIN, NODATA, SERVFAIL or outside the zones, 1 for bad input.
            """)

    @Argument(help: "The name to look up (a trailing dot makes it absolute).")
    var name: String

    @Option(help: "A, AAAA, SRV, PTR, CNAME, TXT, NS, SOA, or ANY (every type the zone holds).")
    var type: DNSType = .a

    @Option(help: ArgumentHelp("Resolve as a pod in this namespace would (search path, ndots:5).", valueName: "namespace"))
    var fromNamespace: String?

    @OptionGroup var zone: DNSZoneArguments

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories (Services, EndpointSlices, Endpoints, Pods, Namespaces); '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws {
        try source.validate(manifests: manifests)
        if !name.hasSuffix("."), DNSName(name) == nil || name == "." { throw ValidationError("'\(name)' is not a domain name") }
    }

    func run() throws {
        let lookup = try reportingErrors { () throws -> DNSLookup in
            let options = zone.options()
            let kubernetes = KubernetesZone(options: options, cluster: try source.load(manifests, resources: KubeResource.dns))
            let search = fromNamespace.map { SearchPath.pod(namespace: $0, zone: options.primaryZone) }
            return DNSLookup(name, type: type, searchPath: search, zone: kubernetes)
        }
        FileHandle.standardOutput.write(Data(lookup.text.utf8))
        if lookup.attempts.last?.answer?.answers.isEmpty ?? true { throw ExitCode(2) }
    }
}

struct DNSZoneFileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zone-file",
        abstract: "Print one cluster zone as an RFC 1035 master file: every record dns serve would answer.",
        discussion: """
            For serving the same records from another server (NSD, BIND) or diffing two clusters' DNS. \
            Pod names in `--pods insecure` mode and the records behind ExternalName targets outside the \
            zone cannot be listed and are left out (the file's header says so).
            """)

    @Option(help: ArgumentHelp("The zone to print, one of the zones answered (default: the first forward zone).", valueName: "zone"))
    var origin: String?

    @Option(help: ArgumentHelp(
        "The DNS server's own address, for the zone's NS records (repeat it; dns serve uses its listen address).",
        valueName: "ip"))
    var serverAddress: [String] = []

    @OptionGroup var zone: DNSZoneArguments

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories (Services, EndpointSlices, Endpoints, Pods, Namespaces); '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws {
        try source.validate(manifests: manifests)
        for a in serverAddress where IPAddress(a) == nil { throw ValidationError("--server-address '\(a)' is not an IP address") }
        if let origin {
            guard let name = DNSName(origin) else { throw ValidationError("'\(origin)' is not a domain name") }
            guard zone.options().zones.contains(name) else {
                throw ValidationError("--origin \(origin) is not one of the zones answered (add it with --zone)")
            }
        }
    }

    func run() throws {
        let text = try reportingErrors { () throws -> String in
            var options = zone.options()
            options.localIPs = serverAddress.compactMap { IPAddress($0) }
            let kubernetes = KubernetesZone(options: options, cluster: try source.load(manifests, resources: KubeResource.dns))
            return ZoneFile.text(of: kubernetes, origin: origin.flatMap { DNSName($0) } ?? options.primaryZone)
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
