import NIOCore
import SeawayModel

/// Writes a message into a ByteBuffer with name compression (RFC 1035 4.1.4).
struct DNSWireWriter {
    var buffer: ByteBuffer
    /// Offset of the message start within `buffer`.
    let base: Int
    /// A name suffix already written, which later names can point to.
    private struct Suffix {
        /// Of the suffix's lowercased labels (see `suffixHashes`).
        var hash: UInt64
        var labelCount: Int
        /// From the message start; below 0x4000, as pointers are 14 bits.
        var offset: Int
    }

    /// Suffixes in the order they were written. A message has a few dozen at most, so a
    /// linear scan over hashes beats a dictionary keyed by names (which hashes every suffix
    /// and allocates one per label).
    private var suffixes: [Suffix] = []

    /// Takes over `buffer` (leaving it empty) so writing does not copy it; give it back with
    /// `finish(into:)`.
    init(taking buffer: inout ByteBuffer) {
        self.buffer = ByteBuffer()
        swap(&self.buffer, &buffer)
        base = self.buffer.writerIndex
        suffixes.reserveCapacity(32)
    }

    mutating func finish(into buffer: inout ByteBuffer) { swap(&self.buffer, &buffer) }

    var size: Int { buffer.writerIndex - base }

    struct Checkpoint {
        let writerIndex: Int
        let suffixCount: Int
    }

    var checkpoint: Checkpoint { Checkpoint(writerIndex: buffer.writerIndex, suffixCount: suffixes.count) }

    mutating func rollback(to c: Checkpoint) {
        buffer.moveWriterIndex(to: c.writerIndex)
        suffixes.removeLast(suffixes.count - c.suffixCount)
    }

    mutating func name(_ name: DNSName, compress: Bool = true) {
        let labels = name.labels
        guard compress else {
            for label in labels {
                buffer.writeInteger(UInt8(label.count))
                buffer.writeBytes(label)
            }
            buffer.writeInteger(UInt8(0))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: labels.count) { hashes in
            DNSWireWriter.suffixHashes(labels, into: hashes)
            for i in labels.indices {
                let count = labels.count - i
                if let at = suffixes.first(where: { $0.hash == hashes[i] && $0.labelCount == count && written(labels[i...], at: $0.offset) }) {
                    buffer.writeInteger(UInt16(0xC000 | at.offset))
                    return
                }
                if size < 0x4000 { suffixes.append(Suffix(hash: hashes[i], labelCount: count, offset: size)) }
                buffer.writeInteger(UInt8(labels[i].count))
                buffer.writeBytes(labels[i])
            }
            buffer.writeInteger(UInt8(0))
        }
    }

