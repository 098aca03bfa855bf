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

/// A generic netlink socket that sends messages built elsewhere as bytes (`IPVSMessages`):
/// requests answered by an ACK, and dumps answered by replies up to NLMSG_DONE. It stays in
/// the network namespace of the thread that opened it. Not Sendable: one thread uses it.
public final class GenericNetlinkSocket {
    private let descriptor: CInt
    private var sequence: UInt32 = 0
    /// Replies are read into this; a dump's part is at most a page or two per message.
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    public init() throws(SystemError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_GENERIC)
        guard fd >= 0 else { throw SystemError.current("open a generic netlink socket") }
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        guard bound == 0 else {
            let error = SystemError.current("bind a generic netlink socket")
            close(fd)
            throw error
        }
        // The kernel's reason with each error, without an echo of the request (as RouteNetlink).
        var one: CInt = 1
        setsockopt(fd, 270 /* SOL_NETLINK */, 11 /* NETLINK_EXT_ACK */, &one, 4)
        setsockopt(fd, 270 /* SOL_NETLINK */, 10 /* NETLINK_CAP_ACK */, &one, 4)
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Sends `message` (a whole netlink message) asking for an ACK and waits for it. The
    /// error names `operation` and carries the kernel's errno and extended-ACK text.
    public func request(_ message: [UInt8], _ operation: String) throws(SystemError) {
        let sequence = try send(message, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), operation)
        var acknowledged = false
        try receive(sequence, operation) { (header) throws(SystemError) -> Bool in
            guard header.pointee.nlmsg_type == UInt16(NLMSG_ERROR) else { return true }
            try RouteNetlink.check(header, operation)
            acknowledged = true
            return false
        }
        guard acknowledged else { throw SystemError(operation, errno: EIO) }
    }

    /// Sends `message` as a dump request and returns every reply (whole messages, header
    /// included) up to the kernel's NLMSG_DONE.
    public func dump(_ message: [UInt8], _ operation: String) throws(SystemError) -> [[UInt8]] {
        let sequence = try send(message, flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), operation)
        var replies: [[UInt8]] = []
        try receive(sequence, operation) { (header) throws(SystemError) -> Bool in
            switch Int32(header.pointee.nlmsg_type) {
            case NLMSG_DONE:
                return false
            case NLMSG_ERROR:
                try RouteNetlink.check(header, operation)
                return false
            default:
                replies.append(Array(UnsafeRawBufferPointer(start: header, count: Int(header.pointee.nlmsg_len))))
                return true
            }
        }
        return replies
    }

    /// Writes our sequence number, port 0 (the kernel assigns ours) and `flags` into a copy
    /// of `message` and sends it; returns the sequence number.
    private func send(_ message: [UInt8], flags: UInt16, _ operation: String) throws(SystemError) -> UInt32 {
        guard message.count >= MemoryLayout<nlmsghdr>.size else { throw SystemError(operation, errno: EINVAL) }
        sequence &+= 1
        var bytes = message
        let sequence = self.sequence
        bytes.withUnsafeMutableBytes { raw in
            let header = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
            header.pointee.nlmsg_flags = flags
            header.pointee.nlmsg_seq = sequence
            header.pointee.nlmsg_pid = 0
        }
        while true {
            let sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
            if sent == bytes.count { return sequence }
            if sent < 0, errno == EINTR { continue }
            throw sent < 0 ? SystemError.current(operation) : SystemError(operation, errno: EIO)
        }
    }

    /// Reads datagrams and hands each message of `sequence` to `body` until it returns false.
    private func receive(_ sequence: UInt32, _ operation: String,
                         _ body: (UnsafeMutablePointer<nlmsghdr>) throws(SystemError) -> Bool) throws(SystemError) {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.current(operation)
            }
            var more = true
            var failure: SystemError?
            buffer.withUnsafeMutableBytes { raw in
                var remaining = Int32(n)
                var header = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
                while more, nlmsg_ok(header, remaining) != 0 {
                    if header.pointee.nlmsg_seq == sequence {
                        do throws(SystemError) { more = try body(header) } catch { failure = error; return }
                    }
                    header = nlmsg_next(header, &remaining)
                }
            }
            if let failure { throw failure }
            if !more { return }
        }
    }
}
