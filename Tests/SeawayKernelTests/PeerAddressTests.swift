import Glibc
import SeawayKernel
import SeawayNet
import Testing

/// Socket addresses built from Seaway's IPAddress read back the same, and are what the C
/// library builds from the address's text.
@Suite struct PeerAddressTests {
    @Test(arguments: [("10.244.1.2", 8080), ("0.0.0.0", 0), ("255.255.255.255", 65535), ("fd00::1:2", 53), ("::", 1), ("2001:db8:ffff::ffff", 443)])
    func addressesRoundTripAndMatchInetPton(_ text: String, _ port: Int) throws {
        let ip = try #require(IPAddress(text))
        let address = PeerAddress(ip: ip, port: port)
        #expect(address.ip == ip)
        #expect(address.port == port)
        #expect(address.isIPv6 == (ip.family == .ipv6))
        var storage = address.storage
        let family = ip.family == .ipv4 ? AF_INET : AF_INET6
        var expected = [UInt8](repeating: 0, count: 16)
        #expect(inet_pton(family, text, &expected) == 1)
        let length = ip.family == .ipv4 ? 4 : 16
        // sin_addr sits at offset 4, sin6_addr at 8 (after the port and the flow label).
        let actual = withUnsafeBytes(of: &storage) { Array($0[(ip.family == .ipv4 ? 4 : 8)...].prefix(length)) }
        #expect(actual == Array(expected.prefix(length)))
        #expect(Int(address.length) == (ip.family == .ipv4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size))
    }
}
