import SeawayModel

/// A resource record type (RFC 1035 and successors); unknown values are kept as numbers.
public struct DNSType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSType(rawValue: 1)
    public static let ns = DNSType(rawValue: 2)
    public static let cname = DNSType(rawValue: 5)
    public static let soa = DNSType(rawValue: 6)
    public static let ptr = DNSType(rawValue: 12)
    public static let mx = DNSType(rawValue: 15)
    public static let txt = DNSType(rawValue: 16)
    public static let aaaa = DNSType(rawValue: 28)
    public static let srv = DNSType(rawValue: 33)
    public static let opt = DNSType(rawValue: 41)
    public static let ixfr = DNSType(rawValue: 251)
    public static let axfr = DNSType(rawValue: 252)
    public static let any = DNSType(rawValue: 255)

    private static let names: [(DNSType, String)] = [
        (.a, "A"), (.ns, "NS"), (.cname, "CNAME"), (.soa, "SOA"), (.ptr, "PTR"), (.mx, "MX"), (.txt, "TXT"),
        (.aaaa, "AAAA"), (.srv, "SRV"), (.opt, "OPT"), (.ixfr, "IXFR"), (.axfr, "AXFR"), (.any, "ANY"),
    ]

    /// `A`, `AAAA`, ... or RFC 3597's `TYPE123`.
    public init?(name: String) {
        let upper = name.uppercased()
        if let known = DNSType.names.first(where: { $0.1 == upper }) {
            self = known.0
        } else if upper.hasPrefix("TYPE"), let n = UInt16(upper.dropFirst(4)) {
            self.init(rawValue: n)
        } else {
            return nil
        }
    }

    public var description: String { DNSType.names.first { $0.0 == self }?.1 ?? "TYPE\(rawValue)" }
}

/// Class IN, the only class cluster names exist in.
public enum DNSClass {
    public static let internet: UInt16 = 1
}

/// Record data of the types a cluster DNS writes; anything else is kept as raw bytes.
public enum DNSRecordData: Sendable, Hashable {
    case address(IPAddress)
    case name(DNSName)  // CNAME, NS, PTR
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName)
    case txt([[UInt8]])
    case soa(SOA)
    case raw([UInt8])

    public struct SOA: Sendable, Hashable {
        public var mname: DNSName
        public var rname: DNSName
        public var serial: UInt32
        public var refresh: UInt32
        public var retry: UInt32
        public var expire: UInt32
        public var minimum: UInt32

        public init(mname: DNSName, rname: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32,
                    expire: UInt32, minimum: UInt32) {
            self.mname = mname
            self.rname = rname
            self.serial = serial
            self.refresh = refresh
            self.retry = retry
            self.expire = expire
            self.minimum = minimum
        }
    }
}

/// One resource record.
public struct DNSRecord: Sendable, Hashable, CustomStringConvertible {
    public var name: DNSName
    public var type: DNSType
    public var dnsClass: UInt16
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, type: DNSType, dnsClass: UInt16 = DNSClass.internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
        self.ttl = ttl
        self.data = data
    }

    /// An A or AAAA record, by the address's family.
    public static func address(_ name: DNSName, _ ip: IPAddress, ttl: UInt32) -> DNSRecord {
        DNSRecord(name: name, type: ip.family == .ipv4 ? .a : .aaaa, ttl: ttl, data: .address(ip))
    }

    /// The record as dig prints it in its answer section (tab separated).
    public var description: String {
        let cls = dnsClass == DNSClass.internet ? "IN" : "CLASS\(dnsClass)"
        return "\(name)\t\(ttl)\t\(cls)\t\(type)\t\(dataText)"
    }

    /// The data in presentation form.
    public var dataText: String {
        switch data {
        case let .address(ip): return ip.description
        case let .name(n): return n.description
        case let .srv(priority, weight, port, target): return "\(priority) \(weight) \(port) \(target)"
        case let .txt(strings): return strings.map(DNSRecord.quoted).joined(separator: " ")
        case let .soa(s):
            return "\(s.mname) \(s.rname) \(s.serial) \(s.refresh) \(s.retry) \(s.expire) \(s.minimum)"
        case let .raw(bytes):
            // RFC 3597 generic form.
            return "\\# \(bytes.count)" + (bytes.isEmpty ? "" : " " + bytes.map { String($0, radix: 16).leftPadded(2) }.joined())
        }
    }

    private static func quoted(_ s: [UInt8]) -> String {
        var out = "\""
        for b in s {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out += "\\"
                out.unicodeScalars.append(Unicode.Scalar(b))
            case 0x20...0x7e: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\" + String(b).leftPadded(3, with: "0")
            }
        }
        return out + "\""
    }
}

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
