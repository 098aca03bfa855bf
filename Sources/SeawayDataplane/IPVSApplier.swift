import SeawayKernel
import SeawayModel
import SeawayNetlink
import SeawayRender

/// IPVS mode on the kernel. Programming virtual servers needs the kernel's IPVS (the
/// generic netlink family "IPVS"); without it `apply` stops before changing anything.
public enum IPVSApplier {
    /// Throws "IPVS unavailable" when the kernel has no IPVS.
    public static func requireIPVS() throws(DataplaneError) {
        let family: Int32?
        do { family = try GenericNetlink.family("IPVS") } catch {
            throw DataplaneError("IPVS unavailable: cannot ask the kernel", error)
        }
        guard family != nil else {
            throw DataplaneError("IPVS unavailable: this kernel has no IPVS (CONFIG_IP_VS / the ip_vs module); nothing was changed. Use --mode nftables or --mode iptables")
        }
    }

    /// The generic netlink messages that program `rulesets`' virtual servers and their real
    /// servers (NAT, kube-proxy's only forwarding method), for the IPVS family id `family`:
    /// each service, then its destinations. What `apply` would send on a kernel with IPVS.
    public static func messages(_ rulesets: [IPVSRuleset], family: UInt16) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for ruleset in rulesets {
            for vs in ruleset.virtualServers {
                let service = IPVSApplier.service(vs)
                out.append(IPVSMessages.newService(service, family: family))
                for rs in vs.realServers {
                    out.append(IPVSMessages.newDestination(IPVSDestination(address: rs.address, port: UInt16(rs.port), weight: UInt32(rs.weight)),
                                                           of: service, family: family))
                }
            }
        }
        return out
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
