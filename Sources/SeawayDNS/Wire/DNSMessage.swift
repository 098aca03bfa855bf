import SeawayModel

/// Response codes, including the EDNS extended ones (12 bits in all).
public struct DNSResponseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)
    public static let badVersion = DNSResponseCode(rawValue: 16)

    /// The names dig prints.
    public var description: String {
        switch rawValue {
        case 0: return "NOERROR"
        case 1: return "FORMERR"
        case 2: return "SERVFAIL"
        case 3: return "NXDOMAIN"
        case 4: return "NOTIMP"
        case 5: return "REFUSED"
        case 16: return "BADVERS"
        default: return "RCODE\(rawValue)"
        }
    }
}

public struct DNSQuestion: Sendable, Hashable, CustomStringConvertible {
    public var name: DNSName
    public var type: DNSType
    public var dnsClass: UInt16

    public init(name: DNSName, type: DNSType, dnsClass: UInt16 = DNSClass.internet) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
    }

    public var description: String { "\(name)\t\(dnsClass == DNSClass.internet ? "IN" : "CLASS\(dnsClass)")\t\(type)" }
}

/// The EDNS(0) OPT pseudo-record (RFC 6891), lifted out of the additional section.
public struct EDNS: Sendable, Hashable {
    /// The largest UDP payload the sender can take.
    public var udpPayloadSize: UInt16
    public var version: UInt8
    public var dnssecOK: Bool
    /// Options as (code, data), kept but not interpreted.
    public var options: [Option]

    public struct Option: Sendable, Hashable {
        public var code: UInt16
        public var data: [UInt8]

        public init(code: UInt16, data: [UInt8]) {
            self.code = code
            self.data = data
        }
    }

    public init(udpPayloadSize: UInt16 = 1232, version: UInt8 = 0, dnssecOK: Bool = false, options: [Option] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }
}

/// A DNS message (RFC 1035 section 4).
public struct DNSMessage: Sendable, Hashable {
    public var id: UInt16
    public var isResponse: Bool
    public var opcode: UInt8
    public var authoritative: Bool
    public var truncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    public var authenticData: Bool
    public var checkingDisabled: Bool
    public var rcode: DNSResponseCode
    public var questions: [DNSQuestion]
    public var answers: [DNSRecord]
    public var authority: [DNSRecord]
    /// Additional records other than OPT (which is `edns`).
    public var additional: [DNSRecord]
    public var edns: EDNS?

    public static let opcodeQuery: UInt8 = 0

    public init(id: UInt16 = 0, isResponse: Bool = false, opcode: UInt8 = DNSMessage.opcodeQuery,
                authoritative: Bool = false, truncated: Bool = false, recursionDesired: Bool = false,
                recursionAvailable: Bool = false, authenticData: Bool = false, checkingDisabled: Bool = false,
                rcode: DNSResponseCode = .noError, questions: [DNSQuestion] = [], answers: [DNSRecord] = [],
                authority: [DNSRecord] = [], additional: [DNSRecord] = [], edns: EDNS? = nil) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.authoritative = authoritative
        self.truncated = truncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.rcode = rcode
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
        self.edns = edns
    }

    /// A query for one name and type (recursion desired, as stub resolvers send).
    public static func query(id: UInt16, name: DNSName, type: DNSType, edns: EDNS? = nil) -> DNSMessage {
        DNSMessage(id: id, recursionDesired: true, questions: [DNSQuestion(name: name, type: type)], edns: edns)
    }

    /// The reply skeleton for `request`: same id, opcode, question and RD; an OPT record when
    /// the request had one, with its payload size and DO bit and no options (CoreDNS's
    /// `SizeAndDo`, less the options we do not implement).
    public static func reply(to request: DNSMessage, rcode: DNSResponseCode = .noError) -> DNSMessage {
        DNSMessage(id: request.id, isResponse: true, opcode: request.opcode, recursionDesired: request.recursionDesired,
                   checkingDisabled: request.checkingDisabled, rcode: rcode, questions: request.questions,
                   edns: request.edns.map { EDNS(udpPayloadSize: $0.udpPayloadSize, dnssecOK: $0.dnssecOK) })
    }

    /// The UDP payload size we advertise (the DNS flag day 2020 value).
    public static let ourUDPPayloadSize: UInt16 = 1232

    /// The header flags word (without the rcode's extended bits).
    var flags: UInt16 {
        var f: UInt16 = 0
        if isResponse { f |= 0x8000 }
        f |= UInt16(opcode & 0xF) << 11
        if authoritative { f |= 0x0400 }
        if truncated { f |= 0x0200 }
        if recursionDesired { f |= 0x0100 }
        if recursionAvailable { f |= 0x0080 }
        if authenticData { f |= 0x0020 }
        if checkingDisabled { f |= 0x0010 }
        return f | (rcode.rawValue & 0xF)
    }

    mutating func setFlags(_ f: UInt16) {
        isResponse = f & 0x8000 != 0
        opcode = UInt8((f >> 11) & 0xF)
        authoritative = f & 0x0400 != 0
        truncated = f & 0x0200 != 0
        recursionDesired = f & 0x0100 != 0
        recursionAvailable = f & 0x0080 != 0
        authenticData = f & 0x0020 != 0
        checkingDisabled = f & 0x0010 != 0
        rcode = DNSResponseCode(rawValue: f & 0xF)
    }
}
