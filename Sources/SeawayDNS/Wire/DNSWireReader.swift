import NIOCore
import SeawayModel

/// Why a message could not be read. `offset` is where in the message reading stopped.
public struct DNSWireError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case shortMessage = "message ends early"
        case badLabelType = "label type 01/10 is not defined"
        case badPointer = "compression pointer does not point backwards"
        case nameTooLong = "name longer than 255 bytes"
        case badRecordLength = "record data length does not match its type"
        case misplacedOPT = "OPT record not in the additional section, not at the root, or twice"
    }

    public var reason: Reason
    public var offset: Int

    public var description: String { "\(reason.rawValue) (offset \(offset))" }
}

/// The fixed 12-byte header, readable before the rest: the server decides from it whether a
/// message deserves an answer at all.
public struct DNSHeader: Sendable, Hashable {
    public var id: UInt16
    public var flags: UInt16
    public var questionCount: UInt16
    public var answerCount: UInt16
    public var authorityCount: UInt16
    public var additionalCount: UInt16

    public static let size = 12

    /// nil when fewer than 12 bytes arrived (such a packet cannot even be answered).
    public init?(_ buffer: ByteBuffer) {
        guard buffer.readableBytes >= DNSHeader.size else { return nil }
        let at = buffer.readerIndex
        id = buffer.getInteger(at: at)!
        flags = buffer.getInteger(at: at + 2)!
        questionCount = buffer.getInteger(at: at + 4)!
        answerCount = buffer.getInteger(at: at + 6)!
        authorityCount = buffer.getInteger(at: at + 8)!
        additionalCount = buffer.getInteger(at: at + 10)!
    }

    public var isResponse: Bool { flags & 0x8000 != 0 }
    public var opcode: UInt8 { UInt8((flags >> 11) & 0xF) }
    public var recursionDesired: Bool { flags & 0x0100 != 0 }
}

/// Reads a message from a buffer, following compression pointers within it.
struct DNSWireReader {
    let buffer: ByteBuffer
    /// Offset of the message's first byte within `buffer`.
    let base: Int
    /// Current position, relative to `base`.
    var offset = 0
    let end: Int

    init(_ buffer: ByteBuffer) {
        self.buffer = buffer
        base = buffer.readerIndex
        end = buffer.readableBytes
    }

    func fail(_ reason: DNSWireError.Reason) -> DNSWireError { DNSWireError(reason: reason, offset: offset) }

    mutating func u8() throws(DNSWireError) -> UInt8 {
        guard offset + 1 <= end, let v: UInt8 = buffer.getInteger(at: base + offset) else { throw fail(.shortMessage) }
        offset += 1
        return v
    }

    mutating func u16() throws(DNSWireError) -> UInt16 {
        guard offset + 2 <= end, let v: UInt16 = buffer.getInteger(at: base + offset) else { throw fail(.shortMessage) }
        offset += 2
        return v
    }

    mutating func u32() throws(DNSWireError) -> UInt32 {
        guard offset + 4 <= end, let v: UInt32 = buffer.getInteger(at: base + offset) else { throw fail(.shortMessage) }
        offset += 4
        return v
    }

    mutating func bytes(_ n: Int) throws(DNSWireError) -> [UInt8] {
        guard offset + n <= end, let v = buffer.getBytes(at: base + offset, length: n) else { throw fail(.shortMessage) }
        offset += n
        return v
    }

    /// A possibly compressed name. Pointers must point strictly backwards, which rules out
    /// loops; the name may not exceed 255 bytes.
    mutating func name() throws(DNSWireError) -> DNSName {
        var labels: [[UInt8]] = []
        var length = 1
        var position = offset
        var jumped = false
        // The lowest offset reached so far: every pointer must go below it.
        var floor = offset
        while true {
            guard position < end, let len: UInt8 = buffer.getInteger(at: base + position) else {
                throw DNSWireError(reason: .shortMessage, offset: position)
            }
            switch len & 0xC0 {
            case 0x00:
                if len == 0 {
                    if !jumped { offset = position + 1 }
                    return DNSName(uncheckedLabels: labels)
                }
                let n = Int(len)
                guard position + 1 + n <= end, let label = buffer.getBytes(at: base + position + 1, length: n) else {
                    throw DNSWireError(reason: .shortMessage, offset: position)
                }
                length += 1 + n
                guard length <= DNSName.maxWireLength else { throw DNSWireError(reason: .nameTooLong, offset: position) }
                labels.append(label)
                position += 1 + n
            case 0xC0:
                guard position + 2 <= end, let pointer: UInt16 = buffer.getInteger(at: base + position) else {
                    throw DNSWireError(reason: .shortMessage, offset: position)
                }
                let target = Int(pointer & 0x3FFF)
                guard target < floor else { throw DNSWireError(reason: .badPointer, offset: position) }
                if !jumped { offset = position + 2 }
                jumped = true
                floor = target
                position = target
            default:
                throw DNSWireError(reason: .badLabelType, offset: position)
            }
        }
    }

