import SeawayKernel
import CNftables
import Glibc

/// An nfnetlink batch being written: BEGIN, one message per operation (each built by
/// libnftnl straight into this buffer), END. The buffer is malloc's: a big one is mapped
/// pages that cost memory only once written, and grows by realloc, which moves mapped
/// pages instead of copying them (a 10,000-service batch is about 100 MB).
struct NFTBatchBuffer: ~Copyable {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    /// Where the last message written starts.
    private var lastMessage = 0

    /// Room every message gets before it is written (the biggest rule is far smaller).
    private static let messageRoom = 16384

    init(capacity: Int) {
        self.capacity = max(capacity, NFTBatchBuffer.messageRoom)
        base = malloc(self.capacity)!
    }

    deinit { free(base) }

    /// Writes one message at the end with `build`, which returns the header it built.
    private mutating func write(_ build: (UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<nlmsghdr>) {
        if capacity - used < NFTBatchBuffer.messageRoom {
            capacity = max(capacity * 2, NFTBatchBuffer.messageRoom)
            base = realloc(base, capacity)!
        }
        // libmnl writes every byte of a message, attribute padding included; only a gap up
        // to the next 4-byte boundary (none in practice) is left, and zeroed here.
        let length = Int(build((base + used).assumingMemoryBound(to: CChar.self)).pointee.nlmsg_len)
        let aligned = (length + 3) & ~3
        if aligned > length { memset(base + used + length, 0, aligned - length) }
        lastMessage = used
        used += aligned
    }

    /// Asks the kernel to answer the last message written even when it succeeds (for a
    /// batch built before its last message was known).
    mutating func acknowledgeLast() {
        (base + lastMessage).assumingMemoryBound(to: nlmsghdr.self).pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
    }

    /// Bytes written so far.
    var size: Int { used }

    /// The batch written so far.
    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws(SystemError) -> T) throws(SystemError) -> T {
        try body(UnsafeRawBufferPointer(start: base, count: used))
    }

    mutating func begin(_ seq: UInt32) { write { nftnl_batch_begin($0, seq) } }
    mutating func end(_ seq: UInt32) { write { nftnl_batch_end($0, seq) } }

