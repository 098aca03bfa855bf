import Dispatch
import Foundation

/// A piece of output text: a string or a block of bytes.
enum TextPiece: Sendable {
    case text(String)
    case block([UInt8])
    /// `prefix` + `name` + `suffix`, written without formatting a string per chain.
    case wrapped(StaticString, String, StaticString)
    /// `prefix` + name + `suffix` for every chain of a block.
    case declarations(String, ChainBlock, StaticString)
    /// Every rule of every chain of a block.
    case rules(ChainBlock)

    var count: Int {
        switch self {
        case let .text(s): return s.utf8.count
        case let .block(b): return b.count
        case let .wrapped(p, s, q): return p.utf8CodeUnitCount + s.utf8.count + q.utf8CodeUnitCount
        case let .declarations(p, b, q): return b.declarationsByteCount(p, q)
        case let .rules(b): return b.rules.count
        }
    }

    /// The piece's bytes: its own array where it has one, else written out.
    var bytes: [UInt8] {
        switch self {
        case let .block(b): return b
        case let .rules(b): return b.rules
        default: return TextPiece.join([self])
        }
    }

    /// Joins pieces into one byte array, copying them from every core: a 10k-service payload
    /// is 30 MB in 220,000 pieces, and one thread spent as long joining it as rendering it.
    static func join(_ pieces: [TextPiece]) -> [UInt8] {
        let total = pieces.reduce(0) { $0 + $1.count }
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            if total >= 4 << 20, let base = buffer.baseAddress { adviseHugePages(base, total) }
            fill(pieces[...], into: buffer.baseAddress)
            initialized = total
        }
    }

    /// Calls `body` with the text of `pieces` in order, a chunk of about `chunkBytes` at a
    /// time, each chunk written into one reused buffer: a consumer that writes the text out
    /// (to stdout, a pipe) never needs the whole of it in memory, or its pages faulted in.
    static func forEachChunk<E: Error>(_ pieces: [TextPiece], chunkBytes: Int = 4 << 20,
                                       _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> Void) throws(E) {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: chunkBytes)
        defer { buffer.deallocate() }
        var start = 0
        while start < pieces.count {
            var end = start, bytes = 0
            while end < pieces.count, bytes + pieces[end].count <= chunkBytes {
                bytes += pieces[end].count
                end += 1
            }
            if end == start {
                // One piece larger than a chunk: passed as it is.
                try pieces[start].bytes.withUnsafeBufferPointer { (b) throws(E) in try body(b) }
                start += 1
                continue
            }
            fill(pieces[start..<end], into: buffer.baseAddress)
            try body(UnsafeBufferPointer(rebasing: buffer[..<bytes]))
            start = end
        }
    }

    /// Writes `pieces` back to back at `base`, from every core once there is a megabyte.
    private static func fill(_ pieces: ArraySlice<TextPiece>, into base: UnsafeMutablePointer<UInt8>?) {
        var running = [Int](repeating: 0, count: pieces.count + 1)
        for (i, p) in pieces.enumerated() { running[i + 1] = running[i] + p.count }
        let offsets = running
        let total = offsets[pieces.count]
        let out = OutputBuffer(base: base)
        let first = pieces.startIndex
        let workers = total < 1 << 20 ? 1 : ProcessInfo.processInfo.activeProcessorCount * 2
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lower = pieces.count * w / workers, upper = pieces.count * (w + 1) / workers
            for i in lower..<upper {
                let at = out.base! + offsets[i]
                switch pieces[first + i] {
                case var .text(s):
                    s.withUTF8 { at.update(from: $0.baseAddress!, count: $0.count) }
                case let .block(b):
                    b.withUnsafeBufferPointer { if let base = $0.baseAddress { at.update(from: base, count: $0.count) } }
                case .wrapped(let p, var s, let q):
                    at.update(from: p.utf8Start, count: p.utf8CodeUnitCount)
                    let middle = at + p.utf8CodeUnitCount
                    let n = s.withUTF8 { middle.update(from: $0.baseAddress!, count: $0.count); return $0.count }
                    (middle + n).update(from: q.utf8Start, count: q.utf8CodeUnitCount)
                case let .declarations(p, b, q):
                    _ = b.writeDeclarations(p, q, into: at)
                case let .rules(b):
                    b.rules.withUnsafeBufferPointer { if let base = $0.baseAddress { at.update(from: base, count: $0.count) } }
                }
            }
        }
    }

    /// Asks for 2 MB pages for a buffer about to be filled: a 45 MB payload is otherwise
    /// 11,000 page faults, a third of the time it takes to write it. (A hint about memory
    /// this process owns, not a change to the system.)
    private static func adviseHugePages(_ base: UnsafeMutablePointer<UInt8>, _ count: Int) {
        let huge = 2 << 20
        let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
        let end = (Int(bitPattern: base) + count) & ~(huge - 1)
        if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
    }
}

/// The output pointer, written in disjoint ranges by the workers.
private struct OutputBuffer: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt8>?
}
