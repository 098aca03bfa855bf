import SeawayProxyCore
import Testing

/// The maps spread over the cores give what a plain `map` gives, in order, below and above
/// the size where they start using threads, with values that own memory.
@Suite struct ConcurrentMapTests {
    @Test(arguments: [0, 1, 511, 512, 513, 5000])
    func resultsInInputOrder(count: Int) {
        let input = (0..<count).map { "port-\($0)" }
        #expect(input.concurrentMap { $0 + "/tcp" } == input.map { $0 + "/tcp" })

        let (names, lengths) = input.concurrentMapUnzipped { ($0.uppercased(), Array(repeating: UInt8(7), count: $0.utf8.count)) }
        #expect(names == input.map { $0.uppercased() })
        #expect(lengths.map(\.count) == input.map(\.utf8.count))
        #expect(lengths.allSatisfy { $0.allSatisfy { $0 == 7 } })
    }
}
