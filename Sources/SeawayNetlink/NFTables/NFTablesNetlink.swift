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
        socket = s
        portID = mnl_socket_get_portid(s)
        sequence = UInt32(truncatingIfNeeded: time(nil))
    }

    deinit { mnl_socket_close(socket) }

    /// Sends `transaction` as one atomic batch. When the kernel refuses any part, nothing
    /// changes and the error names the first operation it refused.
    public func apply(_ transaction: NFTTransaction) throws(SystemError) {
        guard !transaction.isEmpty else { return }
        var batch = NFTBatchBuffer(capacity: 16384 + transaction.operations.count * 1024)
        sequence &+= 1
        batch.begin(sequence)
        var pending: [UInt32: String] = [:]
        for operation in transaction.operations {
            sequence &+= 1
            batch.append(operation, sequence: sequence)
            pending[sequence] = operation.description
        }
        sequence &+= 1
        batch.end(sequence)
        let sent = batch.batch.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent >= 0 else { throw .current("send an nftables batch") }
        // nf_tables handles the whole batch inside sendmsg, so every ACK and error is queued
        // by now; read until each message is answered.
        var failure: (UInt32, SystemError)? = nil
        try receive(until: { pending.isEmpty }) { (seq, errno, message) in
            guard let what = pending.removeValue(forKey: seq) else { return }
            if errno != 0, failure == nil || seq < failure!.0 {
                failure = (seq, SystemError(what, errno: errno, kernelMessage: message))
            }
        }
        if let failure { throw failure.1 }
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
