import Yams

/// A decoded YAML/JSON value, converted once from Yams' node tree.
///
/// Yams nodes are expensive to copy (each scalar carries a weak anchor reference), and a
/// field lookup copies every key before the one it finds. Converting each document once
/// into this plain tree made manifest decoding several times cheaper.
indirect enum YAMLValue: Sendable {
    /// A scalar; `plain` is false for quoted scalars, which Kubernetes reads as strings.
    case scalar(String, plain: Bool, line: Int)
    case mapping([(key: String, value: YAMLValue)], line: Int)
    case sequence([YAMLValue], line: Int)

    init(_ node: Yams.Node) {
        switch node {
        case let .scalar(s):
            self = .scalar(s.string, plain: s.style == .plain, line: s.mark?.line ?? 0)
        case let .mapping(m):
            var pairs: [(key: String, value: YAMLValue)] = []
            pairs.reserveCapacity(m.count)
            for (k, v) in m {
                // Non-string keys do not occur in Kubernetes objects; keep their text.
                pairs.append((k.scalar?.string ?? "\(k)", YAMLValue(v)))
            }
            self = .mapping(pairs, line: m.mark?.line ?? 0)
        case let .sequence(s):
            self = .sequence(s.map(YAMLValue.init), line: s.mark?.line ?? 0)
        case let .alias(a):
            self = .scalar("*\(a.anchor)", plain: true, line: a.mark?.line ?? 0)
        }
    }

    var line: Int {
        switch self {
        case let .scalar(_, _, line), let .mapping(_, line), let .sequence(_, line): return line
        }
    }
}
