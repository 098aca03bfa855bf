import NIOCore

/// Answers already written, by the exact bytes of the request after its ID. A zone's answer
/// depends on nothing else (case included, since answers echo it), so a repeated question is
/// one hash lookup and a copy: the "precompiled answer" path. One cache per socket (one
/// event loop), so no locking; cleared when the zone changes or it grows too big.
struct AnswerCache {
    private var answers: [ByteBuffer: ByteBuffer] = [:]
    private var generation = -1
    let capacity: Int

    init(capacity: Int = 50_000) { self.capacity = capacity }

    /// The request after its 2-byte ID: flags, counts, question and OPT.
    static func key(_ request: ByteBuffer) -> ByteBuffer? {
        request.getSlice(at: request.readerIndex + 2, length: request.readableBytes - 2)
    }

    mutating func answer(for request: ByteBuffer, generation: Int) -> ByteBuffer? {
        if generation != self.generation {
            answers.removeAll(keepingCapacity: true)
            self.generation = generation
            return nil
        }
        guard let key = AnswerCache.key(request), var reply = answers[key],
              let id: UInt16 = request.getInteger(at: request.readerIndex) else { return nil }
        reply.setInteger(id, at: reply.readerIndex)
        return reply
    }

    mutating func store(_ reply: ByteBuffer, for request: ByteBuffer, generation: Int) {
        guard generation == self.generation, let key = AnswerCache.key(request) else { return }
        if answers.count >= capacity { answers.removeAll(keepingCapacity: true) }
        // Keys and values are copied out of the socket's receive buffer, which is reused.
        answers[ByteBuffer(buffer: key)] = reply
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
