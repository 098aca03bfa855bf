/// Splits a multi-document YAML stream into chunks of whole documents, so chunks can be
/// parsed in parallel.
///
/// A document starts at a line that begins with `---` followed by a space or the line's
/// end. Such a line cannot occur inside a document: block scalars are indented, and a
/// document marker inside a quoted scalar is a YAML error anyway.
enum DocumentChunks {
    struct Chunk {
        /// Where the chunk is in the whole text's UTF-8.
        var bytes: Range<Int>
        /// Lines before the chunk in the whole text, added to every line number it reports.
        var lineOffset: Int

        /// The chunk's own text, made when it is decoded: copies of every chunk made up
        /// front held the whole stream twice (about 10 MB more at the peak of loading 10,000
        /// services).
        func text(in whole: String) -> String {
            var whole = whole
            return whole.withUTF8 { String(decoding: UnsafeBufferPointer(rebasing: $0[bytes]), as: UTF8.self) }
        }
    }

    /// Below this size splitting costs more than it saves.
    static let minimumChunkBytes = 256 * 1024

    static func split(_ text: String, targetChunks: Int = 32) -> [Chunk] {
        var text = text
        return text.withUTF8 { bytes -> [Chunk] in
            guard bytes.count >= 2 * minimumChunkBytes else { return [Chunk(bytes: 0..<bytes.count, lineOffset: 0)] }
            let target = max(minimumChunkBytes, bytes.count / targetChunks)
            var chunks: [Chunk] = []
            var start = 0, startLine = 0, line = 0
            var i = 0
            let n = bytes.count
            while i < n {
                if bytes[i] == UInt8(ascii: "\n") {
                    line += 1
                    let next = i + 1
                    if next - start >= target, isDocumentMarker(bytes, at: next) {
                        chunks.append(Chunk(bytes: start..<next, lineOffset: startLine))
                        start = next
                        startLine = line
                    }
                }
                i += 1
            }
            chunks.append(Chunk(bytes: start..<n, lineOffset: startLine))
            return chunks
        }
    }

    private static func isDocumentMarker(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i + 2 < b.count, b[i] == UInt8(ascii: "-"), b[i + 1] == UInt8(ascii: "-"), b[i + 2] == UInt8(ascii: "-") else {
            return false
        }
        if i + 3 == b.count { return true }
        let c = b[i + 3]
        return c == UInt8(ascii: "\n") || c == UInt8(ascii: " ") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\t")
    }
}
