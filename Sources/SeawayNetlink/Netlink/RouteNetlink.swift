import SeawayKernel
import CNetlink
import Glibc

/// One rtnetlink socket. It stays bound to the network namespace of the thread that opened
/// it, so open it inside `NetworkNamespace.run` to work on another namespace. Not Sendable:
/// libnl's socket is used from one thread.
public final class RouteNetlink {
    let socket: OpaquePointer

    public init() throws(SystemError) {
        guard let s = nl_socket_alloc() else { throw SystemError("allocate a netlink socket", errno: ENOMEM) }
        let rc = nl_connect(s, NETLINK_ROUTE)
        guard rc == 0 else {
            nl_socket_free(s)
            throw SystemError("connect to rtnetlink", errno: RouteNetlink.errno(fromLibnl: rc))
        }
        socket = s
        // `request` reads its own ACKs, which libnl's expected-sequence counter never sees;
        // each exchange matches its own sequence number instead.
        nl_socket_disable_seq_check(s)
        // Ask for the kernel's reason with each error (extended ACK), without an echo of the
        // whole request (capped ACK), so errors can say what the kernel said.
        var one: Int32 = 1
        let fd = nl_socket_get_fd(s)
        setsockopt(fd, 270 /* SOL_NETLINK */, 11 /* NETLINK_EXT_ACK */, &one, 4)
        setsockopt(fd, 270 /* SOL_NETLINK */, 10 /* NETLINK_CAP_ACK */, &one, 4)
    }

    deinit { nl_socket_free(socket) }

    /// Sends `message` and waits for its ACK. libnl's own ACK path maps the kernel's errno
    /// to coarser NLE codes, so the ACK is read here: the error keeps the errno and the
    /// kernel's extended-ACK text.
    func request(_ message: NetlinkMessage, _ operation: String) throws(SystemError) {
        nl_complete_msg(socket, message.message)
        let header = nlmsg_hdr(message.message)!
        header.pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
        let sequence = header.pointee.nlmsg_seq
        let sent = nl_send(socket, message.message)
        guard sent >= 0 else { throw SystemError(operation, errno: RouteNetlink.errno(fromLibnl: sent)) }
        while true {
            var peer = sockaddr_nl()
            var buffer: UnsafeMutablePointer<UInt8>? = nil
            let n = nl_recv(socket, &peer, &buffer, nil)
            guard n > 0, let buffer else {
                free(buffer)
                throw SystemError(operation, errno: n == 0 ? EIO : RouteNetlink.errno(fromLibnl: n))
            }
            defer { free(buffer) }
            var remaining = n
            var hdr = UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: nlmsghdr.self)
            while nlmsg_ok(hdr, remaining) != 0 {
                if hdr.pointee.nlmsg_seq == sequence && hdr.pointee.nlmsg_type == UInt16(NLMSG_ERROR) {
                    try RouteNetlink.check(hdr, operation)
                    return
                }
                hdr = nlmsg_next(hdr, &remaining)
            }
        }
    }

    /// Throws the error an NLMSG_ERROR message carries, with the kernel's extended-ACK
    /// text; returns for an ACK (error 0).
    static func check(_ hdr: UnsafeMutablePointer<nlmsghdr>, _ operation: String) throws(SystemError) {
        let error = nlmsg_data(hdr)!.assumingMemoryBound(to: nlmsgerr.self).pointee.error
        if error != 0 {
            throw SystemError(operation, errno: -error, kernelMessage: RouteNetlink.extendedAckMessage(hdr))
        }
    }

    /// NLMSGERR_ATTR_MSG of a capped error message, if the kernel sent one.
    static func extendedAckMessage(_ hdr: UnsafeMutablePointer<nlmsghdr>) -> String? {
        guard hdr.pointee.nlmsg_flags & 0x200 /* NLM_F_ACK_TLVS */ != 0 else { return nil }
        let headerBytes = Int(seaway_nlmsg_align(Int32(MemoryLayout<nlmsghdr>.size)))
        let errorBytes = Int(seaway_nlmsg_align(Int32(MemoryLayout<nlmsgerr>.size)))
        let length = Int(hdr.pointee.nlmsg_len) - headerBytes - errorBytes
        guard length > 0 else { return nil }
        let tlvs = (UnsafeMutableRawPointer(hdr) + headerBytes + errorBytes).assumingMemoryBound(to: nlattr.self)
        guard let attribute = nla_find(tlvs, Int32(length), 1 /* NLMSGERR_ATTR_MSG */) else { return nil }
        return String(cString: nla_get_string(attribute))
    }

    /// libnl's NLE_* codes back to the errno they stand for (for the few libnl-only paths:
    /// connecting, dumps); an unknown code becomes EIO.
    static func errno(fromLibnl code: Int32) -> Int32 {
        switch -abs(code) {
        case -NLE_NOMEM: return ENOMEM
        case -NLE_PERM: return EPERM
        case -NLE_EXIST: return EEXIST
        case -NLE_INVAL: return EINVAL
        case -NLE_RANGE: return ERANGE
        case -NLE_OPNOTSUPP: return EOPNOTSUPP
        case -NLE_BUSY: return EBUSY
        case -NLE_AGAIN: return EAGAIN
        case -NLE_OBJ_NOTFOUND, -NLE_NODEV: return ENODEV
        case -NLE_NOADDR: return EADDRNOTAVAIL
        case -NLE_AF_NOSUPPORT: return EAFNOSUPPORT
        case -NLE_PROTO_MISMATCH: return EPROTONOSUPPORT
        default: return EIO
        }
    }

    /// An rtnetlink message of `type` for the link at `index` with an `ifinfomsg` header.
    func linkMessage(_ type: Int, flags: Int32 = 0, family: Int32 = AF_UNSPEC, index: Int32 = 0,
                     setFlags: UInt32 = 0, changeFlags: UInt32 = 0) -> NetlinkMessage {
        let m = NetlinkMessage(type: type, flags: flags)
        var info = ifinfomsg()
        info.ifi_family = UInt8(family)
        info.ifi_index = index
        info.ifi_flags = setFlags
        info.ifi_change = changeFlags
        m.append(info)
        return m
    }
}
