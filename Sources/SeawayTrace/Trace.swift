import SeawayDNS
import SeawayModel
import SeawayPolicy
import SeawayProxyCore

/// One trace: how a connection from a pod to `NAME[:PORT]` would go, layer by layer, as the
/// cluster's DNS, the source node's rules and the policies decide it. A value: Tracer
/// computes it, TraceReport prints it.
public struct Trace: Sendable {
    /// The name step: every name the pod's resolver tries (search path, ndots), with what
    /// the cluster's DNS answers.
    public struct Resolution: Sendable {
        public var query: String
        public var lookup: DNSLookup
        /// The A/AAAA addresses of the final answer.
        public var addresses: [IPAddress]
        /// The CNAME target when the name is an ExternalName service.
        public var externalName: DNSName?
    }

    /// What the destination address is.
    public enum Destination: Sendable {
        /// A service port on its ClusterIP (or an external / load-balancer IP).
        case service(ServicePortInfo, address: IPAddress)
        /// A pod's own address (a headless service's answer, or a pod IP given directly).
        case pod(IPAddress, port: Int)
        /// An address the cluster does not know: routed off the pod network.
        case outside(IPAddress, port: Int)
    }

    /// A candidate endpoint of the service port and whether the node's rules use it.
    public struct Candidate: Sendable {
        public var endpoint: EndpointInfo
        /// `ns/name` of the pod with that address, when the manifests have it.
        public var pod: String?
        public var node: String?
        /// nil: used; else why the rules leave it out.
        public var unusedBecause: String?
    }

    /// Rules the packet meets, in order: a chain (or map, or virtual server) and its lines.
    public struct RuleStep: Sendable {
        public var location: String
        public var lines: [String]
    }

    /// A used endpoint (or the pod dialled directly) and the policies' verdict on reaching it.
    public struct Reach: Sendable {
        public var address: IPAddress
        public var port: Int
        public var pod: String?
        public var policy: PolicyVerdict
    }

    public var source: String
    /// `--to` as given.
    public var target: String
    public var sourceNode: String
    public var mode: ProxyMode
    public var proto: L4Protocol
    public var resolution: Resolution?
    public var destination: Destination?
    public var candidates: [Candidate] = []
    public var rules: [RuleStep] = []
    public var reaches: [Reach] = []
    /// Where the trace stopped short of an endpoint, if it did (DNS failed, no such port, no
    /// endpoints, an ExternalName...).
    public var stopped: String?
    /// The connection leaves the cluster (an ExternalName, a name outside the zones, an
    /// address that is no pod's or service's): what happens there is not the cluster's.
    public var leavesCluster = false

    public enum Outcome: Sendable {
        /// Some endpoint (or the pod, or the outside address) can take the connection.
        case serves
        /// Nothing in the cluster can: DNS, the rules or policy stop it.
        case fails
        /// The cluster's part allows it, or cannot see it; the rest is outside the cluster.
        case leavesCluster
    }

    public var outcome: Outcome {
        if leavesCluster { return reaches.allSatisfy(\.policy.allowed) ? .leavesCluster : .fails }
        return serving.isEmpty ? .fails : .serves
    }

    /// The endpoints that can serve the connection (rules lead there and policy allows it).
    public var serving: [Reach] { reaches.filter(\.policy.allowed) }
    public var blocked: [Reach] { reaches.filter { !$0.policy.allowed } }
}
