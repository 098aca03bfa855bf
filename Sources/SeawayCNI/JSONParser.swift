/// A strict RFC 8259 JSON parser for the documents CNI exchanges (configs, results).
///
/// Written here rather than taken from Foundation because a CNI plugin is exec'd once per
/// pod: a static binary that links Foundation starts in about 3.5 ms and weighs 70 MB, one
/// without it in 1.7 ms and 9 MB (measured on this machine; the Go reference takes 2.7 ms).
/// Object members keep document order, so a config prints back as it was written.
struct JSONParser {
    private let bytes: [UInt8]
    private var offset = 0
    private var depth = 0

    /// Nesting beyond this is refused rather than risking the stack on hostile input.
    static let maximumDepth = 256

    struct Failure: Error {
        var message: String
        var offset: Int
    }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses one whole document (surrounding whitespace allowed, nothing else).
    static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.offset == bytes.count else { throw parser.failure("unexpected data after the document") }
        return value
    }

    /// `line L, column C` of a byte offset, for error messages.
    static func position(of offset: Int, in bytes: [UInt8]) -> String {
        var line = 1, column = 1
        for byte in bytes.prefix(offset) {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return "line \(line), column \(column)"
    }

    private func failure(_ message: String) -> Failure { Failure(message: message, offset: offset) }

    private var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private mutating func skipWhitespace() {
        while let b = current, b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09 { offset += 1 }
    }

    private mutating func expect(_ literal: String, _ value: JSONValue) throws(Failure) -> JSONValue {
        let text = literal.utf8
        guard bytes.count - offset >= text.count, bytes[offset..<offset + text.count].elementsEqual(text) else {
            throw failure("invalid literal")
        }
        offset += text.count
        return value
    }

    private mutating func value() throws(Failure) -> JSONValue {
        guard let c = current else { throw failure("unexpected end of input") }
        switch c {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw failure("unexpected character '\(Character(Unicode.Scalar(c)))'")
        }
    }

    private mutating func nested<T>(_ body: (inout JSONParser) throws(Failure) -> T) throws(Failure) -> T {
        depth += 1
        guard depth <= JSONParser.maximumDepth else { throw failure("nested too deeply") }
        defer { depth -= 1 }
        return try body(&self)
    }

    private mutating func object() throws(Failure) -> JSONValue {
        try nested { (p: inout JSONParser) throws(Failure) -> JSONValue in
            p.offset += 1
            var members: [(String, JSONValue)] = []
            p.skipWhitespace()
            if p.current == UInt8(ascii: "}") { p.offset += 1; return .object(members) }
            while true {
                p.skipWhitespace()
                guard p.current == UInt8(ascii: "\"") else { throw p.failure("expected a member name in quotes") }
                let key = try p.string()
                p.skipWhitespace()
                guard p.current == UInt8(ascii: ":") else { throw p.failure("expected ':' after a member name") }
                p.offset += 1
                p.skipWhitespace()
                let value = try p.value()
                // A repeated name takes the last value, as Go's encoding/json does.
                if let i = members.firstIndex(where: { $0.0 == key }) { members[i].1 = value } else { members.append((key, value)) }
                p.skipWhitespace()
                switch p.current {
                case UInt8(ascii: ","): p.offset += 1
                case UInt8(ascii: "}"): p.offset += 1; return .object(members)
                default: throw p.failure("expected ',' or '}' in an object")
                }
            }
        }
    }

    private mutating func array() throws(Failure) -> JSONValue {
        try nested { (p: inout JSONParser) throws(Failure) -> JSONValue in
            p.offset += 1
            var items: [JSONValue] = []
            p.skipWhitespace()
            if p.current == UInt8(ascii: "]") { p.offset += 1; return .array(items) }
            while true {
                p.skipWhitespace()
                items.append(try p.value())
                p.skipWhitespace()
                switch p.current {
                case UInt8(ascii: ","): p.offset += 1
                case UInt8(ascii: "]"): p.offset += 1; return .array(items)
                default: throw p.failure("expected ',' or ']' in a list")
                }
            }
        }
    }

    private mutating func number() throws(Failure) -> JSONValue {
        let start = offset
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.offset
            while let b = p.current, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { p.offset += 1 }
            return p.offset - s
        }
        if current == UInt8(ascii: "-") { offset += 1 }
        if current == UInt8(ascii: "0") {
            offset += 1
        } else if digits(&self) == 0 {
            throw failure("expected a digit")
        }
        if current == UInt8(ascii: ".") {
            offset += 1
            guard digits(&self) > 0 else { throw failure("expected a digit after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            offset += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
            guard digits(&self) > 0 else { throw failure("expected a digit in the exponent") }
        }
        let text = String(decoding: bytes[start..<offset], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw Failure(message: "number out of range", offset: start) }
        return .number(value)
    }

    private mutating func string() throws(Failure) -> String {
        offset += 1
        var out: [UInt8] = []
        while true {
            guard let b = current else { throw failure("unterminated string") }
            offset += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw failure("string is not valid UTF-8") }
                return s
            case UInt8(ascii: "\\"):
                guard let e = current else { throw failure("unterminated escape") }
                offset += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): out.append(contentsOf: try unicodeEscape())
                default: throw failure("invalid escape")
                }
            case 0..<0x20:
                throw failure("control character in a string")
            default:
                out.append(b)
            }
        }
    }

    /// `\uXXXX` (the `\u` already read), pairing surrogates; a lone surrogate becomes
    /// U+FFFD, as Go does.
    private mutating func unicodeEscape() throws(Failure) -> [UInt8] {
        func hex4(_ p: inout JSONParser) throws(Failure) -> UInt32 {
            guard p.bytes.count - p.offset >= 4 else { throw p.failure("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = p.bytes[p.offset]
                let d: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
                default: throw p.failure("invalid \\u escape")
                }
                v = v << 4 | UInt32(d)
                p.offset += 1
            }
            return v
        }
        var scalar = try hex4(&self)
        if (0xd800..<0xdc00).contains(scalar), bytes.count - offset >= 6,
           bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") {
            let saved = offset
            offset += 2
            let low = try hex4(&self)
            if (0xdc00..<0xe000).contains(low) {
                scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
            } else {
                offset = saved
            }
        }
        let s = Unicode.Scalar(scalar) ?? "\u{FFFD}"
        return Array(String(Character(s)).utf8)
    }
}
