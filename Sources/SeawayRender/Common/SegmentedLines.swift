/// Lines made of one segment per service port, in render order, so one service's lines can
/// be replaced without rebuilding the rest (a partial sync at 10,000 services rewrites the
/// top-level chains from these in well under a millisecond).
struct SegmentedLines: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var lineCount = 0
    private var lengths: [Int] = []
    private var counts: [Int] = []

    /// The lines of `count` segments, segment `i` being `segment(i)`.
    init(count: Int, segment: (Int) -> LineBlock) {
        lengths.reserveCapacity(count)
        counts.reserveCapacity(count)
        for i in 0..<count {
            let s = segment(i)
            bytes.append(contentsOf: s.bytes)
            lengths.append(s.bytes.count)
            counts.append(s.count)
            lineCount += s.count
        }
    }

    private func offset(_ index: Int) -> Int {
        var o = 0
        for i in 0..<index { o += lengths[i] }
        return o
    }

    mutating func insert(_ lines: LineBlock, at index: Int) {
        bytes.insert(contentsOf: lines.bytes, at: offset(index))
        lengths.insert(lines.bytes.count, at: index)
        counts.insert(lines.count, at: index)
        lineCount += lines.count
    }

    mutating func remove(at index: Int) {
        let start = offset(index)
        bytes.removeSubrange(start..<(start + lengths[index]))
        lineCount -= counts[index]
        lengths.remove(at: index)
        counts.remove(at: index)
    }

    mutating func replace(at index: Int, with lines: LineBlock) {
        let start = offset(index)
        bytes.replaceSubrange(start..<(start + lengths[index]), with: lines.bytes)
        lineCount += lines.count - counts[index]
        lengths[index] = lines.bytes.count
        counts[index] = lines.count
    }

    var block: LineBlock { LineBlock(bytes: bytes, count: lineCount) }
}
