import Crypto
import SeawayCNI
import Testing

@Suite struct SHA512Tests {
    @Test func knownVectors() {
        #expect(SHA512.hex("abc") == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        #expect(SHA512.hex("").hasPrefix("cf83e1357eefb8bdf1542850d66d8007"))
    }

    @Test func agreesWithSwiftCryptoAcrossBlockBoundaries() {
        for length in [0, 1, 55, 111, 112, 127, 128, 129, 239, 240, 1000] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            #expect(SHA512.hash(message) == Array(Crypto.SHA512.hash(data: message)), "length \(length)")
        }
    }
}
