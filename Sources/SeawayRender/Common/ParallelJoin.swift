import Dispatch
import Foundation

/// Output text as an ordered list of pieces, joined (or written a chunk at a time) from
/// every core. A piece names what it writes by index, not by holding it: at 10,000 services
/// a payload is 20,000 pieces, and a piece holding its `ChainBlock` retained and released
/// three arrays that had long left the cache, which cost as much as copying the text.
struct TextPieces: Sendable {
    private enum Piece: Sendable {
        /// `strings[index]`.
        case string(Int)
        /// `arrays[index]`.
        case bytes(Int)
        /// `prefix` + `strings[index]` + `suffix`, written without formatting a string per chain.
        case wrapped(StaticString, Int, StaticString)
        /// `strings[prefix]` + name + `suffix` for every chain of `blockLists[list][block]`.
        case declarations(prefix: Int, list: Int, block: Int, suffix: StaticString)
        /// Every rule of every chain of `blockLists[list][block]`.
        case rules(list: Int, block: Int)
    }

    private var pieces: [Piece] = []
    /// Each piece's size in bytes, taken when it was added.
    private var sizes: [Int] = []
    private var strings: [String] = []
    private var arrays: [[UInt8]] = []
    private var blockLists: [[ChainBlock]] = []

    init(reservingCapacity pieceCount: Int = 0) {
        pieces.reserveCapacity(pieceCount)
        sizes.reserveCapacity(pieceCount)
    }

    var count: Int { pieces.count }
    /// The size of the whole text.
    var byteCount: Int { sizes.reduce(0, +) }

    mutating func append(_ text: String) {
        guard !text.isEmpty else { return }
        add(.string(strings.count), text.utf8.count)
        strings.append(text)
    }

    mutating func append(bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        add(.bytes(arrays.count), bytes.count)
        arrays.append(bytes)
    }

    mutating func appendWrapped(_ prefix: StaticString, _ text: String, _ suffix: StaticString) {
        add(.wrapped(prefix, strings.count, suffix), prefix.utf8CodeUnitCount + text.utf8.count + suffix.utf8CodeUnitCount)
        strings.append(text)
    }

    /// `prefix` + name + `suffix` for every chain of `blocks`, a piece per block.
    mutating func appendDeclarations(_ prefix: String, _ blocks: [ChainBlock], _ suffix: StaticString) {
        let p = strings.count, list = blockLists.count
        strings.append(prefix)
        blockLists.append(blocks)
        for b in blocks.indices where !blocks[b].isEmpty {
            add(.declarations(prefix: p, list: list, block: b, suffix: suffix), blocks[b].declarationsByteCount(prefix, suffix))
        }
    }

    /// Every rule of `blocks`, a piece per block.
    mutating func appendRules(_ blocks: [ChainBlock]) {
        let list = blockLists.count
        blockLists.append(blocks)
        for b in blocks.indices where blocks[b].ruleByteCount > 0 {
            add(.rules(list: list, block: b), blocks[b].ruleByteCount)
        }
    }

    private mutating func add(_ piece: Piece, _ size: Int) {
        pieces.append(piece)
        sizes.append(size)
    }

    /// Each piece's bytes in order (see `part(_:)`).
    func forEachPart<E: Error>(_ body: ([UInt8]) throws(E) -> Void) throws(E) {
        for i in pieces.indices { try body(part(i)) }
    }

    /// A piece's bytes: its own array where it has one (a block's rules are the block's
    /// buffer), else written out.
    private func part(_ i: Int) -> [UInt8] {
        switch pieces[i] {
        case let .bytes(a): return arrays[a]
        case let .rules(list, block): return blockLists[list][block].rules
        default:
            return [UInt8](unsafeUninitializedCapacity: sizes[i]) { buffer, initialized in
                fill(i..<(i + 1), into: buffer.baseAddress)
                initialized = sizes[i]
            }
        }
    }

    /// The whole text in one array, copied from every core: a 10k-service payload is 30 MB,
    /// and one thread spent as long joining it as rendering it.
    var joined: [UInt8] {
        let total = byteCount
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            if total >= 4 << 20, let base = buffer.baseAddress { Self.adviseHugePages(base, total) }
            fill(pieces.indices, into: buffer.baseAddress)
            initialized = total
        }
    }

    /// Calls `body` with the text in order, a chunk of about `chunkBytes` at a time, each
    /// chunk written into one reused buffer: a consumer that writes the text out (to stdout,
    /// a pipe) never needs the whole of it in memory, or its pages faulted in.
    func forEachChunk<E: Error>(chunkBytes: Int = 4 << 20, _ body: (UnsafeBufferPointer<UInt8>) throws(E) -> Void) throws(E) {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: chunkBytes)
        defer { buffer.deallocate() }
        var start = 0
        while start < pieces.count {
            var end = start, bytes = 0
            while end < pieces.count, bytes + sizes[end] <= chunkBytes {
                bytes += sizes[end]
                end += 1
            }
            if end == start {
                // One piece larger than a chunk: passed as it is.
                try part(start).withUnsafeBufferPointer { (b) throws(E) in try body(b) }
                start += 1
                continue
            }
            fill(start..<end, into: buffer.baseAddress)
            try body(UnsafeBufferPointer(rebasing: buffer[..<bytes]))
            start = end
        }
    }

    /// Writes the pieces in `range` back to back at `base`, from every core once there is a
    /// megabyte.
    private func fill(_ range: Range<Int>, into base: UnsafeMutablePointer<UInt8>?) {
        var running = [Int](repeating: 0, count: range.count + 1)
        for i in range.indices { running[i - range.lowerBound + 1] = running[i - range.lowerBound] + sizes[i] }
        let offsets = running
        let total = offsets[range.count]
        let out = OutputBuffer(base: base)
        let workers = total < 1 << 20 ? 1 : ProcessInfo.processInfo.activeProcessorCount * 2
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lower = range.count * w / workers, upper = range.count * (w + 1) / workers
            for i in lower..<upper {
                write(range.lowerBound + i, at: out.base! + offsets[i])
            }
        }
    }

    private func write(_ i: Int, at: UnsafeMutablePointer<UInt8>) {
        func copy(_ bytes: [UInt8], to at: UnsafeMutablePointer<UInt8>) {
            bytes.withUnsafeBufferPointer { if let base = $0.baseAddress { at.update(from: base, count: $0.count) } }
        }
        func copy(_ text: String, to at: UnsafeMutablePointer<UInt8>) -> Int {
            var text = text
            return text.withUTF8 { utf8 in
                if let base = utf8.baseAddress { at.update(from: base, count: utf8.count) }
                return utf8.count
            }
        }
        func copy(_ s: StaticString, to at: UnsafeMutablePointer<UInt8>) {
            at.update(from: s.utf8Start, count: s.utf8CodeUnitCount)
        }
        switch pieces[i] {
        case let .string(s):
            _ = copy(strings[s], to: at)
        case let .bytes(a):
            copy(arrays[a], to: at)
        case let .wrapped(prefix, s, suffix):
            copy(prefix, to: at)
            let n = copy(strings[s], to: at + prefix.utf8CodeUnitCount)
            copy(suffix, to: at + prefix.utf8CodeUnitCount + n)
        case let .declarations(prefix, list, block, suffix):
            _ = blockLists[list][block].writeDeclarations(strings[prefix], suffix, into: at)
        case let .rules(list, block):
            copy(blockLists[list][block].rules, to: at)
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