    mutating func question() throws(DNSWireError) -> DNSQuestion {
        let name = try name()
        return DNSQuestion(name: name, type: DNSType(rawValue: try u16()), dnsClass: try u16())
    }

    /// A record, or (for OPT) nil after storing it in `edns` with the extended rcode bits.
    mutating func record(edns: inout EDNS?, extendedRcode: inout UInt16, inAdditional: Bool) throws(DNSWireError) -> DNSRecord? {
        let start = offset
        let name = try name()
        let type = DNSType(rawValue: try u16())
        let cls = try u16()
        let ttl = try u32()
        let length = Int(try u16())
        guard offset + length <= end else { throw fail(.shortMessage) }
        let dataEnd = offset + length
        if type == .opt {
            guard inAdditional, edns == nil, name == .root else { throw DNSWireError(reason: .misplacedOPT, offset: start) }
            var options: [EDNS.Option] = []
            while offset < dataEnd {
                let code = try u16()
                let n = Int(try u16())
                guard offset + n <= dataEnd else { throw fail(.badRecordLength) }
                options.append(EDNS.Option(code: code, data: try bytes(n)))
            }
            extendedRcode = UInt16(ttl >> 24) << 4
            edns = EDNS(udpPayloadSize: cls, version: UInt8((ttl >> 16) & 0xFF), dnssecOK: ttl & 0x8000 != 0, options: options)
            return nil
        }
        let data: DNSRecordData
        switch type {
        case .a:
            guard length == 4 else { throw fail(.badRecordLength) }
            data = .address(IPAddress(v4: try u32()))
        case .aaaa:
            guard length == 16 else { throw fail(.badRecordLength) }
            let high = UInt64(try u32()) << 32 | UInt64(try u32())
            let low = UInt64(try u32()) << 32 | UInt64(try u32())
            data = .address(IPAddress(v6High: high, low: low))
        case .cname, .ns, .ptr:
            data = .name(try self.name())
        case .srv:
            data = .srv(priority: try u16(), weight: try u16(), port: try u16(), target: try self.name())
        case .soa:
            data = .soa(.init(mname: try self.name(), rname: try self.name(), serial: try u32(), refresh: try u32(),
                              retry: try u32(), expire: try u32(), minimum: try u32()))
        case .txt:
            var strings: [[UInt8]] = []
            while offset < dataEnd {
                let n = Int(try u8())
                guard offset + n <= dataEnd else { throw fail(.badRecordLength) }
                strings.append(try bytes(n))
            }
            data = .txt(strings)
        default:
            data = .raw(try bytes(length))
        }
        guard offset == dataEnd else { throw fail(.badRecordLength) }
        return DNSRecord(name: name, type: type, dnsClass: cls, ttl: ttl, data: data)
    }
}

extension DNSMessage {
    /// Reads a whole message from the buffer's readable bytes.
    public init(parsing buffer: ByteBuffer) throws(DNSWireError) {
        guard let header = DNSHeader(buffer) else { throw DNSWireError(reason: .shortMessage, offset: 0) }
        var reader = DNSWireReader(buffer)
        reader.offset = DNSHeader.size
        self.init(id: header.id)
        setFlags(header.flags)
        var edns: EDNS?
        var extended: UInt16 = 0
        for _ in 0..<header.questionCount { questions.append(try reader.question()) }
        for _ in 0..<header.answerCount {
            if let r = try reader.record(edns: &edns, extendedRcode: &extended, inAdditional: false) { answers.append(r) }
        }
        for _ in 0..<header.authorityCount {
            if let r = try reader.record(edns: &edns, extendedRcode: &extended, inAdditional: false) { authority.append(r) }
        }
        for _ in 0..<header.additionalCount {
            if let r = try reader.record(edns: &edns, extendedRcode: &extended, inAdditional: true) { additional.append(r) }
        }
        // Bytes after the last record are ignored, as CoreDNS's parser (miekg/dns) does.
        self.edns = edns
        rcode = DNSResponseCode(rawValue: rcode.rawValue | extended)
    }

    /// Reads a message from bytes.
    public init(parsing bytes: [UInt8]) throws(DNSWireError) {
        try self.init(parsing: ByteBuffer(bytes: bytes))
    }
}
