/// An L4 protocol a Service port can use.
public enum L4Protocol: String, Sendable, Hashable, CaseIterable, Comparable {
    case tcp = "TCP"
    case udp = "UDP"
    case sctp = "SCTP"

    /// Lowercase, as iptables `-p` and nftables `meta l4proto` write it. A constant: rule
    /// text copies it without the reference counting a `String` costs.
    public var lowercased: StaticString {
        switch self {
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .sctp: return "sctp"
        }
    }

    public static func < (a: L4Protocol, b: L4Protocol) -> Bool {
        a.rawValue < b.rawValue
    }

    static func decode(_ f: Field?) throws -> L4Protocol {
        guard let f else { return .tcp }
        let s = try f.string()
        guard let p = L4Protocol(rawValue: s) else {
            throw f.error("unsupported protocol '\(s)' (must be TCP, UDP or SCTP)")
        }
        return p
    }
}

/// A port given as a number or as a named container port.
public enum IntOrString: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public var description: String {
        switch self {
        case let .int(v): return String(v)
        case let .string(s): return s
        }
    }

    static func decode(_ f: Field) throws -> IntOrString {
        if let v = try? f.int() { return .int(v) }
        let s = try f.string()
        if let v = Int(s) { return .int(v) }
        return .string(s)
    }
}
