import SeawayModel

/// What the userspace mode does for one family: the proxy's listeners (portals), each with
/// the destinations redirected to it and the endpoints it forwards to, and the destinations
/// whose packets are refused in the kernel because no endpoint may take them. Derived from
/// the same service map as every other mode (traffic policies, terminating fallback,
/// topology). Pure: the renderer writes the redirect rules from it, the proxy opens its
/// listeners from it.
public struct UserspacePlan: Sendable, Hashable {
    /// One listener of the proxy.
    public struct Portal: Sendable, Hashable {
        public var name: ServicePortName
        /// `ns/name:port/tcp`, plus ` external` for the listener of external traffic when it
        /// needs other endpoints than the ClusterIP's (a Local traffic policy on one side).
        public var key: String
        public var proto: L4Protocol
        /// Takes only external traffic (NodePort, external and load-balancer IPs).
        public var externalOnly: Bool { key.hasSuffix(Self.externalSuffix) }
        static let externalSuffix = " external"
        /// The proxy's local port (ProxyPortAllocator).
        public var proxyPort: Int
        /// Destination addresses (ClusterIP, external IPs, load-balancer IPs) whose packets to
        /// `servicePort` are redirected here.
        public var addresses: [IPAddress]
        public var servicePort: Int
        /// Packets to this port on any local address are redirected here too (0: none).
        public var nodePort: Int
        public var endpoints: [EndpointInfo]
        /// ClientIP affinity's timeout; nil without affinity.
        public var affinitySeconds: Int?

        public init(name: ServicePortName, key: String, proto: L4Protocol, proxyPort: Int, addresses: [IPAddress],
                    servicePort: Int, nodePort: Int, endpoints: [EndpointInfo], affinitySeconds: Int?) {
            self.name = name
            self.key = key
            self.proto = proto
            self.proxyPort = proxyPort
            self.addresses = addresses
            self.servicePort = servicePort
            self.nodePort = nodePort
            self.endpoints = endpoints
            self.affinitySeconds = affinitySeconds
        }
    }

    /// A destination the kernel refuses: `reject` when the service has no usable endpoint
    /// anywhere, `drop` when only a Local policy leaves it none on this node (kube-proxy's
    /// verdicts for the two cases).
    public struct Refused: Sendable, Hashable {
        public enum Verdict: String, Sendable { case reject, drop }
        public var name: ServicePortName
        public var proto: L4Protocol
        /// nil: the node port on every local address.
        public var address: IPAddress?
        public var port: Int
        public var verdict: Verdict
    }

    /// A load balancer's `loadBalancerSourceRanges`: new connections to `vips` on `port`
    /// from any other source are dropped before the redirect (kube-proxy's firewall chains).
    public struct Firewall: Sendable, Hashable {
        public var name: ServicePortName
        public var proto: L4Protocol
        public var vips: [IPAddress]
        public var port: Int
        public var sourceRanges: [CIDR]
        /// The VIPs are allowed as sources too (`ServicePortInfo.sourceRangesAdmitVIPs`).
        public var admitsVIPs: Bool
    }

    public var family: IPFamily
    /// Sorted by key.
    public var portals: [Portal] = []
    /// In service-port order.
    public var firewalls: [Firewall] = []
    /// The local addresses that take NodePort traffic (`--nodeport-addresses`); nil: every
    /// local address does.
    public var nodePortIPs: [IPAddress]? = nil
    /// In service-port order, addresses before the node port.
    public var refused: [Refused] = []
    /// Ports the userspace proxy cannot carry (SCTP, as kube-proxy's userspace mode).
    public var unsupported: [ServicePortName] = []

    /// An empty plan.
    public init(family: IPFamily) {
        self.family = family
    }

    /// The plan for `map`; `allocator` keeps the ports it gave earlier listeners.
    public init(_ map: ServiceMap, allocator: inout ProxyPortAllocator) throws(ProxyPortAllocator.Exhausted) {
        family = map.family
        if !map.nodePortAddresses.matchAll {
            nodePortIPs = map.nodePortAddresses.nodeIPs(interfaceAddresses: map.options.interfaceAddresses)
        }
        let nodeIP = map.options.primaryIP(map.family)
        struct Draft {
            var name: ServicePortName, key: String, addresses: [IPAddress], nodePort: Int
            var endpoints: [EndpointInfo], affinity: Int?, servicePort: Int
        }
        var drafts: [Draft] = []
        for sp in map.ports {
            let info = sp.info
            guard info.proto != .sctp else {
                unsupported.append(info.name)
                continue
            }
            let key = "\(info.name)/\(info.proto.lowercased)"
            let affinity = info.sessionAffinityClientIP ? info.stickyMaxAgeSeconds : nil
            let internalEndpoints = info.internalPolicyLocal ? sp.endpoints.local : sp.endpoints.cluster
            let externalEndpoints = info.externalPolicyLocal ? sp.endpoints.local : sp.endpoints.cluster
            let externalAddresses = info.externalIPs + info.loadBalancerVIPs
            let refusal: Refused.Verdict = sp.endpoints.hasAnyEndpoints ? .drop : .reject

            // As kube-proxy's nftables mode: with or without endpoints.
            if !info.loadBalancerVIPs.isEmpty && !info.loadBalancerSourceRanges.isEmpty {
                firewalls.append(Firewall(name: info.name, proto: info.proto, vips: info.loadBalancerVIPs, port: info.port,
                                          sourceRanges: info.loadBalancerSourceRanges,
                                          admitsVIPs: info.sourceRangesAdmitVIPs(nodeIP: nodeIP)))
            }
            func refuse(_ address: IPAddress?, _ port: Int) {
                refused.append(Refused(name: info.name, proto: info.proto, address: address, port: port, verdict: refusal))
            }
            var internalDraft: Draft? = nil
            if internalEndpoints.isEmpty {
                refuse(info.clusterIP, info.port)
            } else {
                internalDraft = Draft(name: info.name, key: key, addresses: [info.clusterIP], nodePort: 0,
                                      endpoints: internalEndpoints, affinity: affinity, servicePort: info.port)
            }
            if info.externallyAccessible {
                if externalEndpoints.isEmpty {
                    for address in externalAddresses { refuse(address, info.port) }
                    if info.nodePort != 0 { refuse(nil, info.nodePort) }
                } else if var shared = internalDraft, externalEndpoints == internalEndpoints {
                    // Same endpoints either way: one listener takes both.
                    shared.addresses += externalAddresses
                    shared.nodePort = info.nodePort
                    internalDraft = shared
                } else {
                    drafts.append(Draft(name: info.name, key: key + Portal.externalSuffix, addresses: externalAddresses,
                                        nodePort: info.nodePort, endpoints: externalEndpoints, affinity: affinity,
                                        servicePort: info.port))
                }
            }
            if let internalDraft { drafts.append(internalDraft) }
        }
        let ports = try allocator.assign(drafts.map(\.key))
        portals = drafts.map { d in
            Portal(name: d.name, key: d.key, proto: d.name.proto, proxyPort: ports[d.key]!, addresses: d.addresses,
                   servicePort: d.servicePort, nodePort: d.nodePort, endpoints: d.endpoints, affinitySeconds: d.affinity)
        }.sorted { $0.key < $1.key }
    }
}
