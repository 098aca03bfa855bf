import SeawayKernel
import SeawayNetlink

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
}
