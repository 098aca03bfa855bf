@testable import SeawayCNI
import Testing

@Suite struct JSONParserTests {
    func parse(_ text: String) throws(CNIError) -> JSONValue { try JSONValue.parse(Array(text.utf8), what: "test") }

    @Test func readsEveryKindAndKeepsMemberOrder() throws {
        let v = try parse(#" { "z": 1, "a": [true, false, null, -2.5e1, 0], "m": {"k": "v"} } "#)
        guard case let .object(fields) = v else { Issue.record("not an object"); return }
        #expect(fields.map(\.0) == ["z", "a", "m"])
        #expect(v["a"] == .array([.bool(true), .bool(false), .null, .number(-25), .number(0)]))
        #expect(v["m"]?["k"] == .string("v"))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        #expect(try parse(#""a\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#) == .string("a\"\\/\u{8}\u{c}\n\r\tAé😀"))
        // A lone surrogate becomes U+FFFD, as in Go.
        #expect(try parse(#""\ud800x""#) == .string("\u{FFFD}x"))
    }

    @Test func aRepeatedMemberTakesTheLastValue() throws {
        #expect(try parse(#"{"a": 1, "a": 2}"#) == .object([("a", .number(2))]))
    }

    @Test(arguments: [
        ("", "unexpected end of input at line 1, column 1"),
        ("{", "expected a member name in quotes at line 1, column 2"),
        ("{\"a\" 1}", "expected ':' after a member name at line 1, column 6"),
        ("[1,]", "unexpected character ']' at line 1, column 4"),
        ("{\n  \"a\": tru }", "invalid literal at line 2, column 8"),
        ("01", "unexpected data after the document at line 1, column 2"),
        ("1.", "expected a digit after '.' at line 1, column 3"),
        ("\"a\u{1}\"", "control character in a string at line 1, column 4"),
        ("\"\\x\"", "invalid escape at line 1, column 4"),
        ("{} {}", "unexpected data after the document at line 1, column 4"),
        ("1e999", "number out of range at line 1, column 1"),
    ])
    func failsWithWhereItBroke(_ text: String, _ expected: String) {
        #expect(throws: CNIError(.decodingFailure, "cannot decode test: not JSON", details: expected)) { try parse(text) }
    }

    @Test func refusesHostileNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: CNIError.self) { try parse(deep) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: Never.self) { try parse(fine) }
    }

    @Test func printsAsTheReferenceDoes() throws {
        let v = try parse(#"{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}],"dns":{},"x":"<\u0001>"}"#)
        #expect(v.text == """
        {
            "cniVersion": "1.0.0",
            "ips": [
                {
                    "address": "10.0.0.2/24"
                }
            ],
            "dns": {},
            "x": "<\\u0001>"
        }
        """)
        #expect(v.compactText == #"{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}],"dns":{},"x":"<\u0001>"}"#)
        #expect(try parse(v.text) == v)
    }
}
