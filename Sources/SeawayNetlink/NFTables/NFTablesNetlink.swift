import SeawayKernel
import CNftables
import Glibc

/// An nfnetlink socket for nf_tables, bound to the namespace of the thread that opened it.
/// `apply` sends a transaction as one batch: the kernel applies all of it or none of it.
public final class NFTablesNetlink {
    let socket: OpaquePointer
    private let portID: UInt32
    private var sequence: UInt32

    public init() throws(SystemError) {
        guard let s = mnl_socket_open(NETLINK_NETFILTER) else { throw .current("open an nftables netlink socket") }
        guard mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let error = SystemError.current("bind the nftables netlink socket")
            mnl_socket_close(s)
            throw error
        }
        var one: Int32 = 1
        // The kernel's reason with each error, without the whole request echoed back.
        mnl_socket_setsockopt(s, 11 /* NETLINK_EXT_ACK */, &one, 4)
        mnl_socket_setsockopt(s, 10 /* NETLINK_CAP_ACK */, &one, 4)
        // The kernel answers a batch before sendmsg returns; a reply that has not come within
        // seconds never will, and waiting forever would hang the caller.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        socket = s
        portID = mnl_socket_get_portid(s)
        sequence = UInt32(truncatingIfNeeded: time(nil))
    }

    deinit { mnl_socket_close(socket) }

    /// Sends `transaction` as one atomic batch. When the kernel refuses any part, nothing
    /// changes and the error names the first operation it refused.
    public func apply(_ transaction: NFTTransaction) throws(SystemError) {
        let operations = transaction.operations
        guard !operations.isEmpty else { return }
        var batch = makeBatch(expectedOperations: operations.count)
        for (i, operation) in operations.enumerated() { batch.append(operation, tag: UInt32(i)) }
        try apply(batch) { operations[Int($0)].description }
    }

    /// An empty batch for this socket, to fill with `append` and send with `apply`: a big
    /// transaction goes straight into netlink messages as it is compiled, never held whole
    /// as operations (at 10,000 services those took 200 MB).
    public func makeBatch(expectedOperations: Int = 0) -> NFTBatch {
        NFTBatch(firstSequence: sequence &+ 1, capacity: 16384 + expectedOperations * 256)
    }

    /// Sends `batch` as one atomic batch. When the kernel refuses any part, nothing changes
    /// and the error names the first operation it refused, as `describe(tag)` says it.
    public func apply(_ batch: consuming NFTBatch, describe: (UInt32) -> String) throws(SystemError) {
        let count = batch.count
        guard count > 0 else { return }
        let (begin, first, last) = (batch.firstSequence, batch.firstSequence &+ 1, batch.firstSequence &+ UInt32(count))
        let tags = batch.tags
        batch.finish()
        sequence = batch.endSequence
        let clock = ContinuousClock(), sending = clock.now
        defer { lastKernelTime = clock.now - sending }
        try batch.withBytes { bytes throws(SystemError) in
            try reserveSendBuffer(bytes.count)
            guard mnl_socket_sendto(socket, bytes.baseAddress, bytes.count) >= 0 else {
                throw .current("send an nftables batch of \(count) operations (\(bytes.count) bytes)")
            }
        }
        var failure: (UInt32, SystemError)? = nil
        var answered = false
        do {
            try receive(until: { answered }) { (seq, errno, message) in
                if seq == begin, errno != 0 {
                    // The kernel gave up on the whole batch (out of memory queueing errors).
                    answered = true
                    failure = failure ?? (seq, SystemError("nftables batch of \(count) operations", errno: errno, kernelMessage: message))
                    return
                }
                let index = Int(seq &- first)
                guard index >= 0, index < count else { return }
                if seq == last { answered = true }
                if errno != 0, failure == nil || seq < failure!.0 {
                    failure = (seq, SystemError(describe(tags[index]), errno: errno, kernelMessage: message))
                }
            }
        } catch {
            // ENOBUFS: more errors than the socket could queue. The batch failed either way.
            if let failure { throw failure.1 }
            throw error
        }
        if let failure { throw failure.1 }
    }

    private var sendBufferSize = 0

    /// How long the last `apply` spent from sending its batch to the kernel's last answer:
    /// the kernel's processing and commit (the nfnetlink batch runs inside sendmsg).
    public private(set) var lastKernelTime: Duration = .zero

    /// A netlink message must fit the socket's send buffer whole; root may raise it past
    /// the system limit (SO_SNDBUFFORCE), as `nft` does for big rulesets.
    private func reserveSendBuffer(_ bytes: Int) throws(SystemError) {
        guard bytes + 4096 > sendBufferSize, bytes > 200_000 else { return }
        var size = Int32(clamping: bytes + 65536)
        if setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_SNDBUFFORCE, &size, 4) != 0 {
            throw .current("raise the nftables socket's send buffer to \(size) bytes")
        }
        sendBufferSize = Int(size)
    }

    /// Whether `chain` exists.
    public func exists(_ chain: NFTChain) throws(SystemError) -> Bool {
        var found = false
        try ask(NFT_MSG_GETCHAIN, chain.table.family, dump: false, "look up chain \(chain.name)", build: { nlh in
            let c = nftnl_chain_alloc()!
            nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue), chain.table.name)
            nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue), chain.name)
            nftnl_chain_nlmsg_build_payload(nlh, c)
            nftnl_chain_free(c)
        }) { _ in found = true }
        return found
    }

    /// The rules of `chain` with their handles and comments; empty when the table or chain
    /// does not exist.
    public func rules(in chain: NFTChain) throws(SystemError) -> [NFTRuleHandle] {
        var out: [NFTRuleHandle] = []
        try ask(NFT_MSG_GETRULE, chain.table.family, dump: true, "list rules of chain \(chain.name)", build: { nlh in
            let rule = nftnl_rule_alloc()!
            nftnl_rule_set_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue), chain.table.name)
            nftnl_rule_set_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue), chain.name)
            nftnl_rule_nlmsg_build_payload(nlh, rule)
            nftnl_rule_free(rule)
        }) { nlh in
            let rule = nftnl_rule_alloc()!
            defer { nftnl_rule_free(rule) }
            guard nftnl_rule_nlmsg_parse(nlh, rule) >= 0 else { return }
            out.append(NFTRuleHandle(handle: nftnl_rule_get_u64(rule, UInt16(NFTNL_RULE_HANDLE.rawValue)),
                                     comment: NFTUserData.comment(of: rule)))
        }
        return out
    }

    /// Sends one query of `type` (its payload written by `build`) and hands each reply to
    /// `onReply`. A dump ends at its DONE, a single get at its one reply; ENOENT (no such
    /// table or chain) means no replies, not an error.
    private func ask(_ type: nf_tables_msg_types, _ family: NFTFamily, dump: Bool, _ operation: String,
                     build: (UnsafeMutablePointer<nlmsghdr>) -> Void,
                     onReply: (UnsafeMutablePointer<nlmsghdr>) -> Void) throws(SystemError) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        sequence &+= 1
        let seq = sequence
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let nlh = nftnl_nlmsg_build_hdr(raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(type.rawValue),
                                            family.rawValue, UInt16(dump ? NLM_F_DUMP : 0), seq)!
            build(nlh)
            return Int(nlh.pointee.nlmsg_len)
        }
        let sent = buffer.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, length) }
        guard sent >= 0 else { throw .current(operation) }
        var done = false
        var failure: SystemError? = nil
        try receive(until: { done }, onMessage: { nlh in
            guard nlh.pointee.nlmsg_seq == seq else { return }
            if nlh.pointee.nlmsg_type == UInt16(NLMSG_DONE) { done = true; return }
            onReply(nlh)
            if !dump { done = true }
        }) { (replySeq, errno, message) in
            guard replySeq == seq else { return }
            done = true
            if errno != 0 && errno != ENOENT { failure = SystemError(operation, errno: errno, kernelMessage: message) }
        }
        if let failure { throw failure }
    }

    /// Reads replies until `finished()`: ACKs and errors go to `onAck(seq, errno, message)`,
    /// other messages to `onMessage`.
    private func receive(until finished: () -> Bool,
                         onMessage: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in },
                         onAck: (UInt32, Int32, String?) -> Void) throws(SystemError) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !finished() {
            let n = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw SystemError("read nftables replies (none within 10 s)", errno: ETIMEDOUT) }
                throw .current("read nftables replies")
            }
            buffer.withUnsafeMutableBytes { raw in
                var remaining = Int32(n)
                var nlh = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
                while mnl_nlmsg_ok(nlh, remaining) {
                    if nlh.pointee.nlmsg_pid == portID || nlh.pointee.nlmsg_pid == 0 {
                        if nlh.pointee.nlmsg_type == UInt16(NLMSG_ERROR) {
                            let payload = mnl_nlmsg_get_payload(nlh)!.assumingMemoryBound(to: nlmsgerr.self)
                            onAck(payload.pointee.msg.nlmsg_seq, -payload.pointee.error, NFTablesNetlink.extendedAck(nlh))
                        } else {
                            onMessage(nlh)
                        }
                    }
                    nlh = mnl_nlmsg_next(nlh, &remaining)
                }
            }
        }
    }

    /// NLMSGERR_ATTR_MSG of a capped error message.
    static func extendedAck(_ nlh: UnsafeMutablePointer<nlmsghdr>) -> String? {
        guard nlh.pointee.nlmsg_flags & 0x200 != 0 else { return nil }
        let offset = MemoryLayout<nlmsghdr>.size + MemoryLayout<nlmsgerr>.size
        var remaining = Int(nlh.pointee.nlmsg_len) - offset
        var attr = (UnsafeMutableRawPointer(nlh) + offset).assumingMemoryBound(to: nlattr.self)
        while remaining >= MemoryLayout<nlattr>.size, mnl_attr_ok(attr, Int32(remaining)) {
            if mnl_attr_get_type(attr) == 1, let s = mnl_attr_get_str(attr) { return String(cString: s) }
            let step = Int(mnl_attr_get_len(attr) + 3) & ~3
            remaining -= step
            attr = (UnsafeMutableRawPointer(attr) + step).assumingMemoryBound(to: nlattr.self)
        }
        return nil
    }
}
