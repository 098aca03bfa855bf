/// A set of pods as bits over the index's pod numbering: the evaluator's unit of work, so a
/// selector, a peer or a whole matrix row is one word-wise operation rather than a scan.
struct PodSet: Sendable, Hashable {
    private(set) var words: [UInt64]
    let count: Int

    init(count: Int, full: Bool = false) {
        self.count = count
        words = Array(repeating: full ? ~0 : 0, count: (count + 63) / 64)
        if full { clearTail() }
    }

    /// The union of the sets present (rule peers: nil stands for an address peer).
    init(unionOf sets: [PodSet?], count: Int) {
        self.init(count: count)
        for set in sets { if let set { formUnion(set) } }
    }

    func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }

    mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }

    mutating func formUnion(_ other: PodSet) {
        words.withUnsafeMutableBufferPointer { w in
            other.words.withUnsafeBufferPointer { o in for i in w.indices { w[i] |= o[i] } }
        }
    }

    mutating func formIntersection(_ other: PodSet) {
        words.withUnsafeMutableBufferPointer { w in
            other.words.withUnsafeBufferPointer { o in for i in w.indices { w[i] &= o[i] } }
        }
    }

    mutating func subtract(_ other: PodSet) {
        words.withUnsafeMutableBufferPointer { w in
            other.words.withUnsafeBufferPointer { o in for i in w.indices { w[i] &= ~o[i] } }
        }
    }

    func intersection(_ other: PodSet) -> PodSet {
        var copy = self
        copy.formIntersection(other)
        return copy
    }

    func complement() -> PodSet {
        var copy = self
        for i in copy.words.indices { copy.words[i] = ~copy.words[i] }
        copy.clearTail()
        return copy
    }

    func isSubset(of other: PodSet) -> Bool {
        zip(words, other.words).allSatisfy { $0 & ~$1 == 0 }
    }

    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// The members, in order.
    var members: [Int] {
        var result: [Int] = []
        for (w, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                result.append(w << 6 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return result
    }

    private mutating func clearTail() {
        let extra = words.count * 64 - count
        if extra > 0 { words[words.count - 1] &= ~0 >> UInt64(extra) }
    }
}
