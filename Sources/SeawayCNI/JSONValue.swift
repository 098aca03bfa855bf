import SeawayNet

/// JSON as CNI exchanges it: parsed once (`JSONParser`), read through typed accessors that
/// name the field path in their errors (`ipam.ranges[0][0].subnet`), and printed with keys in
/// a fixed order and a 4-space indent, as the reference plugins print.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Keys in the order they are printed.
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            // Key order does not matter for equality.
            return x.count == y.count && x.allSatisfy { k, v in y.first { $0.0 == k }?.1 == v }
        default: return false
        }
    }

    /// Parses `bytes`; CNI error 6 (decoding failure) when it is not JSON, with where it broke.
    public static func parse(_ bytes: [UInt8], what: String) throws(CNIError) -> JSONValue {
        do throws(JSONParser.Failure) {
            return try JSONParser.parse(bytes)
        } catch {
            throw CNIError(.decodingFailure, "cannot decode \(what): not JSON",
                           details: "\(error.message) at \(JSONParser.position(of: error.offset, in: bytes))")
        }
    }

    public subscript(key: String) -> JSONValue? {
        guard case let .object(fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }

    // MARK: - Printing

    /// Pretty-printed, 4-space indent, keys in their stored order.
    public var text: String {
        var out = ""
        write(into: &out, indent: 0)
        return out
    }

    /// On one line, no spaces (Go's `json.Marshal`).
    public var compactText: String {
        switch self {
        case .array(let items): return "[" + items.map(\.compactText).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.map { k, v in
                var key = ""
                JSONValue.quote(k, into: &key)
                return key + ":" + v.compactText
            }.joined(separator: ",") + "}"
        default: return text
        }
    }

    private func write(into out: inout String, indent: Int) {
        let pad = String(repeating: " ", count: indent + 4), close = String(repeating: " ", count: indent)
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(n):
            out += n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case let .string(s): JSONValue.quote(s, into: &out)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(into: &out, indent: indent + 4)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += close + "]"
        case let .object(fields):
            if fields.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, (key, value)) in fields.enumerated() {
                out += pad
                JSONValue.quote(key, into: &out)
                out += ": "
                value.write(into: &out, indent: indent + 4)
                out += i == fields.count - 1 ? "\n" : ",\n"
            }
            out += close + "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// Reading a JSON document field by field, with the path in every error.
public struct JSONReader {
    public let value: JSONValue
    public let path: String

    public init(_ value: JSONValue, path: String = "") {
        self.value = value
        self.path = path
    }

    func at(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member `key`, nil when absent or null.
    public func optional(_ key: String) -> JSONReader? {
        guard let v = value[key], v != .null else { return nil }
        return JSONReader(v, path: at(key))
    }

    public func string(_ key: String) throws(CNIError) -> String? {
        guard let r = optional(key) else { return nil }
        guard case let .string(s) = r.value else { throw CNIError(.invalidConfig, "\(r.path): expected a string") }
        return s
    }

    public func bool(_ key: String) throws(CNIError) -> Bool? {
        guard let r = optional(key) else { return nil }
        guard case let .bool(b) = r.value else { throw CNIError(.invalidConfig, "\(r.path): expected true or false") }
        return b
    }

    public func int(_ key: String) throws(CNIError) -> Int? {
        guard let r = optional(key) else { return nil }
        guard case let .number(n) = r.value, n == n.rounded(), abs(n) < 1e15 else { throw CNIError(.invalidConfig, "\(r.path): expected an integer") }
        return Int(n)
    }

    public func array(_ key: String) throws(CNIError) -> [JSONReader]? {
        guard let r = optional(key) else { return nil }
        return try r.elements()
    }

    public func elements() throws(CNIError) -> [JSONReader] {
        guard case let .array(items) = value else { throw CNIError(.invalidConfig, "\(path): expected a list") }
        return items.enumerated().map { JSONReader($1, path: "\(path)[\($0)]") }
    }

    public func object(_ key: String) throws(CNIError) -> JSONReader? {
        guard let r = optional(key) else { return nil }
        guard case .object = r.value else { throw CNIError(.invalidConfig, "\(r.path): expected an object") }
        return r
    }

    /// An IP address field.
    public func address(_ key: String) throws(CNIError) -> IPAddress? {
        guard let s = try string(key) else { return nil }
        guard let ip = IPAddress(strict: s) else { throw CNIError(.invalidConfig, "\(at(key)): '\(s)' is not an IP address") }
        return ip
    }
}
