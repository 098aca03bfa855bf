import SeawayKernel

/// An nftables batch being filled for one socket (`NFTablesNetlink.makeBatch`): each
/// operation is encoded into its netlink message as it is appended, with a caller's tag
/// (an index, a script line) that names it if the kernel refuses it. Only the last message
/// asks for an ACK: the kernel runs the whole batch inside sendmsg and queues errors in
/// order, so that ACK (or its error) comes last and nothing has to be read per message (as
/// `nft` does; a 100k-rule batch would otherwise queue 100k ACKs).
public struct NFTBatch: ~Copyable {
    private var buffer: NFTBatchBuffer
    /// The BEGIN message's sequence number; operation `i` has `firstSequence + 1 + i`.
    let firstSequence: UInt32
    private(set) var tags: [UInt32] = []

    init(firstSequence: UInt32, capacity: Int) {
        self.firstSequence = firstSequence
        buffer = NFTBatchBuffer(capacity: capacity)
        buffer.begin(firstSequence)
    }

    public var count: Int { tags.count }
    /// The messages' size so far.
    public var byteCount: Int { buffer.size }

    public mutating func append(_ operation: NFTTransaction.Operation, tag: UInt32) {
        tags.append(tag)
        buffer.append(operation, sequence: firstSequence &+ UInt32(tags.count), acknowledged: false)
    }

    /// The END message's sequence number.
    var endSequence: UInt32 { firstSequence &+ UInt32(tags.count) &+ 1 }

    /// Ends the batch: the last operation acknowledged, then END.
    mutating func finish() {
        buffer.acknowledgeLast()
        buffer.end(endSequence)
    }

    /// The finished batch's bytes.
    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws(SystemError) -> T) throws(SystemError) -> T {
        try buffer.withBytes(body)
    }
}
