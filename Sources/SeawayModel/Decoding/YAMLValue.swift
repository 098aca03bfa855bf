/// A decoded YAML/JSON value, built by `YAMLDocuments` from libyaml's events: plain
/// values (a field lookup copies every key before the one it finds, so cheap copies matter)
/// with the line each starts on, for errors.
indirect enum YAMLValue: Sendable {
    /// A scalar; `plain` is false for quoted scalars, which Kubernetes reads as strings.
    case scalar(String, plain: Bool, line: Int)
    case mapping([(key: String, value: YAMLValue)], line: Int)
    case sequence([YAMLValue], line: Int)

    var line: Int {
        switch self {
        case let .scalar(_, _, line), let .mapping(_, line), let .sequence(_, line): return line
        }
    }
}
