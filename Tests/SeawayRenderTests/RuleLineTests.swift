import SeawayModel
import Testing
@testable import SeawayRender

/// Rule lines read back as the text interpolated into them, short (kept inline) or long
/// (moved to the heap part way).
@Suite struct RuleLineTests {
    @Test func shortAndLongLinesReadBackAsWritten() {
        let ip = IPAddress("10.0.0.255")!, v6 = IPAddress("fd00::1")!, cidr = CIDR("192.168.0.0/16")!
        let short: RuleLine = "-A KUBE-SVC-X -d \(ip) --dport \(80) -s \(cidr) \(v6) \(-7)"
        #expect(String(decoding: short.bytes, as: UTF8.self) == "-A KUBE-SVC-X -d 10.0.0.255 --dport 80 -s 192.168.0.0/16 fd00::1 -7")

        // Past the inline capacity within one interpolation, and across several.
        let word = String(repeating: "w", count: 100)
        let long: RuleLine = "\(word) \(word) \(word) \(0) \(ip)"
        let expected = "\(word) \(word) \(word) 0 10.0.0.255"
        #expect(String(decoding: long.bytes, as: UTF8.self) == expected)
        #expect(long.count == expected.utf8.count)
        let nested: RuleLine = "head \(long) tail"
        #expect(String(decoding: nested.bytes, as: UTF8.self) == "head \(expected) tail")
        // A literal alone longer than the inline part (literals are StaticStrings).
        let literal = RuleLine(stringLiteral: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
        #expect(literal.count == 300)
        #expect(literal.bytes == Array(repeating: UInt8(ascii: "x"), count: 300))

        var grown: RuleLine = "numgen random mod 40 vmap {"
        for n in 0..<40 { grown.append(" \(n) : goto endpoint-HASH\(n) ,") }
        #expect(String(decoding: grown.bytes, as: UTF8.self)
            == "numgen random mod 40 vmap {" + (0..<40).map { " \($0) : goto endpoint-HASH\($0) ," }.joined())

        var block = LineBlock()
        block.append(long)
        block.append(short)
        #expect(block.lines == [expected, String(decoding: short.bytes, as: UTF8.self)])
    }

    /// The decimal writer rule lines and addresses share, at its edges.
    @Test func decimalsAndAddressesAtTheirEdges() {
        for n in Array(-120...120) + [999, 1000, 65535, -1000, Int.max, Int.min] {
            let line: RuleLine = "\(n)"
            #expect(String(decoding: line.bytes, as: UTF8.self) == String(n))
            // Near the end of the inline room and past it, where the digits take a detour.
            for pad in [200, 210, 230] {
                let text = String(repeating: "x", count: pad)
                let long: RuleLine = "\(text)\(n)"
                #expect(String(decoding: long.bytes, as: UTF8.self) == text + String(n))
            }
        }
        for text in ["0.0.0.0", "255.255.255.255", "10.9.99.100", "1.20.255.3"] {
            let line: RuleLine = "\(IPAddress(text)!, port: 65535)"
            #expect(String(decoding: line.bytes, as: UTF8.self) == text + ":65535")
        }
    }
}
