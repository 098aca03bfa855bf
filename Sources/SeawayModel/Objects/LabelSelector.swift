/// A Kubernetes label selector (`matchLabels` + `matchExpressions`).
///
/// An empty selector matches everything; a nil selector (absent field) is the caller's to
/// interpret, since its meaning differs by API (NetworkPolicy peers vs Service selectors).
public struct LabelSelector: Sendable, Hashable {
    public enum Operator: String, Sendable, Hashable {
        case `in` = "In"
        case notIn = "NotIn"
        case exists = "Exists"
        case doesNotExist = "DoesNotExist"
    }

    public struct Requirement: Sendable, Hashable {
        public var key: String
        public var op: Operator
        public var values: [String]

        public init(key: String, op: Operator, values: [String] = []) {
            self.key = key
            self.op = op
            self.values = values
        }

        public func matches(_ labels: [String: String]) -> Bool {
            switch op {
            case .in: return labels[key].map(values.contains) ?? false
            case .notIn: return labels[key].map { !values.contains($0) } ?? true
            case .exists: return labels[key] != nil
            case .doesNotExist: return labels[key] == nil
            }
        }
    }

    public var matchLabels: [String: String]
    public var matchExpressions: [Requirement]

    public init(matchLabels: [String: String] = [:], matchExpressions: [Requirement] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    public var isEmpty: Bool { matchLabels.isEmpty && matchExpressions.isEmpty }

    public func matches(_ labels: [String: String]) -> Bool {
        for (k, v) in matchLabels where labels[k] != v { return false }
        return matchExpressions.allSatisfy { $0.matches(labels) }
    }

    static func decode(_ f: Field) throws -> LabelSelector {
        try f.requireMapping()
        var sel = LabelSelector(matchLabels: try f["matchLabels"]?.stringMap() ?? [:])
        for e in try f["matchExpressions"]?.list() ?? [] {
            guard let keyField = e["key"] else { throw e.error("key is required") }
            guard let opField = e["operator"] else { throw e.error("operator is required") }
            let opText = try opField.string()
            guard let op = Operator(rawValue: opText) else {
                throw opField.error("invalid operator '\(opText)' (must be In, NotIn, Exists or DoesNotExist)")
            }
            let values = try e["values"]?.stringList() ?? []
            let needsValues = op == .in || op == .notIn
            if needsValues && values.isEmpty {
                throw e.error("values must be non-empty for operator \(op.rawValue)")
            }
            if !needsValues && !values.isEmpty {
                throw e.error("values must be empty for operator \(op.rawValue)")
            }
            sel.matchExpressions.append(Requirement(key: try keyField.string(), op: op, values: values))
        }
        return sel
    }
}
