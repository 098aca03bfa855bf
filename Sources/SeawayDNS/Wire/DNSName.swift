/// A domain name as its labels (raw bytes; DNS labels are not necessarily UTF-8).
///
/// Comparison is case-insensitive for ASCII, as RFC 4343 requires, but a name keeps the case
/// it was written in: answers echo the question's spelling, as CoreDNS does.
public struct DNSName: Sendable, Hashable, CustomStringConvertible {
    public private(set) var labels: [[UInt8]]

    /// The most bytes a name takes on the wire, length octets and the root included.
    public static let maxWireLength = 255
    public static let maxLabelLength = 63

    public static let root = DNSName(uncheckedLabels: [])

    init(uncheckedLabels labels: [[UInt8]]) { self.labels = labels }

    /// A name from labels; nil if a label is empty or too long, or the name is too long.
    public init?(labels: [[UInt8]]) {
        guard labels.allSatisfy({ !$0.isEmpty && $0.count <= DNSName.maxLabelLength }),
              labels.reduce(1, { $0 + 1 + $1.count }) <= DNSName.maxWireLength else { return nil }
        self.labels = labels
    }

    /// Parses presentation text (`web.default.svc.cluster.local`, with or without the final
    /// dot; `\.` and `\DDD` escapes as dig writes them). `.` alone is the root.
    public init?(_ text: some StringProtocol) {
        if text == "." { self = .root; return }
        var labels: [[UInt8]] = []
        var label: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        guard !bytes.isEmpty else { return nil }
        while let b = bytes.popFirst() {
            switch b {
            case UInt8(ascii: "."):
                guard !label.isEmpty else { return nil }
                labels.append(label)
                label = []
            case UInt8(ascii: "\\"):
                guard let next = bytes.popFirst() else { return nil }
                if let d0 = DNSName.digit(next) {
                    guard let d1 = bytes.popFirst().flatMap(DNSName.digit), let d2 = bytes.popFirst().flatMap(DNSName.digit),
                          d0 * 100 + d1 * 10 + d2 <= 255 else { return nil }
                    label.append(UInt8(d0 * 100 + d1 * 10 + d2))
                } else {
                    label.append(next)
                }
            default:
                label.append(b)
            }
        }
        if !label.isEmpty { labels.append(label) }
        self.init(labels: labels)
    }

    private static func digit(_ b: UInt8) -> Int? {
        b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") ? Int(b - UInt8(ascii: "0")) : nil
    }

    /// Bytes this name takes on the wire without compression.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// The name in lower case: the form names are compared and indexed in.
    public func lowercased() -> DNSName {
        DNSName(uncheckedLabels: labels.map { $0.map(DNSName.lower) })
    }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b | 0x20 : b }

    public static func == (a: DNSName, b: DNSName) -> Bool {
        guard a.labels.count == b.labels.count else { return false }
        for (x, y) in zip(a.labels, b.labels) {
            guard x.count == y.count else { return false }
            for (p, q) in zip(x, y) where lower(p) != lower(q) { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        for label in labels {
            hasher.combine(label.count)
            for b in label { hasher.combine(DNSName.lower(b)) }
        }
    }

    /// True if `self` is `zone` or below it.
    public func isSubdomain(of zone: DNSName) -> Bool {
        labels.count >= zone.labels.count && DNSName(uncheckedLabels: Array(labels.suffix(zone.labels.count))) == zone
    }

    /// The labels in front of `zone` (which must be a suffix: see `isSubdomain(of:)`).
    public func labels(below zone: DNSName) -> ArraySlice<[UInt8]> {
        labels.dropLast(zone.labels.count)
    }

    /// `self` with `label` in front; nil if the result is not a legal name.
    public func prepending(_ label: some StringProtocol) -> DNSName? {
        DNSName(labels: [Array(label.utf8)] + labels)
    }

    /// `self` with `other`'s labels in front.
    public func prepending(_ other: DNSName) -> DNSName? { DNSName(labels: other.labels + labels) }

    /// Presentation form with the final dot, escaping as dig does.
    public var description: String {
        if labels.isEmpty { return "." }
        var out = ""
        for label in labels {
            for b in label {
                switch b {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ")"),
                     UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    out.append("\\")
                    out.unicodeScalars.append(Unicode.Scalar(b))
                case 0x21...0x7e:
                    out.unicodeScalars.append(Unicode.Scalar(b))
                default:
                    let d = String(b)
                    out += "\\" + String(repeating: "0", count: 3 - d.count) + d
                }
            }
            out += "."
        }
        return out
    }
}
