import NIOCore

/// A query of the everyday kind, read straight from the packet without building a message:
/// one question, class IN, a name in lower case without compression, and at most an OPT
/// record (version 0, no options). Anything else is left to the full parser.
struct PlainQuery {
    var id: UInt16
    /// The request's RD and CD bits, which the reply echoes.
    var echoedFlags: UInt16
    /// Where the question (name, type, class) starts and ends in the packet.
    var questionStart: Int
    var questionEnd: Int
    /// The name's wire length.
    var nameLength: Int
    var type: UInt16
    /// The OPT record's UDP payload size and DO bit, if it had one.
    var edns: (payloadSize: UInt16, dnssecOK: Bool)?

    init?(_ packet: ByteBuffer) {
        let base = packet.readerIndex
        let end = base + packet.readableBytes
        guard end - base >= DNSHeader.size + 5,
              let header = DNSHeader(packet),
              // A query (QR 0, opcode 0, TC 0) with one question and nothing else but an OPT.
              header.flags & 0xFA00 == 0,
              header.questionCount == 1, header.answerCount == 0, header.authorityCount == 0,
              header.additionalCount <= 1 else { return nil }
        id = header.id
        echoedFlags = header.flags & 0x0110
        questionStart = base + DNSHeader.size
        var at = questionStart
        let plainName: Bool = packet.withUnsafeReadableBytes { bytes in
            var i = DNSHeader.size
            while i < bytes.count {
                let length = Int(bytes[i])
                if length == 0 { at = base + i + 1; return true }
                // No pointers or odd label types; lengths and the whole name within bounds.
                guard length <= DNSName.maxLabelLength, i + 1 + length < bytes.count,
                      i + 1 + length - DNSHeader.size < DNSName.maxWireLength else { return false }
                for b in bytes[(i + 1)...(i + length)] where b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { return false }
                i += 1 + length
            }
            return false
        }
        guard plainName, at + 4 <= end,
              let type: UInt16 = packet.getInteger(at: at), packet.getInteger(at: at + 2, as: UInt16.self) == DNSClass.internet
        else { return nil }
        nameLength = at - questionStart
        self.type = type
        questionEnd = at + 4
        if header.additionalCount == 1 {
            // Root name, type OPT, payload size, extended rcode 0, version 0, no data.
            let opt = questionEnd
            guard opt + 11 == end, packet.getInteger(at: opt, as: UInt8.self) == 0,
                  packet.getInteger(at: opt + 1, as: UInt16.self) == DNSType.opt.rawValue,
                  let size: UInt16 = packet.getInteger(at: opt + 3),
                  let ttl: UInt32 = packet.getInteger(at: opt + 5), ttl >> 16 == 0,
                  packet.getInteger(at: opt + 9, as: UInt16.self) == 0 else { return nil }
            edns = (size, ttl & 0x8000 != 0)
        } else {
            guard questionEnd == end else { return nil }
            edns = nil
        }
    }

    /// The most bytes the reply may take over UDP: the EDNS size, at least 512.
    var udpLimit: Int { max(DNSMessage.minimumUDPSize, Int(edns?.payloadSize ?? 0)) }
}
