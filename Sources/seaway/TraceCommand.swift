import ArgumentParser
import Foundation
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayTrace

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Follow one connection from a pod: DNS, the service port, endpoints, the node's rules, NetworkPolicy.",
        discussion: """
            NAME is resolved as the pod's resolver would (its namespace's search path, ndots:5) \
            against the cluster DNS's answers; the address and port give the service port; the \
            rules of the pod's node (--hostname-override to pick another) select the endpoints \
            (traffic policies, topology, terminating endpoints), shown as the rules --mode \
            writes them (chain by chain, or the nftables map lookups); NetworkPolicy and the \
            admin tiers decide each endpoint. The verdict names the endpoints that can serve \
            and what blocks the others. Exit status: 0 when some endpoint can serve, 2 when \
            none can, 3 when the connection leaves the cluster (an ExternalName, a name outside \
            the zones, an outside address the source may reach), 1 for bad input.
            """)

    @Option(help: ArgumentHelp("The pod the connection starts from.", valueName: "namespace/pod"))
    var from: String

    @Option(help: ArgumentHelp("Where it goes: a name (service, headless, ExternalName) or an address, with a port number or service port name.",
                               valueName: "name[:port]"))
    var to: String

    @Option(help: "The node's proxy mode: iptables (kube-proxy's default), nftables, ipvs or userspace.")
    var mode: ProxyMode = .iptables

    @Option(name: .customLong("protocol"), help: "TCP, UDP or SCTP.")
    var proto: String = "TCP"

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    @OptionGroup var proxy: ProxyInputOptions

    @OptionGroup var zone: DNSZoneArguments

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories (Services, EndpointSlices, Pods, Nodes, Namespaces, policies); '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws {
        try source.validate(manifests: manifests)
        guard L4Protocol(rawValue: proto.uppercased()) != nil else { throw ValidationError("--protocol must be TCP, UDP or SCTP") }
    }

    func run() throws {
        let trace = try reportingErrors { () throws -> Trace in
            let cluster = try source.load(manifests)
            let source = try Tracer.sourcePod(from, in: cluster)
            var node = proxy
            // The rules that matter are those of the source pod's node.
            if node.hostnameOverride == nil { node.hostnameOverride = source.nodeName }
            let options = try node.resolve(mode: mode, cluster: cluster)
            return try Tracer(cluster: cluster, options: options, dns: zone.options())
                .trace(from: source, to: to, proto: L4Protocol(rawValue: proto.uppercased())!, mode: mode)
        }
        let text = output == .json ? try trace.json() : trace.text
        FileHandle.standardOutput.write(Data(text.utf8))
        switch trace.outcome {
        case .serves: break
        case .fails: throw ExitCode(2)
        case .leavesCluster: throw ExitCode(3)
        }
    }
}
