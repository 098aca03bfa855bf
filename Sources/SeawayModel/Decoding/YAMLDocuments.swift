// libyaml as Yams builds it (its CYaml module). Yams' own `Parser` first builds a tree of
// `Node`s (an event object per event, a mark and a tag per node) and checks every mapping's
// keys for duplicates by hashing those nodes: at 10,000 services that was over half of
// loading the manifests, and the nodes were then copied into `YAMLValue`s anyway. Here the
// events become `YAMLValue`s directly. The syntax and its errors are libyaml's, as before;
// aliases resolve to their anchors and duplicate keys are refused, as Yams does.
import CYaml

/// The documents of a YAML (or JSON) text as `YAMLValue`s, read straight from libyaml's
/// events.
enum YAMLDocuments {
    /// What libyaml (or the composition here) found wrong: its context and problem, and
    /// the line (1-based) where; no line for an encoding error.
    struct SyntaxError: Error, Equatable {
        let message: String
        let line: Int?
    }

    /// Calls `body` with each document's root, in order. A syntax error in a document is
    /// thrown once the documents before it have been handed over.
    static func forEach(in text: String, _ body: (YAMLValue) throws -> Void) throws {
        var text = text
        try text.withUTF8 { bytes in
            var reader = Reader()
            try reader.read(bytes, body)
        }
    }

    /// The one document of `text`; nil when it holds none. More than one is an error.
    static func single(in text: String) throws -> YAMLValue? {
        var root: YAMLValue?
        try forEach(in: text) { document in
            guard root == nil else {
                throw SyntaxError(message: "expected a single document in the stream, but found another document",
                                  line: document.line)
            }
            root = document
        }
        return root
    }

    /// A mapping or sequence whose end has not come yet.
    private struct Open {
        let isMapping: Bool
        let line: Int
        let anchor: String?
        var items: [YAMLValue] = []
        var pairs: [(key: String, value: YAMLValue)] = []
        /// Each key's line, for naming a duplicate.
        var keyLines: [Int] = []
        /// A key read, waiting for its value.
        var key: String?
    }

    private struct Reader {
        var open: [Open] = []
        var anchors: [String: YAMLValue] = [:]
        /// The document's root once its last event has come.
        var root: YAMLValue?

        mutating func read(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (YAMLValue) throws -> Void) throws {
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { throw SyntaxError(message: "out of memory", line: nil) }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { throw Self.error(of: parser) }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_DOCUMENT_END_EVENT:
                    if let document = root { try body(document) }
                    root = nil
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let value = YAMLValue.scalar(Self.text(s.value, s.length), plain: s.style == YAML_PLAIN_SCALAR_STYLE,
                                                 line: Self.line(event.start_mark))
                    finish(value, anchor: Self.text(s.anchor))
                case YAML_ALIAS_EVENT:
                    let name = Self.text(event.data.alias.anchor) ?? ""
                    guard let value = anchors[name] else {
                        throw SyntaxError(message: "found undefined alias", line: Self.line(event.start_mark))
                    }
                    finish(value, anchor: nil)
                case YAML_MAPPING_START_EVENT:
                    open.append(Open(isMapping: true, line: Self.line(event.start_mark), anchor: Self.text(event.data.mapping_start.anchor)))
                case YAML_SEQUENCE_START_EVENT:
                    open.append(Open(isMapping: false, line: Self.line(event.start_mark), anchor: Self.text(event.data.sequence_start.anchor)))
                case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                    let done = open.removeLast()
                    if done.isMapping { try Self.refuseDuplicateKeys(done) }
                    finish(done.isMapping ? .mapping(done.pairs, line: done.line) : .sequence(done.items, line: done.line),
                               anchor: done.anchor)
                default:
                    break  // stream and document starts
                }
            }
        }

        /// Hands a complete node to whatever holds it: the open mapping (as a key, then as
        /// its value) or sequence, else the document.
        private mutating func finish(_ value: YAMLValue, anchor: String?) {
            if let anchor { anchors[anchor] = value }
            guard !open.isEmpty else {
                root = value
                return
            }
            let top = open.count - 1
            if !open[top].isMapping {
                open[top].items.append(value)
            } else if let key = open[top].key {
                open[top].pairs.append((key, value))
                open[top].key = nil
            } else {
                guard case let .scalar(text, _, line) = value else {
                    // Kubernetes objects have no complex keys; Yams let them through as text too.
                    open[top].key = "\(value)"
                    open[top].keyLines.append(value.line)
                    return
                }
                open[top].key = text
                open[top].keyLines.append(line)
            }
        }

        private static func refuseDuplicateKeys(_ mapping: Open) throws {
            let pairs = mapping.pairs
            guard pairs.count > 1 else { return }
            // Most mappings have a handful of keys: comparing them all is cheaper than hashing.
            if pairs.count <= 16 {
                for i in 1..<pairs.count {
                    for j in 0..<i where pairs[j].key == pairs[i].key {
                        throw duplicate(pairs[i].key, line: mapping.keyLines[i])
                    }
                }
                return
            }
            var seen = Set<String>(minimumCapacity: pairs.count)
            for (i, pair) in pairs.enumerated() where !seen.insert(pair.key).inserted {
                throw duplicate(pair.key, line: mapping.keyLines[i])
            }
        }

        private static func duplicate(_ key: String, line: Int) -> SyntaxError {
            SyntaxError(message: "duplicated key \"\(key)\" in mapping", line: line)
        }

        private static func text(_ start: UnsafeMutablePointer<yaml_char_t>?, _ count: Int) -> String {
            guard let start else { return "" }
            return String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
        }

        private static func text(_ cString: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            cString.map { String(cString: $0) }
        }

        private static func line(_ mark: yaml_mark_t) -> Int { Int(mark.line) + 1 }

        /// libyaml's error, worded as Yams words it: context, then problem.
        private static func error(of parser: yaml_parser_t) -> SyntaxError {
            let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
            switch parser.error {
            case YAML_MEMORY_ERROR:
                return SyntaxError(message: "out of memory", line: nil)
            case YAML_READER_ERROR:
                return SyntaxError(message: problem, line: nil)
            default:
                let context = parser.context.map { String(cString: $0) + " " } ?? ""
                return SyntaxError(message: context + problem, line: Int(parser.problem_mark.line) + 1)
            }
        }
    }
}
