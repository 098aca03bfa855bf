import Testing
@testable import SeawayModel

@Suite struct IPAddressTests {
    @Test func parsesIPv4() {
        #expect(IPAddress("10.0.0.1")?.description == "10.0.0.1")
        #expect(IPAddress("255.255.255.255")?.description == "255.255.255.255")
        #expect(IPAddress("256.0.0.1") == nil)
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("1.2.3.4.5") == nil)
        #expect(IPAddress("1..3.4") == nil)
        #expect(IPAddress("") == nil)
    }

    /// Every octet value in every position, through each way the text is written: the
    /// description, `ip:port`, and a buffer of exactly 15 bytes (the longest address).
    @Test func writesEveryOctetInEveryPosition() {
        for position in 0..<4 {
            for octet in 0...255 {
                var parts = ["1", "22", "133", "4"]
                parts[position] = String(octet)
                let text = parts.joined(separator: ".")
                let v = parts.reduce(UInt32(0)) { $0 << 8 | UInt32($1)! }
                #expect(IPAddress(v4: v).description == text)
                #expect(IPAddress(v4: v).joined(port: 65535) == text + ":65535")
                let exact = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 15) { buffer in
                    String(decoding: buffer[..<IPAddress.writeV4(v, port: nil, into: buffer)], as: UTF8.self)
                }
                #expect(exact == text)
            }
        }
        #expect(IPAddress(v4: 0xFFFF_FFFF).description == "255.255.255.255")
        #expect(IPAddress(v4: 0).joined(port: 0) == "0.0.0.0:0")
    }

    /// The text is written in words: none of them reaches past the 15 (or, with a port, 21)
    /// bytes the caller gives, for the longest addresses and ports.
    @Test func writesNothingPastTheBuffer() {
        for v: UInt32 in [0xFFFF_FFFF, 0x64C8_7BEA, 0x0A00_00FF, 0x0101_0101] {
            for port in [nil, 0, 8080, 65535] as [Int?] {
                let window = port == nil ? 15 : 21
                var bytes = [UInt8](repeating: 0xEE, count: window + 8)
                let n = bytes.withUnsafeMutableBufferPointer { all in
                    IPAddress.writeV4(v, port: port, into: UnsafeMutableBufferPointer(rebasing: all[..<window]))
                }
                let text = IPAddress(v4: v).description + (port.map { ":\($0)" } ?? "")
                #expect(String(decoding: bytes[..<n], as: UTF8.self) == text)
                #expect(bytes[window...].allSatisfy { $0 == 0xEE }, "\(text) in \(window) bytes")
            }
        }
    }

    @Test func leadingZerosAreDecimalLikeParseIPSloppy() {
        #expect(IPAddress("010.000.001.002")?.description == "10.0.1.2")
        #expect(CIDR("010.001.0.0/16")?.description == "10.1.0.0/16")
    }

    @Test func formatsIPv6LikeGo() {
        #expect(IPAddress("2001:db8:0:0:0:0:0:1")?.description == "2001:db8::1")
        #expect(IPAddress("FD00::0001")?.description == "fd00::1")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("::1")?.description == "::1")
        // A single zero group is not compressed; the longest run wins; ties go to the first.
        #expect(IPAddress("2001:db8:0:1:1:1:1:1")?.description == "2001:db8:0:1:1:1:1:1")
        #expect(IPAddress("1:0:0:2:0:0:0:3")?.description == "1:0:0:2::3")
        #expect(IPAddress("1:0:0:2:3:0:0:4")?.description == "1::2:3:0:0:4")
        #expect(IPAddress("fe80::1:2:3:4")?.description == "fe80::1:2:3:4")
        #expect(IPAddress("1::2::3") == nil)
        #expect(IPAddress("12345::1") == nil)
        #expect(IPAddress("1:2:3:4:5:6:7:8:9") == nil)
    }

    @Test func ipv4MappedIsIPv4AsInGo() {
        let ip = IPAddress("::ffff:192.0.2.1")
        #expect(ip?.family == .ipv4)
        #expect(ip?.description == "192.0.2.1")
    }

    @Test func cidrMasksAndContains() throws {
        let c = try #require(CIDR("10.1.2.3/8"))
        #expect(c.description == "10.0.0.0/8")
        #expect(c.contains(IPAddress("10.255.0.1")!))
        #expect(!c.contains(IPAddress("11.0.0.1")!))
        #expect(!c.contains(IPAddress("::1")!))
        let v6 = try #require(CIDR("fd00:10:96::1/112"))
        #expect(v6.description == "fd00:10:96::/112")
        #expect(v6.contains(IPAddress("fd00:10:96::ffff")!))
        #expect(!v6.contains(IPAddress("fd00:10:97::1")!))
        #expect(CIDR("0.0.0.0/0")!.contains(IPAddress("8.8.8.8")!))
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("10.0.0.0") == nil)
        #expect(CIDR("10.0.0.0/") == nil)
    }

    @Test func joinsHostPortLikeGo() {
        #expect(IPAddress("10.0.0.1")!.joined(port: 80) == "10.0.0.1:80")
        #expect(IPAddress("fd00::1")!.joined(port: 80) == "[fd00::1]:80")
    }
}
