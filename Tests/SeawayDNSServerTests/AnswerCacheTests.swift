import NIOCore
@testable import SeawayDNSServer
import Testing

/// The per-socket answer cache: keyed by the request after its ID, bounded by two
/// generations, emptied when the zone changes.
struct AnswerCacheTests {
    /// A request: 2-byte ID, then `body`.
    static func request(id: UInt16, _ body: String) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(id)
        b.writeString(body)
        return b
    }

    static func reply(_ body: String) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt16(0))
        b.writeString(body)
        return b
    }

    @Test func aHitCarriesTheNewRequestsID() throws {
        var cache = AnswerCache(capacity: 8)
        #expect(cache.answer(for: Self.request(id: 1, "q"), generation: 0) == nil)
        cache.store(Self.reply("answer"), for: Self.request(id: 1, "q"), generation: 0)
        let answer = cache.answer(for: Self.request(id: 0xBEEF, "q"), generation: 0)
        let hit = try #require(answer)
        #expect(hit.getInteger(at: hit.readerIndex, as: UInt16.self) == 0xBEEF)
        #expect(hit.getString(at: hit.readerIndex + 2, length: 6) == "answer")
        #expect(cache.answer(for: Self.request(id: 1, "Q"), generation: 0) == nil, "case is part of the key")
    }

    @Test func aNewZoneGenerationEmptiesIt() {
        var cache = AnswerCache(capacity: 8)
        _ = cache.answer(for: Self.request(id: 1, "q"), generation: 0)
        cache.store(Self.reply("old"), for: Self.request(id: 1, "q"), generation: 0)
        #expect(cache.answer(for: Self.request(id: 1, "q"), generation: 1) == nil)
        #expect(cache.count == 0)
        // A reply computed under the old zone is not kept under the new one.
        cache.store(Self.reply("stale"), for: Self.request(id: 1, "q"), generation: 0)
        #expect(cache.answer(for: Self.request(id: 1, "q"), generation: 1) == nil)
    }

    @Test func staysWithinItsCapacityAndKeepsWhatIsAskedAgain() {
        var cache = AnswerCache(capacity: 4)
        _ = cache.answer(for: Self.request(id: 0, "x"), generation: 0)
        for q in ["a", "b", "c", "d"] { cache.store(Self.reply(q), for: Self.request(id: 0, q), generation: 0) }
        // a and b moved to the older generation when c arrived; c, d are recent.
        #expect(cache.count == 4)
        // Asking for a again brings it back into the recent generation...
        #expect(cache.answer(for: Self.request(id: 0, "a"), generation: 0) != nil)
        for q in ["e", "f", "g"] { cache.store(Self.reply(q), for: Self.request(id: 0, q), generation: 0) }
        #expect(cache.count <= 4)
        // ...so it outlives b, c and d, which were never asked again.
        for q in ["b", "c", "d"] { #expect(cache.answer(for: Self.request(id: 0, q), generation: 0) == nil) }
        #expect(cache.answer(for: Self.request(id: 0, "a"), generation: 0) != nil)
        #expect(cache.answer(for: Self.request(id: 0, "g"), generation: 0) != nil)
        for i in 0..<1000 { cache.store(Self.reply("r"), for: Self.request(id: 0, "n\(i)"), generation: 0) }
        #expect(cache.count <= 4)
    }
}
