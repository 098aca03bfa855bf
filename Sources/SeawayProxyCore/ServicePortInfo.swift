import SeawayModel

/// One service port as a proxier of one IP family sees it (kube-proxy's `BaseServicePortInfo`):
/// addresses filtered to the family, policies resolved, health-check port decided.
public struct ServicePortInfo: Sendable, Hashable {
    public var name: ServicePortName
    public var clusterIP: IPAddress
    public var port: Int
    public var nodePort: Int
    /// `status.loadBalancer.ingress` IPs in VIP mode and of this family.
    public var loadBalancerVIPs: [IPAddress]
    public var sessionAffinityClientIP: Bool
    public var stickyMaxAgeSeconds: Int
    public var externalIPs: [IPAddress]
    public var loadBalancerSourceRanges: [CIDR]
    public var healthCheckNodePort: Int
    public var externalPolicyLocal: Bool
    public var internalPolicyLocal: Bool

    public var proto: L4Protocol { name.proto }

    /// Reachable through something other than the ClusterIP (NodePort, external or LB IP).
    public var externallyAccessible: Bool {
        nodePort != 0 || !loadBalancerVIPs.isEmpty || !externalIPs.isEmpty
    }

    /// Uses Cluster-policy endpoints: for internal traffic, or to short-circuit external
    /// traffic that originates in the cluster even under `externalTrafficPolicy: Local`.
    public var usesClusterEndpoints: Bool { !internalPolicyLocal || externallyAccessible }

    public var usesLocalEndpoints: Bool { internalPolicyLocal || (externalPolicyLocal && externallyAccessible) }

    /// Whether the load-balancer firewall lets the VIPs themselves through as sources: when
    /// a source range holds the node's IP, since a VIP bound locally makes the node's own
    /// connections to it arrive from the VIP (kube-proxy's rule in every mode).
    public func sourceRangesAdmitVIPs(nodeIP: IPAddress?) -> Bool {
        guard let nodeIP else { return false }
        return loadBalancerSourceRanges.contains { $0.contains(nodeIP) }
    }

    /// The service-port infos kube-proxy's ServiceChangeTracker derives from `service` for
    /// `family`; empty when kube-proxy would not proxy it (headless, ExternalName, no
    /// ClusterIP of the family, or handled by another proxy).
    public static func infos(for service: Service, family: IPFamily) -> [ServicePortInfo] {
        var infos: [ServicePortInfo] = []
        withUnsafePointer(to: service) { appendInfos(for: $0, family: family, to: &infos) }
        return infos
    }

    /// Appends `infos(for:family:)` to `infos`, reading the service where it is, each field
    /// through the pointer: a copy of a Service retains every string and array in it, and
    /// this runs for every service of a render.
    static func appendInfos(for service: UnsafePointer<Service>, family: IPFamily, to infos: inout [ServicePortInfo]) {
        if service.pointee.type == .externalName || service.pointee.isHeadless { return }
        if service.pointee.metadata.labels["service.kubernetes.io/service-proxy-name"] != nil { return }
        // `clusterIP(for:)`'s test, spelled out: calling that method (another module's) took a
        // copy of the whole Service to pass as `self`.
        guard let clusterIP = service.pointee.clusterIPs.first(where: { $0.family == family }) else { return }

        let exposesExternally = service.pointee.type == .nodePort || service.pointee.type == .loadBalancer || !service.pointee.externalIPs.isEmpty
        let externalLocal = exposesExternally && service.pointee.externalTrafficPolicy == .local
        let lbVIPs = service.pointee.loadBalancerIngress.compactMap { ing -> IPAddress? in
            guard ing.isVIPMode, let ip = ing.ip, ip.family == family else { return nil }
            return ip
        }
        // Only LoadBalancer services with Local policy get a health-check node port.
        let healthCheck = service.pointee.type == .loadBalancer && externalLocal ? service.pointee.healthCheckNodePort : 0

        // What every port shares, read once (and not captured with the whole Service).
        let namespace = service.pointee.metadata.namespace, name = service.pointee.metadata.name
        let affinity = service.pointee.sessionAffinityClientIP
        let stickySeconds = affinity ? service.pointee.sessionAffinityTimeout : 0
        let externalIPs = service.pointee.externalIPs.filter { $0.family == family }
        let sourceRanges = service.pointee.loadBalancerSourceRanges.filter { $0.family == family }
        let internalLocal = service.pointee.internalTrafficPolicy == .local
        for port in service.pointee.ports {
            infos.append(ServicePortInfo(
                name: ServicePortName(namespace: namespace, name: name, port: port.name, proto: port.proto),
                clusterIP: clusterIP, port: port.port, nodePort: port.nodePort,
                loadBalancerVIPs: lbVIPs,
                sessionAffinityClientIP: affinity,
                stickyMaxAgeSeconds: stickySeconds,
                externalIPs: externalIPs,
                loadBalancerSourceRanges: sourceRanges,
                healthCheckNodePort: healthCheck,
                externalPolicyLocal: externalLocal,
                internalPolicyLocal: internalLocal))
        }
    }
}
