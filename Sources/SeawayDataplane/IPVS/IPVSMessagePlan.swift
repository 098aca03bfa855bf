import SeawayKernel
import SeawayModel
import SeawayNetlink
import SeawayRender

/// IPVS mode on the kernel. Programming virtual servers needs the kernel's IPVS (the
/// generic netlink family "IPVS"); without it `apply` stops before changing anything.
public enum IPVSApplier {
    /// The IPVS generic netlink family's id; throws "IPVS unavailable" when the kernel has
    /// no IPVS.
    @discardableResult
    public static func requireIPVS() throws(DataplaneError) -> UInt16 {
        let family: Int32?
        do { family = try GenericNetlink.family("IPVS") } catch {
            throw DataplaneError("IPVS unavailable: cannot ask the kernel", error)
        }
        guard let family else {
            throw DataplaneError("IPVS unavailable: this kernel has no IPVS (CONFIG_IP_VS / the ip_vs module); nothing was changed. Use --mode nftables or --mode iptables")
        }
        return UInt16(family)
    }

    /// The generic netlink messages that move the kernel's virtual servers from `old` (what
    /// the last sync programmed; empty for the first) to `new`, for the IPVS family id
    /// `family`. Only differences are sent, so an endpoint change costs a message or two
    /// whatever the cluster's size (kube-proxy's IPVS proxier reaches the same state by
    /// listing the kernel's services every sync). New services come with their real servers
    /// (NAT, kube-proxy's only forwarding method); a changed scheduler or persistence is
    /// one SET_SERVICE; added real servers come before removed ones, so a service is never
    /// left empty in between; a removed service takes its real servers with it.
    /// kube-proxy drains a removed real server (weight 0 until its connections end); Seaway
    /// removes it at once. Real servers always weigh 1 (as kube-proxy's), so no weight
    /// changes in place.
    public static func messages(from old: [IPVSRuleset] = [], to new: [IPVSRuleset], family: UInt16) -> [[UInt8]] {
        messages(from: old.flatMap(\.virtualServers), to: new.flatMap(\.virtualServers), family: family)
    }

    /// The same, between two lists of virtual servers (what the kernel has, say).
    public static func messages(from oldServers: [IPVSRuleset.VirtualServer], to newServers: [IPVSRuleset.VirtualServer],
                                family: UInt16) -> [[UInt8]] {
        struct Key: Hashable {
            var address: IPAddress, port: Int, proto: L4Protocol
            init(_ vs: IPVSRuleset.VirtualServer) { (address, port, proto) = (vs.address, vs.port, vs.proto) }
        }
        struct Destination: Hashable {
            var address: IPAddress, port: Int
            init(_ rs: IPVSRuleset.RealServer) { (address, port) = (rs.address, rs.port) }
        }
        func destination(_ rs: IPVSRuleset.RealServer) -> IPVSDestination {
            IPVSDestination(address: rs.address, port: UInt16(rs.port), weight: UInt32(rs.weight))
        }
        var before: [Key: IPVSRuleset.VirtualServer] = [:]
        for vs in oldServers { before[Key(vs)] = vs }
        var out: [[UInt8]] = []
        var kept: Set<Key> = []
        for vs in newServers {
            let key = Key(vs), service = IPVSApplier.service(vs)
            kept.insert(key)
            guard let was = before[key] else {
                out.append(IPVSMessages.newService(service, family: family))
                for rs in vs.realServers { out.append(IPVSMessages.newDestination(destination(rs), of: service, family: family)) }
                continue
            }
            if IPVSApplier.service(was) != service { out.append(IPVSMessages.setService(service, family: family)) }
            let had = Set(was.realServers.map(Destination.init)), has = Set(vs.realServers.map(Destination.init))
            for rs in vs.realServers where !had.contains(Destination(rs)) {
                out.append(IPVSMessages.newDestination(destination(rs), of: service, family: family))
            }
            for rs in was.realServers where !has.contains(Destination(rs)) {
                out.append(IPVSMessages.deleteDestination(destination(rs), of: service, family: family))
            }
        }
        for vs in oldServers where !kept.contains(Key(vs)) {
            out.append(IPVSMessages.deleteService(IPVSApplier.service(vs), family: family))
        }
        return out
    }

    /// A virtual server as the kernel lists it (no service port name: the kernel has none).
    static func virtualServer(_ s: IPVSService, _ destinations: [IPVSDestination]) -> IPVSRuleset.VirtualServer {
        let proto: L4Protocol
        switch s.proto {
        case .tcp: proto = .tcp
        case .udp: proto = .udp
        case .sctp: proto = .sctp
        }
        return IPVSRuleset.VirtualServer(
            address: s.address, port: Int(s.port), proto: proto, scheduler: s.scheduler,
            persistenceTimeout: s.persistenceSeconds.map(Int.init), sourceHashPort: s.hashSourcePort,
            realServers: destinations.map { .init(address: $0.address, port: Int($0.port), weight: Int($0.weight)) }, service: "")
    }

    static func service(_ vs: IPVSRuleset.VirtualServer) -> IPVSService {
        let proto: IPVSService.TransportProtocol
        switch vs.proto {
        case .tcp: proto = .tcp
        case .udp: proto = .udp
        case .sctp: proto = .sctp
        }
        var s = IPVSService(address: vs.address, port: UInt16(vs.port), proto: proto, scheduler: vs.scheduler)
        s.persistenceSeconds = vs.persistenceTimeout.map(UInt32.init)
        s.hashSourcePort = vs.sourceHashPort
        return s
    }
}
