import Crypto
import Testing
@testable import SeawayRender

/// ChainHash hashes through BoringSSL's C functions (no allocation per name); these check
/// it against swift-crypto's public SHA-256 and an independent base32 on every length of
/// input a chain name can have, and kube-proxy's own published name for one service.
struct ChainHashTests {
    /// RFC 4648 base32, written the obvious way, to check the grouped encoder against.
    static func base32(_ bytes: some Sequence<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = "", out = ""
        for b in bytes {
            let s = String(b, radix: 2)
            bits += String(repeating: "0", count: 8 - s.count) + s
        }
        var i = bits.startIndex
        while i < bits.endIndex {
            let end = bits.index(i, offsetBy: 5, limitedBy: bits.endIndex) ?? bits.endIndex
            var chunk = String(bits[i..<end])
            chunk += String(repeating: "0", count: 5 - chunk.count)
            out.append(alphabet[Int(chunk, radix: 2)!])
            i = end
        }
        return out
    }

    @Test func matchesSwiftCryptoOnEveryLength() {
        for length in 0...300 {
            let text = String((0..<length).map { Character(UnicodeScalar(UInt8(32 + ($0 * 7 + length) % 90))) })
            let expected = Self.base32(SHA256.hash(data: Array(text.utf8)))
            #expect(ChainHash.base32SHA256(text, length: 16) == String(expected.prefix(16)), "length \(length)")
            #expect(ChainHash.base32SHA256(text, length: 52) == expected, "length \(length)")
        }
    }

    @Test func splitInputHashesAsTheJoinedText() {
        let prefix = "SVCHASHPREFIXns1/svc1:p80"
        for suffixLength in [0, 1, 14, 39, 40, 63, 64, 65, 200] {
            let suffix = Array(String(repeating: "10.0.0.1:80,", count: 20).utf8.prefix(suffixLength))
            let written = [UInt8](unsafeUninitializedCapacity: 64) { out, count in
                count = suffix.withUnsafeBufferPointer { ChainHash.writeName("KUBE-SEP-", hashing: prefix, $0, length: 16, into: out) }
            }
            let expected = "KUBE-SEP-" + String(Self.base32(SHA256.hash(data: Array(prefix.utf8) + suffix)).prefix(16))
            #expect(String(decoding: written, as: UTF8.self) == expected, "suffix \(suffixLength)")
        }
    }

    /// kube-proxy's iptables test for a service port's chain: `KUBE-SVC-XPGD46QRK7WJZT7O`
    /// for "ns1/svc1:p80" over TCP (its TestOverallIPTablesRules, in
    /// Fixtures/render/kube-proxy-overall/iptables.kube-proxy-expected).
    @Test func kubeProxysPublishedServiceChainName() {
        #expect("KUBE-SVC-" + ChainHash.base32SHA256("ns1/svc1:p80tcp", length: 16) == "KUBE-SVC-XPGD46QRK7WJZT7O")
    }
}
