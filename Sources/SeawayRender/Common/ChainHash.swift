import Crypto

/// The hashes kube-proxy builds chain names from: SHA-256, then RFC 4648 base32 (standard
/// alphabet), truncated. Both backends' names depend on these being exact.
public enum ChainHash {
    /// base32(sha256(text)) truncated to `length` characters.
    public static func base32SHA256(_ text: String, length: Int) -> String {
        let digest = Array(SHA256.hash(data: Array(text.utf8)))
        return base32(digest, characters: length)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// The first `characters` characters of the base32 encoding of `bytes`.
    static func base32(_ bytes: [UInt8], characters: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(characters)
        var buffer: UInt32 = 0
        var bits = 0
        var index = 0
        while out.count < characters {
            if bits < 5 {
                if index < bytes.count {
                    buffer = buffer << 8 | UInt32(bytes[index])
                    index += 1
                    bits += 8
                } else {
                    if bits == 0 { break }
                    buffer <<= UInt32(5 - bits)
                    bits = 5
                }
            }
            out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
            bits -= 5
        }
        return String(decoding: out, as: UTF8.self)
    }
}
