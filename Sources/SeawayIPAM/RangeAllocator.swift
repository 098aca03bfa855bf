import SeawayCNI
import SeawayNet

/// host-local's allocation order for one range set: round-robin, starting after the last
/// address reserved from it (so a crash-looping container does not get its address back at
/// once), skipping gateways, wrapping to the first range, giving up after one full turn.
struct RangeCandidates: Sequence, IteratorProtocol {
    let ranges: [IPRange]
    private var rangeIndex = 0
    private var current: IPAddress?
    /// Where the turn began; meeting it again means every address was tried.
    private var start: IPAddress?

    init(_ set: IPRangeSet, after last: IPAddress?) {
        ranges = set.ranges
        if let last, let i = ranges.firstIndex(where: { $0.contains(last) }) {
            rangeIndex = i
            current = last
        }
    }

    mutating func next() -> (IPAddress, IPRange)? {
        while true {
            var range = ranges[rangeIndex]
            if let c = current {
                if c == range.rangeEnd {
                    rangeIndex = (rangeIndex + 1) % ranges.count
                    range = ranges[rangeIndex]
                    current = range.rangeStart
                } else {
                    current = c.next
                }
                if start == nil { start = current } else if current == start { return nil }
            } else {
                current = range.rangeStart
                start = current
            }
            if current == range.gateway { continue }
            return (current!, range)
        }
    }
}