    /// Writes `operation`; `acknowledged` asks the kernel to answer even when it succeeds.
    mutating func append(_ operation: NFTTransaction.Operation, sequence seq: UInt32, acknowledged: Bool) {
        let ack = acknowledged ? UInt16(NLM_F_ACK) : 0
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
        case let .addSet(set):
            write { buf in
                let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(NFT_MSG_NEWSET.rawValue), set.table.family.rawValue, UInt16(NLM_F_CREATE) | ack, seq)!
                let s = NFTBatchBuffer.set(set)
                nftnl_set_nlmsg_build_payload(nlh, s)
                nftnl_set_free(s)
                return nlh
            }
        case let .deleteSet(table, name):
            write { buf in
                let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(NFT_MSG_DELSET.rawValue), table.family.rawValue, ack, seq)!
                let s = nftnl_set_alloc()!
                nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
                nftnl_set_set_str(s, UInt16(NFTNL_SET_NAME.rawValue), name)
                nftnl_set_nlmsg_build_payload(nlh, s)
                nftnl_set_free(s)
                return nlh
            }
        case let .addElements(table, set, elements):
            write { buf in NFTBatchBuffer.elementsMessage(buf, NFT_MSG_NEWSETELEM, table, set, elements, flags: UInt16(NLM_F_CREATE) | ack, seq) }
        case let .deleteElements(table, set, elements):
            write { buf in NFTBatchBuffer.elementsMessage(buf, NFT_MSG_DELSETELEM, table, set, elements, flags: ack, seq) }
        }
    }

    static func set(_ s: NFTSet) -> OpaquePointer {
        let set = nftnl_set_alloc()!
        nftnl_set_set_str(set, UInt16(NFTNL_SET_TABLE.rawValue), s.table.name)
        nftnl_set_set_str(set, UInt16(NFTNL_SET_NAME.rawValue), s.name)
        nftnl_set_set_u32(set, UInt16(NFTNL_SET_FLAGS.rawValue), s.flags.rawValue)
        nftnl_set_set_u32(set, UInt16(NFTNL_SET_KEY_TYPE.rawValue), s.keyType)
        nftnl_set_set_u32(set, UInt16(NFTNL_SET_KEY_LEN.rawValue), s.keyLength)
        if let dataType = s.dataType {
            nftnl_set_set_u32(set, UInt16(NFTNL_SET_DATA_TYPE.rawValue), dataType)
            nftnl_set_set_u32(set, UInt16(NFTNL_SET_DATA_LEN.rawValue), s.dataLength)
        }
        nftnl_set_set_u32(set, UInt16(NFTNL_SET_ID.rawValue), s.id)
        if let size = s.size { nftnl_set_set_u32(set, UInt16(NFTNL_SET_DESC_SIZE.rawValue), size) }
        if let timeout = s.timeoutMilliseconds { nftnl_set_set_u64(set, UInt16(NFTNL_SET_TIMEOUT.rawValue), timeout) }
        if !s.userData.isEmpty {
            s.userData.withUnsafeBytes { _ = nftnl_set_set_data(set, UInt16(NFTNL_SET_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
        }
        return set
    }

    static func elementsMessage(_ buf: UnsafeMutablePointer<CChar>, _ type: nf_tables_msg_types, _ table: NFTTable,
                                _ ref: NFTSetReference, _ elements: [NFTSetElement], flags: UInt16,
                                _ seq: UInt32) -> UnsafeMutablePointer<nlmsghdr> {
        let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type.rawValue), table.family.rawValue, flags, seq)!
        let set = nftnl_set_alloc()!
        nftnl_set_set_str(set, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
        nftnl_set_set_str(set, UInt16(NFTNL_SET_NAME.rawValue), ref.name)
        if let id = ref.id { nftnl_set_set_u32(set, UInt16(NFTNL_SET_ID.rawValue), id) }
        for e in elements {
            let element = nftnl_set_elem_alloc()!
            e.key.withUnsafeBytes { _ = nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count)) }
            if e.isIntervalEnd { nftnl_set_elem_set_u32(element, UInt16(NFTNL_SET_ELEM_FLAGS), UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue)) }
            if let verdict = e.verdict {
                let (code, chain) = NFTBatchBuffer.verdictCode(verdict)
                nftnl_set_elem_set_u32(element, UInt16(NFTNL_SET_ELEM_VERDICT), code)
                if let chain { nftnl_set_elem_set_str(element, UInt16(NFTNL_SET_ELEM_CHAIN), chain) }
            }
            if let data = e.data {
                data.withUnsafeBytes { _ = nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_DATA), $0.baseAddress, UInt32($0.count)) }
            }
            if e.comment != nil || e.isOpenInterval {
                NFTUserData.elementData(comment: e.comment, openInterval: e.isOpenInterval) { data, length in
                    nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_USERDATA), data, length)
                }
            }
            nftnl_set_elem_add(set, element)
        }
        nftnl_set_elems_nlmsg_build_payload(nlh, set)
        nftnl_set_free(set)
        return nlh
    }

    static func verdictCode(_ v: NFTExpression.Verdict) -> (UInt32, String?) {
        switch v {
        case .accept: (UInt32(NF_ACCEPT), nil)
        case .drop: (UInt32(NF_DROP), nil)
        case .return: (UInt32(bitPattern: NFT_RETURN.rawValue), nil)
        case let .jump(chain): (UInt32(bitPattern: NFT_JUMP.rawValue), chain)
        case let .goto(chain): (UInt32(bitPattern: NFT_GOTO.rawValue), chain)
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
        func make(_ name: String, _ attributes: [(Int, UInt32)]) -> OpaquePointer {
            let x = nftnl_expr_alloc(name)!
            for (attribute, value) in attributes { nftnl_expr_set_u32(x, UInt16(attribute), value) }
            return x
        }
        func bytes(_ x: OpaquePointer, _ attribute: Int, _ data: [UInt8]) {
            data.withUnsafeBytes { _ = nftnl_expr_set(x, UInt16(attribute), $0.baseAddress, UInt32($0.count)) }
        }
        func setReference(_ x: OpaquePointer, name: Int, id: Int, _ ref: NFTSetReference) {
            nftnl_expr_set_str(x, UInt16(name), ref.name)
            if let setID = ref.id { nftnl_expr_set_u32(x, UInt16(id), setID) }
        }
        switch e {
        case let .meta(key, into):
            return make("meta", [(NFTNL_EXPR_META_KEY, key.rawValue), (NFTNL_EXPR_META_DREG, into)])
        case let .setMeta(key):
            return make("meta", [(NFTNL_EXPR_META_KEY, key.rawValue), (NFTNL_EXPR_META_SREG, register)])
        case .ctState:
            return make("ct", [(NFTNL_EXPR_CT_KEY, UInt32(NFT_CT_STATE.rawValue)), (NFTNL_EXPR_CT_DREG, register)])
        case let .payload(base, offset, length, into):
            return make("payload", [(NFTNL_EXPR_PAYLOAD_DREG, into), (NFTNL_EXPR_PAYLOAD_BASE, base.rawValue),
                                    (NFTNL_EXPR_PAYLOAD_OFFSET, offset), (NFTNL_EXPR_PAYLOAD_LEN, length)])
        case let .compare(op, data):
            let x = make("cmp", [(NFTNL_EXPR_CMP_SREG, register), (NFTNL_EXPR_CMP_OP, op.rawValue)])
            bytes(x, NFTNL_EXPR_CMP_DATA, data)
            return x
        case let .bitwise(mask, xor):
            let x = make("bitwise", [(NFTNL_EXPR_BITWISE_SREG, register), (NFTNL_EXPR_BITWISE_DREG, register),
                                     (NFTNL_EXPR_BITWISE_LEN, UInt32(mask.count))])
            bytes(x, NFTNL_EXPR_BITWISE_MASK, mask)
            bytes(x, NFTNL_EXPR_BITWISE_XOR, xor)
            return x
        case let .verdict(v):
            let (code, chain) = verdictCode(v)
            let x = make("immediate", [(NFTNL_EXPR_IMM_DREG, UInt32(NFT_REG_VERDICT.rawValue)), (NFTNL_EXPR_IMM_VERDICT, code)])
            if let chain { nftnl_expr_set_str(x, UInt16(NFTNL_EXPR_IMM_CHAIN), chain) }
            return x
        case let .immediate(data, into):
            let x = make("immediate", [(NFTNL_EXPR_IMM_DREG, into)])
            bytes(x, NFTNL_EXPR_IMM_DATA, data)
            return x
        case let .lookup(ref, inverted):
            let x = make("lookup", [(NFTNL_EXPR_LOOKUP_SREG, register)])
            setReference(x, name: NFTNL_EXPR_LOOKUP_SET, id: NFTNL_EXPR_LOOKUP_SET_ID, ref)
            if inverted { nftnl_expr_set_u32(x, UInt16(NFTNL_EXPR_LOOKUP_FLAGS), UInt32(NFT_LOOKUP_F_INV.rawValue)) }
            return x
        case let .verdictMap(ref):
            let x = make("lookup", [(NFTNL_EXPR_LOOKUP_SREG, register), (NFTNL_EXPR_LOOKUP_DREG, UInt32(NFT_REG_VERDICT.rawValue))])
            setReference(x, name: NFTNL_EXPR_LOOKUP_SET, id: NFTNL_EXPR_LOOKUP_SET_ID, ref)
            return x
        case let .dataMap(ref):
            let x = make("lookup", [(NFTNL_EXPR_LOOKUP_SREG, register), (NFTNL_EXPR_LOOKUP_DREG, register)])
            setReference(x, name: NFTNL_EXPR_LOOKUP_SET, id: NFTNL_EXPR_LOOKUP_SET_ID, ref)
            return x
        case let .randomNumber(modulus):
            return make("numgen", [(NFTNL_EXPR_NG_DREG, register), (NFTNL_EXPR_NG_MODULUS, modulus),
                                   (NFTNL_EXPR_NG_TYPE, UInt32(NFT_NG_RANDOM.rawValue)), (NFTNL_EXPR_NG_OFFSET, 0)])
        case let .fibAddressType(address):
            return make("fib", [(NFTNL_EXPR_FIB_DREG, register), (NFTNL_EXPR_FIB_RESULT, UInt32(NFT_FIB_RESULT_ADDRTYPE.rawValue)),
                                (NFTNL_EXPR_FIB_FLAGS, address.rawValue)])
        case let .rejectPortUnreachable(family):
            // ICMP code 3 / ICMPv6 code 4: port unreachable.
            return make("reject", [(NFTNL_EXPR_REJECT_TYPE, UInt32(NFT_REJECT_ICMP_UNREACH.rawValue)),
                                   (NFTNL_EXPR_REJECT_CODE, family == .ipv4 ? 3 : 4)])
        case let .dnat(family, withPort):
            var attributes: [(Int, UInt32)] = [(NFTNL_EXPR_NAT_TYPE, UInt32(NFT_NAT_DNAT.rawValue)),
                                                 (NFTNL_EXPR_NAT_FAMILY, family == .ipv4 ? UInt32(NFPROTO_IPV4) : UInt32(NFPROTO_IPV6)),
                                                 (NFTNL_EXPR_NAT_REG_ADDR_MIN, register)]
            if withPort {
                attributes += [(NFTNL_EXPR_NAT_REG_PROTO_MIN, UInt32(NFT_REG_2.rawValue)),
                               (NFTNL_EXPR_NAT_FLAGS, UInt32(NF_NAT_RANGE_PROTO_SPECIFIED))]
            }
            return make("nat", attributes)
        case let .updateSet(ref):
            let x = make("dynset", [(NFTNL_EXPR_DYNSET_SREG_KEY, register), (NFTNL_EXPR_DYNSET_OP, UInt32(NFT_DYNSET_OP_UPDATE.rawValue))])
            setReference(x, name: NFTNL_EXPR_DYNSET_SET_NAME, id: NFTNL_EXPR_DYNSET_SET_ID, ref)
            return x
        case let .masquerade(fullyRandom):
            return fullyRandom ? make("masq", [(NFTNL_EXPR_MASQ_FLAGS, UInt32(NF_NAT_RANGE_PROTO_RANDOM_FULLY))]) : nftnl_expr_alloc("masq")!
        case .redirect:
            return make("redir", [(NFTNL_EXPR_REDIR_REG_PROTO_MIN, register),
                                  (NFTNL_EXPR_REDIR_FLAGS, UInt32(NF_NAT_RANGE_PROTO_SPECIFIED))])
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

    /// An element's comment and flags (nft's SET_ELEM_F_INTERVAL_OPEN).
    static func elementData(comment: String?, openInterval: Bool, _ set: (UnsafeRawPointer, UInt32) -> Void) {
        guard let buffer = nftnl_udata_buf_alloc(256) else { return }
        defer { nftnl_udata_buf_free(buffer) }
        if let comment {
            nftnl_udata_put_strz(buffer, UInt8(NFTNL_UDATA_SET_ELEM_COMMENT.rawValue), String(decoding: Array(comment.utf8.prefix(128)), as: UTF8.self))
        }
        if openInterval {
            nftnl_udata_put_u32(buffer, UInt8(NFTNL_UDATA_SET_ELEM_FLAGS.rawValue), UInt32(NFTNL_SET_ELEM_F_INTERVAL_OPEN.rawValue))
        }
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
