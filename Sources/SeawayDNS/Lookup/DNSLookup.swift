/// A one-shot lookup against the cluster zones, without a server: the name (expanded through
/// a pod's search path when one is given), asked as the server would be asked.
public struct DNSLookup: Sendable {
    public struct Attempt: Sendable, Hashable {
        public var name: DNSName
        /// nil: outside the cluster zones, so the server would forward it upstream.
        public var answer: ZoneAnswer?

        /// glibc stops at the first name that has records.
        var isFinal: Bool { answer.map { !$0.answers.isEmpty } ?? false }
    }

    /// Every name tried, in order; the last one is the answer (or the last failure).
    public var attempts: [Attempt]
    public var type: DNSType
    /// Set when the lookup used a pod's search path.
    public var searchPath: SearchPath?

    /// The types `ANY` stands for here: every type the cluster zones hold. (The server itself
    /// answers ANY as CoreDNS does, with NODATA; a one-shot lookup is more useful showing all.)
    public static let anyTypes: [DNSType] = [.a, .aaaa, .cname, .srv, .txt, .ptr]

    public init(_ query: String, type: DNSType, searchPath: SearchPath?, zone: KubernetesZone) {
        self.type = type
        self.searchPath = searchPath
        let candidates = searchPath?.candidates(for: query) ?? DNSName(query).map { [$0] } ?? []
        attempts = []
        for name in candidates {
            let attempt = Attempt(name: name, answer: DNSLookup.ask(name, type, zone))
            attempts.append(attempt)
            if attempt.isFinal { break }
        }
    }

    private static func ask(_ name: DNSName, _ type: DNSType, _ zone: KubernetesZone) -> ZoneAnswer? {
        let types = type == .any ? anyTypes : [type]
        var merged: ZoneAnswer?
        for t in types {
            guard case let .answer(a) = zone.answer(DNSQuestion(name: name, type: t)) else { return nil }
            guard var m = merged else { merged = a; continue }
            m.answers += a.answers
            m.additional += a.additional
            m.chase += a.chase
            if !m.answers.isEmpty { m.rcode = .noError; m.authority = [] }
            merged = m
        }
        return merged
    }

    /// The final answer's rcode; nil if the name was forwarded.
    public var rcode: DNSResponseCode? { attempts.last?.answer?.rcode }

    /// dig-style text: the names tried (with a search path), then the answer's sections.
    public var text: String {
        var out: [String] = []
        if let searchPath {
            out.append(";; search \(searchPath.domains.map(\.description).joined(separator: " ")) (ndots:\(searchPath.ndots))")
            for a in attempts {
                out.append(";; tried \(a.name)\t\(type)\t\(a.answer.map { a in a.answers.isEmpty && a.rcode == .noError ? "NODATA" : a.rcode.description } ?? "FORWARDED")")
            }
            out.append("")
        }
        guard let last = attempts.last else { return ";; not a valid name\n" }
        guard let answer = last.answer else {
            out.append(";; \(last.name) is outside the cluster zones: the server forwards it to its upstream")
            return out.joined(separator: "\n") + "\n"
        }
        out.append(";; ->>HEADER<<- status: \(answer.rcode), flags: qr aa")
        out.append("")
        out.append(";; QUESTION SECTION:")
        out.append(";\(last.name)\t\tIN\t\(type)")
        for (title, records) in [("ANSWER", answer.answers), ("AUTHORITY", answer.authority), ("ADDITIONAL", answer.additional)]
            where !records.isEmpty {
            out.append("")
            out.append(";; \(title) SECTION:")
            out += records.map(\.description)
        }
        if !answer.chase.isEmpty {
            out.append("")
            out += answer.chase.map { ";; the server asks its upstream for \($0.name) \($0.type) and appends the answer" }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
