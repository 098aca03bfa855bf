import SeawayKernel
import CNftables
import Glibc

/// An nfnetlink batch being written: BEGIN, one message per operation (each built by
/// libnftnl straight into this buffer), END.
struct NFTBatchBuffer {
    private(set) var bytes: [UInt8]
    private var used = 0

    /// Room every message gets before it is written (the biggest rule is far smaller).
    private static let messageRoom = 8192

    init(capacity: Int) { bytes = [UInt8](repeating: 0, count: capacity) }

    /// Writes one message at the end with `build`, which returns the header it built.
    private mutating func write(_ build: (UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<nlmsghdr>) {
        // Doubling keeps the cost of growing linear in the batch size.
        if bytes.count - used < NFTBatchBuffer.messageRoom {
            bytes += [UInt8](repeating: 0, count: max(bytes.count, NFTBatchBuffer.messageRoom))
        }
        let length = bytes.withUnsafeMutableBytes { raw -> Int in
            let start = (raw.baseAddress! + used).assumingMemoryBound(to: CChar.self)
            return Int(build(start).pointee.nlmsg_len)
        }
        used += (length + 3) & ~3
    }

    /// The finished batch.
    var batch: ArraySlice<UInt8> { bytes[0..<used] }

    mutating func begin(_ seq: UInt32) { write { nftnl_batch_begin($0, seq) } }
    mutating func end(_ seq: UInt32) { write { nftnl_batch_end($0, seq) } }

    mutating func append(_ operation: NFTTransaction.Operation, sequence seq: UInt32) {
        let ack = UInt16(NLM_F_ACK)
        switch operation {
        case let .addTable(t):
            write { buf in
                let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(NFT_MSG_NEWTABLE.rawValue), t.family.rawValue, UInt16(NLM_F_CREATE) | ack, seq)!
                let table = NFTBatchBuffer.table(t)
                nftnl_table_nlmsg_build_payload(nlh, table)
                nftnl_table_free(table)
                return nlh
            }
        case let .deleteTable(t):
            write { buf in
                let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(NFT_MSG_DELTABLE.rawValue), t.family.rawValue, ack, seq)!
                let table = NFTBatchBuffer.table(t)
                nftnl_table_nlmsg_build_payload(nlh, table)
                nftnl_table_free(table)
                return nlh
            }
        case let .addChain(c):
            write { buf in NFTBatchBuffer.chainMessage(buf, NFT_MSG_NEWCHAIN, c, flags: UInt16(NLM_F_CREATE) | ack, seq, full: true) }
        case let .deleteChain(c):
            write { buf in NFTBatchBuffer.chainMessage(buf, NFT_MSG_DELCHAIN, c, flags: ack, seq, full: false) }
        case let .flushChain(c):
            write { buf in NFTBatchBuffer.ruleMessage(buf, NFT_MSG_DELRULE, c, flags: ack, seq) { _ in } }
        case let .deleteRule(c, handle):
            write { buf in
                NFTBatchBuffer.ruleMessage(buf, NFT_MSG_DELRULE, c, flags: ack, seq) { rule in
                    nftnl_rule_set_u64(rule, UInt16(NFTNL_RULE_HANDLE.rawValue), handle)
                }
            }
        case let .addRule(r):
            write { buf in
                NFTBatchBuffer.ruleMessage(buf, NFT_MSG_NEWRULE, r.chain, flags: UInt16(NLM_F_CREATE | NLM_F_APPEND) | ack, seq) { rule in
                    for e in r.expressions { nftnl_rule_add_expr(rule, NFTBatchBuffer.expression(e)) }
                    if let comment = r.comment { NFTUserData.setComment(comment, type: UInt8(NFTNL_UDATA_RULE_COMMENT.rawValue)) { data, length in
                        nftnl_rule_set_data(rule, UInt16(NFTNL_RULE_USERDATA.rawValue), data, length)
                    } }
                }
            }
        }
    }

    static func table(_ t: NFTTable) -> OpaquePointer {
        let table = nftnl_table_alloc()!
        nftnl_table_set_str(table, UInt16(NFTNL_TABLE_NAME.rawValue), t.name)
        if let comment = t.comment {
            NFTUserData.setComment(comment, type: UInt8(NFTNL_UDATA_TABLE_COMMENT.rawValue)) { data, length in
                nftnl_table_set_data(table, UInt16(NFTNL_TABLE_USERDATA.rawValue), data, length)
            }
        }
        return table
    }

    static func chainMessage(_ buf: UnsafeMutablePointer<CChar>, _ type: nf_tables_msg_types, _ c: NFTChain, flags: UInt16,
                             _ seq: UInt32, full: Bool) -> UnsafeMutablePointer<nlmsghdr> {
        let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type.rawValue), c.table.family.rawValue, flags, seq)!
        let chain = nftnl_chain_alloc()!
        nftnl_chain_set_str(chain, UInt16(NFTNL_CHAIN_TABLE.rawValue), c.table.name)
        nftnl_chain_set_str(chain, UInt16(NFTNL_CHAIN_NAME.rawValue), c.name)
        if full, let base = c.base {
            nftnl_chain_set_u32(chain, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), base.hook.rawValue)
            nftnl_chain_set_s32(chain, UInt16(NFTNL_CHAIN_PRIO.rawValue), base.priority)
            nftnl_chain_set_str(chain, UInt16(NFTNL_CHAIN_TYPE.rawValue), base.type)
            nftnl_chain_set_u32(chain, UInt16(NFTNL_CHAIN_POLICY.rawValue), base.acceptByDefault ? UInt32(NF_ACCEPT) : UInt32(NF_DROP))
        }
        if full, let comment = c.comment {
            NFTUserData.setComment(comment, type: UInt8(NFTNL_UDATA_CHAIN_COMMENT.rawValue)) { data, length in
                nftnl_chain_set_data(chain, UInt16(NFTNL_CHAIN_USERDATA.rawValue), data, length)
            }
        }
        nftnl_chain_nlmsg_build_payload(nlh, chain)
        nftnl_chain_free(chain)
        return nlh
    }

    static func ruleMessage(_ buf: UnsafeMutablePointer<CChar>, _ type: nf_tables_msg_types, _ c: NFTChain, flags: UInt16,
                            _ seq: UInt32, _ fill: (OpaquePointer) -> Void) -> UnsafeMutablePointer<nlmsghdr> {
        let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type.rawValue), c.table.family.rawValue, flags, seq)!
        let rule = nftnl_rule_alloc()!
        nftnl_rule_set_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue), c.table.name)
        nftnl_rule_set_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue), c.name)
        fill(rule)
        nftnl_rule_nlmsg_build_payload(nlh, rule)
        nftnl_rule_free(rule)
        return nlh
    }

    /// One expression as libnftnl builds it (the rule takes ownership).
    static func expression(_ e: NFTExpression) -> OpaquePointer {
        let register = UInt32(NFT_REG_1.rawValue)
        switch e {
        case let .meta(key):
            let x = nftnl_expr_alloc("meta")!
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_META_KEY), key.rawValue)
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_META_DREG), register)
            return x
        case let .payload(base, offset, length):
            let x = nftnl_expr_alloc("payload")!
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_PAYLOAD_DREG), register)
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_PAYLOAD_BASE), base.rawValue)
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_PAYLOAD_LEN), length)
            return x
        case let .compare(op, data):
            let x = nftnl_expr_alloc("cmp")!
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_CMP_SREG), register)
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_CMP_OP), op.rawValue)
            data.withUnsafeBytes { _ = nftnl_expr_set(x, UInt16(NFTNL_EXPR_CMP_DATA), $0.baseAddress, UInt32($0.count)) }
            return x
        case let .bitwise(mask, xor):
            let x = nftnl_expr_alloc("bitwise")!
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_SREG), register)
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_DREG), register)
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_BITWISE_LEN), UInt32(mask.count))
            mask.withUnsafeBytes { _ = nftnl_expr_set(x, UInt16(NFTNL_EXPR_BITWISE_MASK), $0.baseAddress, UInt32($0.count)) }
            xor.withUnsafeBytes { _ = nftnl_expr_set(x, UInt16(NFTNL_EXPR_BITWISE_XOR), $0.baseAddress, UInt32($0.count)) }
            return x
        case let .verdict(v):
            let x = nftnl_expr_alloc("immediate")!
            nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_DREG), UInt32(NFT_REG_VERDICT.rawValue))
            switch v {
            case .accept: nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(NF_ACCEPT))
            case .drop: nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(NF_DROP))
            case .return: nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: NFT_RETURN.rawValue))
            case let .jump(chain):
                nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: NFT_JUMP.rawValue))
                nftnl_expr_set_str(x, UInt16(NFTNL_EXPR_IMM_CHAIN), chain)
            case let .goto(chain):
                nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: NFT_GOTO.rawValue))
                nftnl_expr_set_str(x, UInt16(NFTNL_EXPR_IMM_CHAIN), chain)
            }
            return x
        case .masquerade:
            return nftnl_expr_alloc("masq")!
        case .counter:
            return nftnl_expr_alloc("counter")!
        }
    }
}

