import NIOCore

/// A query of the everyday kind, read straight from the packet without building a message:
/// one question, class IN, a name in lower case without compression, and at most an OPT
/// record (version 0, no options). Anything else is left to the full parser.
struct PlainQuery {
    var id: UInt16
    /// The request's RD and CD bits, which the reply echoes.
    var echoedFlags: UInt16
    /// Where the question (name, type, class) starts and ends, counted from the packet's
    /// first readable byte.
    var questionStart: Int
    var questionEnd: Int
    /// The name's wire length.
    var nameLength: Int
    var type: UInt16
    /// The OPT record's UDP payload size and DO bit, if it had one.
    var edns: (payloadSize: UInt16, dnssecOK: Bool)?

    init?(_ packet: ByteBuffer) {
        guard let query = packet.withUnsafeReadableBytes({ PlainQuery($0) }) else { return nil }
        self = query
    }

    /// The query in `bytes`, one whole datagram; offsets count from its first byte.
    init?(_ bytes: UnsafeRawBufferPointer) {
        let end = bytes.count
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        // A query (QR 0, opcode 0, TC 0) with one question and nothing else but an OPT.
        guard end >= DNSHeader.size + 5, u16(2) & 0xFA00 == 0,
              u16(4) == 1, u16(6) == 0, u16(8) == 0, u16(10) <= 1 else { return nil }
        id = u16(0)
        echoedFlags = u16(2) & 0x0110
        questionStart = DNSHeader.size
        var i = DNSHeader.size
        var at = -1
        while i < end {
            let length = Int(bytes[i])
            if length == 0 { at = i + 1; break }
            // No pointers or odd label types; lengths and the whole name within bounds.
            guard length <= DNSName.maxLabelLength, i + 1 + length < end,
                  i + 1 + length - DNSHeader.size < DNSName.maxWireLength else { return nil }
            for b in bytes[(i + 1)...(i + length)] where b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { return nil }
            i += 1 + length
        }
        guard at > 0, at + 4 <= end, u16(at + 2) == DNSClass.internet else { return nil }
        nameLength = at - questionStart
        type = u16(at)
        questionEnd = at + 4
        if u16(10) == 1 {
            // Root name, type OPT, payload size, extended rcode 0, version 0, no data.
            let opt = questionEnd
            guard opt + 11 == end, bytes[opt] == 0, u16(opt + 1) == DNSType.opt.rawValue,
                  u16(opt + 5) == 0, u16(opt + 9) == 0 else { return nil }
            edns = (u16(opt + 3), u16(opt + 7) & 0x8000 != 0)
        } else {
            guard questionEnd == end else { return nil }
            edns = nil
        }
    }

    /// The most bytes the reply may take over UDP: the EDNS size, at least 512.
    var udpLimit: Int { max(DNSMessage.minimumUDPSize, Int(edns?.payloadSize ?? 0)) }
}
