import Glibc
import SeawayKernel
import Testing

/// `Heap.apart` runs its closure on a thread of its own and hands back what it built.
@Suite struct HeapTests {
    @Test func apartRunsOnAnotherThreadAndReturnsItsResult() {
        let caller = pthread_self()
        let (names, sameThread) = Heap.apart { () -> ([String], Bool) in
            ((0..<1000).map { "service-with-a-long-name-\($0)" }, pthread_equal(pthread_self(), caller) != 0)
        }
        #expect(!sameThread)
        #expect(names.count == 1000)
        #expect(names[999] == "service-with-a-long-name-999")
    }

    @Test func apartCanNest() {
        let total = Heap.apart { (1...10).reduce(0) { sum, i in sum + Heap.apart { i * i } } }
        #expect(total == 385)
    }
}
