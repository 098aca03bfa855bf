// BoringSSL's C interface, as swift-crypto builds it: swift-crypto's `SHA256` allocates a
// context object per hash and copies it to finalize, which was most of the cost of hashing
// the 110,000 short chain names of a 10k-service render (8% of its CPU time, against 2% for
// the hash itself). The same library's one-shot and stack-context functions do not
// allocate. ChainHashTests checks them against swift-crypto's public API.
import CCryptoBoringSSL

/// The hashes kube-proxy builds chain names from: SHA-256, then RFC 4648 base32 (standard
/// alphabet), truncated. Both backends' names depend on these being exact.
public enum ChainHash {
    /// base32(sha256(text)) truncated to `length` characters.
    public static func base32SHA256(_ text: String, length: Int) -> String {
        var text = text
        return text.withUTF8 { bytes in
            withSHA256(UnsafeRawBufferPointer(bytes)) { base32($0, characters: length) }
        }
    }

    /// Writes base32(sha256(bytes)) truncated to `length` into `out`; returns how many.
    static func writeBase32SHA256(_ bytes: UnsafeRawBufferPointer, length: Int, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        withSHA256(bytes) { writeBase32($0, characters: length, into: out) }
    }

    /// Calls `body` with the 32-byte SHA-256 digest of `bytes`, held on the stack.
    @inline(__always)
    static func withSHA256<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(SHA256_DIGEST_LENGTH)) { digest in
            _ = CCryptoBoringSSL_SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, digest.baseAddress)
            return body(UnsafeRawBufferPointer(digest))
        }
    }

    /// Writes `label` followed by base32(sha256(prefix + suffix)) truncated to `length` into
    /// `out`, without joining the inputs (this runs once per endpoint); returns how many bytes.
    static func writeName(_ label: StaticString, hashing prefix: String, _ suffix: UnsafeBufferPointer<UInt8>, length: Int,
                          into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var context = SHA256_CTX()
        CCryptoBoringSSL_SHA256_Init(&context)
        var p = prefix
        p.withUTF8 { _ = CCryptoBoringSSL_SHA256_Update(&context, $0.baseAddress, $0.count) }
        CCryptoBoringSSL_SHA256_Update(&context, suffix.baseAddress, suffix.count)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(SHA256_DIGEST_LENGTH)) { digest in
            CCryptoBoringSSL_SHA256_Final(digest.baseAddress, &context)
            let l = label.utf8CodeUnitCount
            for i in 0..<l { out[i] = label.utf8Start[i] }
            return l + writeBase32(UnsafeRawBufferPointer(digest), characters: length, into: UnsafeMutableBufferPointer(rebasing: out[l...]))
        }
    }

    /// The first `characters` characters of the base32 encoding of `bytes`.
    static func base32(_ bytes: UnsafeRawBufferPointer, characters: Int) -> String {
        String(unsafeUninitializedCapacity: characters) { writeBase32(bytes, characters: characters, into: $0) }
    }

    /// Writes the first `characters` base32 characters of `bytes` into `out`; returns how many.
    static func writeBase32(_ bytes: UnsafeRawBufferPointer, characters: Int, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var buffer: UInt32 = 0
        var bits = 0
        var index = 0
        var written = 0
        // Whole groups first: five bytes are eight characters (kube-proxy's names take one
        // or two groups), then the bit-by-bit loop for what is left.
        while characters - written >= 8, bytes.count - index >= 5 {
            var group: UInt64 = 0
            for i in 0..<5 { group = group << 8 | UInt64(bytes[index + i]) }
            for i in 0..<8 { out[written + i] = base32Character(UInt8(truncatingIfNeeded: group >> UInt64(35 - 5 * i)) & 31) }
            index += 5
            written += 8
        }
        while written < characters {
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
            out[written] = base32Character(UInt8(truncatingIfNeeded: (buffer >> UInt32(bits - 5)) & 31))
            written += 1
            bits -= 5
        }
        return written
    }

    /// RFC 4648's alphabet: A-Z for 0-25, then 2-7, read from a table: a comparison here
    /// goes either way at random, a mispredicted branch for every few characters.
    @inline(__always)
    private static func base32Character(_ v: UInt8) -> UInt8 {
        alphabet.utf8Start[Int(v & 31)]
    }

    private static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
}
