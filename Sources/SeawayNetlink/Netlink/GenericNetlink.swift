import CNetlink
import Glibc
import SeawayKernel

/// Generic netlink: whether the kernel knows a family (IPVS is "IPVS").
public enum GenericNetlink {
    /// The family's id, or nil when this kernel has no such family.
    public static func family(_ name: String) throws(SystemError) -> Int32? {
        guard let s = nl_socket_alloc() else { throw SystemError("allocate a netlink socket", errno: ENOMEM) }
        defer { nl_socket_free(s) }
        let rc = genl_connect(s)
        guard rc == 0 else { throw SystemError("connect to generic netlink", errno: RouteNetlink.errno(fromLibnl: rc)) }
        let id = genl_ctrl_resolve(s, name)
        if id >= 0 { return id }
        if id == -NLE_OBJ_NOTFOUND { return nil }
        throw SystemError("look up generic netlink family \(name)", errno: RouteNetlink.errno(fromLibnl: id))
    }
}
