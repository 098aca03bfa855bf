import NIOCore
import SeawayModel

/// Writes a message into a ByteBuffer with name compression (RFC 1035 4.1.4).
struct DNSWireWriter {
    var buffer: ByteBuffer
    /// Offset of the message start within `buffer`.
    let base: Int
    /// Where each name suffix already written starts, by suffix (case-insensitive).
    private var offsets: [DNSName: Int] = [:]
    /// Suffixes in the order they were added, so a record that does not fit can be undone.
    private var added: [DNSName] = []

    /// Takes over `buffer` (leaving it empty) so writing does not copy it; give it back with
    /// `finish(into:)`.
    init(taking buffer: inout ByteBuffer) {
        self.buffer = ByteBuffer()
        swap(&self.buffer, &buffer)
        base = self.buffer.writerIndex
    }

    mutating func finish(into buffer: inout ByteBuffer) { swap(&self.buffer, &buffer) }

    var size: Int { buffer.writerIndex - base }

    struct Checkpoint {
        let writerIndex: Int
        let added: Int
    }

    var checkpoint: Checkpoint { Checkpoint(writerIndex: buffer.writerIndex, added: added.count) }

    mutating func rollback(to c: Checkpoint) {
        buffer.moveWriterIndex(to: c.writerIndex)
        for name in added[c.added...] { offsets[name] = nil }
        added.removeLast(added.count - c.added)
    }

    mutating func name(_ name: DNSName, compress: Bool = true) {
        let labels = name.labels
        for i in labels.indices {
            let suffix = DNSName(uncheckedLabels: Array(labels[i...]))
            if compress, let at = offsets[suffix] {
                buffer.writeInteger(UInt16(0xC000 | at))
                return
            }
            // Only offsets that fit in 14 bits can be pointed to.
            if compress, size < 0x4000 {
                offsets[suffix] = size
                added.append(suffix)
            }
            buffer.writeInteger(UInt8(labels[i].count))
            buffer.writeBytes(labels[i])
        }
        buffer.writeInteger(UInt8(0))
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