    /// FNV-1a over each suffix's lowercased labels, built from the root up, so that
    /// `hashes[i]` stands for `labels[i...]`.
    private static func suffixHashes(_ labels: [[UInt8]], into hashes: UnsafeMutableBufferPointer<UInt64>) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in labels.indices.reversed() {
            h = (h ^ UInt64(labels[i].count)) &* 0x100_0000_01b3
            for b in labels[i] { h = (h ^ UInt64(DNSName.lower(b))) &* 0x100_0000_01b3 }
            hashes[i] = h
        }
    }

    /// True if the name written at `offset` (following pointers) is `labels`, ignoring case.
    private func written(_ labels: ArraySlice<[UInt8]>, at offset: Int) -> Bool {
        var at = base + offset
        for label in labels {
            guard var length = buffer.getInteger(at: at, as: UInt8.self) else { return false }
            while length & 0xC0 == 0xC0 {
                guard let pointer = buffer.getInteger(at: at, as: UInt16.self) else { return false }
                at = base + Int(pointer & 0x3FFF)
                guard let l = buffer.getInteger(at: at, as: UInt8.self) else { return false }
                length = l
            }
            guard Int(length) == label.count else { return false }
            let matches = buffer.withUnsafeReadableBytes { bytes -> Bool in
                let start = at + 1 - buffer.readerIndex
                for (j, b) in label.enumerated() where DNSName.lower(bytes[start + j]) != DNSName.lower(b) { return false }
                return true
            }
            guard matches else { return false }
            at += 1 + label.count
        }
        // Same labels; the written name must end there too.
        while let length = buffer.getInteger(at: at, as: UInt8.self), length & 0xC0 == 0xC0 {
            guard let pointer = buffer.getInteger(at: at, as: UInt16.self) else { return false }
            at = base + Int(pointer & 0x3FFF)
        }
        return buffer.getInteger(at: at, as: UInt8.self) == 0
    }

    mutating func question(_ q: DNSQuestion) {
        name(q.name)
        buffer.writeInteger(q.type.rawValue)
        buffer.writeInteger(q.dnsClass)
    }

    mutating func record(_ r: DNSRecord) {
        name(r.name)
        buffer.writeInteger(r.type.rawValue)
        buffer.writeInteger(r.dnsClass)
        buffer.writeInteger(r.ttl)
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        let start = buffer.writerIndex
        switch r.data {
        case let .address(ip):
            if ip.family == .ipv4 {
                buffer.writeInteger(UInt32(truncatingIfNeeded: ip.low))
            } else {
                buffer.writeInteger(ip.high)
                buffer.writeInteger(ip.low)
            }
        case let .name(n):
            name(n)
        case let .srv(priority, weight, port, target):
            buffer.writeInteger(priority)
            buffer.writeInteger(weight)
            buffer.writeInteger(port)
            // RFC 2782: the target is not compressed.
            name(target, compress: false)
        case let .txt(strings):
            for s in strings {
                buffer.writeInteger(UInt8(s.count))
                buffer.writeBytes(s)
            }
        case let .soa(s):
            name(s.mname)
            name(s.rname)
            for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] { buffer.writeInteger(v) }
        case let .raw(bytes):
            buffer.writeBytes(bytes)
        }
        buffer.setInteger(UInt16(buffer.writerIndex - start), at: lengthAt)
    }

    mutating func opt(_ e: EDNS, extendedRcode: UInt8) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(DNSType.opt.rawValue)
        buffer.writeInteger(e.udpPayloadSize)
        buffer.writeInteger(UInt32(extendedRcode) << 24 | UInt32(e.version) << 16 | (e.dnssecOK ? 0x8000 : 0))
        buffer.writeInteger(UInt16(e.options.reduce(0) { $0 + 4 + $1.data.count }))
        for o in e.options {
            buffer.writeInteger(o.code)
            buffer.writeInteger(UInt16(o.data.count))
            buffer.writeBytes(o.data)
        }
    }
}

extension DNSMessage {
    /// The smallest limit a UDP responder may apply (RFC 1035; RFC 6891 for smaller EDNS sizes).
    public static let minimumUDPSize = 512

    /// The limit for a UDP reply to this request: its EDNS payload size, at least 512.
    public var udpResponseLimit: Int {
        guard let edns else { return DNSMessage.minimumUDPSize }
        return max(DNSMessage.minimumUDPSize, Int(edns.udpPayloadSize))
    }

    /// Writes the message, keeping it within `maxSize` bytes: records that do not fit are left
    /// out, from the end, and TC is set if any were (the OPT record always stays).
    public func write(into buffer: inout ByteBuffer, maxSize: Int = 65535) {
        let headerAt = buffer.writerIndex
        var w = DNSWireWriter(taking: &buffer)
        w.buffer.writeInteger(id)
        w.buffer.writeInteger(flags)
        for _ in 0..<4 { w.buffer.writeInteger(UInt16(0)) }
        for q in questions { w.question(q) }
        let optSize = edns.map { 11 + $0.options.reduce(0) { $0 + 4 + $1.data.count } } ?? 0
        let limit = maxSize - optSize
        var truncated = self.truncated
        var counts: [UInt16] = [UInt16(questions.count), 0, 0, 0]
        sections: for (i, section) in [answers, authority, additional].enumerated() {
            for r in section {
                let c = w.checkpoint
                w.record(r)
                if w.size > limit {
                    w.rollback(to: c)
                    truncated = true
                    break sections
                }
                counts[i + 1] += 1
            }
        }
        if let edns {
            w.opt(edns, extendedRcode: UInt8(truncatingIfNeeded: rcode.rawValue >> 4))
            counts[3] += 1
        }
        w.finish(into: &buffer)
        var flags = self.flags
        if truncated { flags |= 0x0200 }
        buffer.setInteger(flags, at: headerAt + 2)
        for (i, n) in counts.enumerated() { buffer.setInteger(n, at: headerAt + 4 + 2 * i) }
    }

    /// The message as bytes (see `write(into:maxSize:)`).
    public func bytes(maxSize: Int = 65535) -> [UInt8] {
        var buffer = ByteBuffer()
        write(into: &buffer, maxSize: maxSize)
        return Array(buffer.readableBytesView)
    }
}