/// Comments as `nft` stores them: a type-length-value list in the object's user data.
enum NFTUserData {
    static func setComment(_ comment: String, type: UInt8, _ set: (UnsafeRawPointer, UInt32) -> Void) {
        // nft's limit for a comment is 128 bytes (the kernel keeps up to 256 of user data).
        let text = String(decoding: Array(comment.utf8.prefix(128)), as: UTF8.self)
        guard let buffer = nftnl_udata_buf_alloc(256) else { return }
        defer { nftnl_udata_buf_free(buffer) }
        nftnl_udata_put_strz(buffer, type, text)
        set(UnsafeRawPointer(nftnl_udata_buf_data(buffer)), nftnl_udata_buf_len(buffer))
    }

    /// A rule's comment, if it has one.
    static func comment(of rule: OpaquePointer) -> String? {
        var length: UInt32 = 0
        guard let data = nftnl_rule_get_data(rule, UInt16(NFTNL_RULE_USERDATA.rawValue), &length) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: data, count: Int(length))
        var i = 0
        while i + 2 <= bytes.count {
            let type = bytes[i], len = Int(bytes[i + 1])
            guard i + 2 + len <= bytes.count else { return nil }
            if type == UInt8(NFTNL_UDATA_RULE_COMMENT.rawValue) {
                return String(decoding: bytes[(i + 2)..<(i + 2 + len)].prefix { $0 != 0 }, as: UTF8.self)
            }
            i += 2 + len
        }
        return nil
    }
}
