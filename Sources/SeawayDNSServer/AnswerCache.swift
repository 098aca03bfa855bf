import NIOCore

/// Answers already written, by the exact bytes of the request after its ID. A zone's answer
/// depends on nothing else (case included, since answers echo it), so a repeated question is
/// one hash lookup and a copy: the "precompiled answer" path. One cache per socket (one
/// event loop), so no locking; cleared when the zone changes.
///
/// Bounded by two generations rather than a list: new answers go into `recent`; when it is
/// half the capacity, it becomes `older` and the previous `older` is dropped; a hit in
/// `older` moves back to `recent`. That keeps what is asked often (an LRU's behaviour) at
/// a dictionary's cost, and a working set a little larger than the cache still mostly hits,
/// where clearing everything at the limit would hit almost never.
struct AnswerCache {
    private var recent: [ByteBuffer: ByteBuffer] = [:]
    private var older: [ByteBuffer: ByteBuffer] = [:]
    private var generation = -1
    let capacity: Int

    init(capacity: Int = 50_000) { self.capacity = capacity }

    /// The request after its 2-byte ID: flags, counts, question and OPT.
    static func key(_ request: ByteBuffer) -> ByteBuffer? {
        request.getSlice(at: request.readerIndex + 2, length: request.readableBytes - 2)
    }

    var count: Int { recent.count + older.count }

    mutating func answer(for request: ByteBuffer, generation: Int) -> ByteBuffer? {
        if generation != self.generation {
            recent.removeAll(keepingCapacity: true)
            older.removeAll()
            self.generation = generation
            return nil
        }
        guard let key = AnswerCache.key(request), let id: UInt16 = request.getInteger(at: request.readerIndex) else { return nil }
        var reply: ByteBuffer
        if let hit = recent[key] {
            reply = hit
        } else if let hit = older.removeValue(forKey: key) {
            insert(hit, for: ByteBuffer(buffer: key))
            reply = hit
        } else {
            return nil
        }
        reply.setInteger(id, at: reply.readerIndex)
        return reply
    }

    mutating func store(_ reply: ByteBuffer, for request: ByteBuffer, generation: Int) {
        guard generation == self.generation, let key = AnswerCache.key(request) else { return }
        // Keys are copied out of the socket's receive buffer, which is reused.
        insert(reply, for: ByteBuffer(buffer: key))
    }

    private mutating func insert(_ reply: ByteBuffer, for key: ByteBuffer) {
        if recent.count >= capacity / 2 {
            older = recent
            recent = Dictionary(minimumCapacity: capacity / 2)
        }
        recent[key] = reply
    }
}

extension ByteBuffer {
    /// A compact copy of `buffer`'s readable bytes.
    init(buffer: ByteBuffer) {
        self = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
        var b = buffer
        writeBuffer(&b)
    }
}
