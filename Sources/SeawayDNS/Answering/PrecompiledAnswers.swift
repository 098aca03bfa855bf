import Foundation
import NIOCore

/// Replies written ahead of time, as NSD precompiles its answers: for every name the zones
/// hold (see `ZoneNames`), the sections after the question, exactly as the full path writes
/// them; and for names that cannot exist, the NXDOMAIN sections for each question length.
/// An everyday query then costs a hash lookup and a copy.
///
/// Nothing here decides an answer: every entry is the full path's own reply (written by
/// `DNSResponder` at build time), and a query the table cannot settle goes to the full path.
/// The tests compare both paths byte for byte.
struct PrecompiledAnswers: Sendable {
    /// Names back to back, each with its compiled types: name length (u8), the lowercase
    /// wire name, type count (u8), then per type the type (u16) and the offset of its reply
    /// in `replies` (u32), big-endian.
    private var names: [UInt8] = []
    /// Replies back to back, each stored once however many keys share it (NODATA and
    /// NXDOMAIN bodies repeat a lot): rcode (u8, or `fullPath`), answer/authority/additional
    /// counts (3 x u16), body length (u16), body (the reply after its question).
    private var replies: [UInt8] = []
    /// Open addressing with linear probing, by name: offset + 1 of each entry in `names`, 0
    /// when empty.
    private var slots: [UInt32] = []
    /// Every zone, lowercased in wire form, with the NXDOMAIN reply body by question name
    /// length for the zones where a name's absence from the table settles it (forward zones
    /// without fallthrough); nil for the others.
    private var zones: [(wire: [UInt8], nameErrorBodies: [[UInt8]?]?)] = []

    /// An entry marker: the name exists but its reply needs the full path (an ExternalName
    /// CNAME leaving the zone, whose target the upstream resolves).
    private static let fullPath: UInt8 = 0xFF

    /// The types whose answers are compiled: what resolvers ask of service names. (PTR and
    /// the rest take the full path, whose answers the server caches.)
    static let compiledTypes: Set<DNSType> = [.a, .aaaa, .srv]

    static let empty = PrecompiledAnswers()

    private init() {}

    init(responder: DNSResponder) {
        let zone = responder.zone
        guard zone.synced else { return }
        var storedReplies = StoredReplies()
        var entryOffsets: [Int] = []
        var scratch = ByteBuffer()
        var reply: [UInt8] = []
        var compiled: [UInt8] = []
        for origin in zone.options.zones {
            ZoneNames.forEachQuestion(of: zone, origin: origin) { name, types in
                let lowercased = name.lowercased()
                compiled.removeAll(keepingCapacity: true)
                for type in types where PrecompiledAnswers.compiledTypes.contains(type) {
                    guard PrecompiledAnswers.compile(lowercased, type, responder, scratch: &scratch, into: &reply) else { continue }
                    let offset = storedReplies.offset(of: reply, in: &replies)
                    compiled += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF),
                                 UInt8(offset >> 24), UInt8((offset >> 16) & 0xFF), UInt8((offset >> 8) & 0xFF), UInt8(offset & 0xFF)]
                }
                guard !compiled.isEmpty else { return }
                let wire = PrecompiledAnswers.wire(lowercased)
                entryOffsets.append(names.count)
                names.append(UInt8(wire.count))
                names += wire
                names.append(UInt8(compiled.count / 6))
                names += compiled
            }
            let settled = !origin.isReverseZone && !PrecompiledAnswers.overlapsFallthrough(origin, zone.options)
            zones.append((PrecompiledAnswers.wire(origin.lowercased()),
                          settled ? PrecompiledAnswers.nameErrors(origin, responder) : nil))
        }
        // The room doubling left unused stays: those pages were never written, so they take
        // no memory (the server maps big buffers apart, `Heap.keepBigAllocationsApart`).
        // At most 70% full.
        var capacity = 16
        while capacity * 7 < entryOffsets.count * 10 { capacity *= 2 }
        slots = Array(repeating: 0, count: capacity)
        for at in entryOffsets {
            PrecompiledAnswers.insert(UInt32(at + 1), hash: PrecompiledAnswers.hash(names[(at + 1)..<(at + 1 + Int(names[at]))]), into: &slots)
        }
    }

    /// A reply found for a query: the stored parts that follow the query's own question.
    struct Found {
        var rcode: UInt8
        var counts: (UInt16, UInt16, UInt16)
        var body: ArraySlice<UInt8>
    }

    /// The stored reply for `query` (read from `packet`, the whole datagram), or nil when the
    /// full path must answer it (not compiled, or a name that may exist in a way the table
    /// does not list).
    func find(_ query: PlainQuery, in packet: UnsafeRawBufferPointer) -> Found? {
        guard !slots.isEmpty else { return nil }
        let name = UnsafeRawBufferPointer(rebasing: packet[query.questionStart..<(query.questionStart + query.nameLength)])
        if let entry = find(name) {
            // A listed name: its compiled type, or the full path for the others.
            guard let reply = self.reply(entry, type: query.type), reply.rcode != PrecompiledAnswers.fullPath else { return nil }
            return reply
        }
        guard let body = nameErrorBody(name, type: query.type) else { return nil }
        return Found(rcode: UInt8(DNSResponseCode.nameError.rawValue), counts: (0, 1, 0), body: body[...])
    }

    /// The reply's size on the wire.
    static func size(of found: Found, for query: PlainQuery) -> Int {
        DNSHeader.size + (query.questionEnd - query.questionStart) + found.body.count + (query.edns == nil ? 0 : 11)
    }

    /// Writes the reply to `query` (from `packet`) at the start of `out`, which holds at least
    /// `size(of:for:)` bytes: the header, the query's question as it came, the stored body,
    /// and an OPT when the query had one.
    static func write(_ found: Found, for query: PlainQuery, from packet: UnsafeRawBufferPointer,
                      into out: UnsafeMutableRawBufferPointer) {
        var at = 0
        func u16(_ value: UInt16) {
            out[at] = UInt8(value >> 8)
            out[at + 1] = UInt8(value & 0xFF)
            at += 2
        }
        func bytes(_ source: UnsafeRawBufferPointer) {
            UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + source.count)]).copyMemory(from: source)
            at += source.count
        }
        u16(query.id)
        // QR, AA, the request's RD and CD, the rcode; opcode 0.
        u16(0x8400 | query.echoedFlags | UInt16(found.rcode))
        u16(1)
        u16(found.counts.0)
        u16(found.counts.1)
        u16(found.counts.2 + (query.edns == nil ? 0 : 1))
        bytes(UnsafeRawBufferPointer(rebasing: packet[query.questionStart..<query.questionEnd]))
        found.body.withUnsafeBytes { bytes($0) }
        if let edns = query.edns {
            out[at] = 0
            at += 1
            u16(DNSType.opt.rawValue)
            u16(edns.payloadSize)
            u16(0)
            u16(edns.dnssecOK ? 0x8000 : 0)
            u16(0)
        }
    }

    /// The offset in `names` of the entry for `name` (lowercase wire form).
    private func find(_ name: UnsafeRawBufferPointer) -> Int? {
        var h = PrecompiledAnswers.fnvBasis
        for b in name { h = PrecompiledAnswers.fnv(h, b) }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        return names.withUnsafeBufferPointer { names in
            while slots[slot] != 0 {
                let at = Int(slots[slot] - 1)
                if Int(names[at]) == name.count, memcmp(names.baseAddress! + at + 1, name.baseAddress!, name.count) == 0 {
                    return at
                }
                slot = (slot + 1) & mask
            }
            return nil
        }
    }

    /// The stored reply for `type` in the entry at `at`, if that type was compiled.
    private func reply(_ at: Int, type: UInt16) -> Found? {
        var p = at + 1 + Int(names[at])
        let count = Int(names[p])
        p += 1
        for _ in 0..<count {
            if UInt16(names[p]) << 8 | UInt16(names[p + 1]) == type {
                let r = Int(names[p + 2]) << 24 | Int(names[p + 3]) << 16 | Int(names[p + 4]) << 8 | Int(names[p + 5])
                func u16(_ i: Int) -> UInt16 { UInt16(replies[i]) << 8 | UInt16(replies[i + 1]) }
                let length = Int(u16(r + 7))
                return Found(rcode: replies[r], counts: (u16(r + 1), u16(r + 3), u16(r + 5)), body: replies[(r + 9)..<(r + 9 + length)])
            }
            p += 6
        }
        return nil
    }

    /// The NXDOMAIN body when `name` (not in the table) certainly does not exist, following
    /// CoreDNS's parseRequest below the zone: `svc` names of two to four labels exist only as
    /// listed (namespaces, services, endpoints); five labels (`_port._proto.service.ns.svc`)
    /// only if their service exists, so those with a listed service go to the full path;
    /// longer `svc` names, and names under neither `svc` nor `pod`, never exist. Pod names,
    /// reverse zones and zones with fallthrough are the full path's.
    private func nameErrorBody(_ name: UnsafeRawBufferPointer, type: UInt16) -> [UInt8]? {
        // Other types (TXT for one) answer NODATA for names that do not exist.
        guard type == DNSType.a.rawValue || type == DNSType.aaaa.rawValue || type == DNSType.srv.rawValue else { return nil }
        // Label offsets on the stack: this runs for most queries of the ndots mix. A wire
        // name of at most 255 bytes has at most 127 labels.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 128) { starts -> [UInt8]? in
            var labels = 0
            var i = 0
            while i < name.count, name[i] != 0, labels < starts.count { starts[labels] = i; labels += 1; i += 1 + Int(name[i]) }
            func below(_ offset: Int) -> Int? { (0..<labels).first { starts[$0] == offset } }
            // The longest zone the name is in, as the full path chooses it.
            var best: (labels: Int, bodies: [[UInt8]?]?)?
            for (zone, bodies) in zones where name.count >= zone.count {
                let offset = name.count - zone.count
                guard let below = below(offset),
                      memcmp(name.baseAddress! + offset, zone, zone.count) == 0 else { continue }
                if best == nil || below < best!.labels { best = (below, bodies) }
            }
            guard let (below, zoneBodies) = best, let bodies = zoneBodies, below > 0 else { return nil }
            let last = starts[below - 1]
            let lastLabel = UnsafeRawBufferPointer(rebasing: name[(last + 1)..<(last + 1 + Int(name[last]))])
            if PrecompiledAnswers.equals(lastLabel, "pod") { return nil }
            if PrecompiledAnswers.equals(lastLabel, "svc") {
                if below == 1 { return nil }
                if below == 5 {
                    let service = UnsafeRawBufferPointer(rebasing: name[starts[2]...])
                    if find(service) != nil { return nil }
                }
            }
            return bodies[name.count]
        }
    }

    // MARK: - Building

    /// Where each distinct stored reply is in `replies`, found by its bytes: open addressing
    /// over offsets into `replies` itself. (A dictionary keyed by each reply's own array held
    /// a second copy of every reply: 30 MB of loading's peak at 10,000 services.)
    private struct StoredReplies {
        /// Offset + 1 of a stored reply, 0 when empty.
        private var slots = [UInt32](repeating: 0, count: 1024)
        private var count = 0

        /// The offset of `reply` in `replies`, appended there if it is not yet.
        mutating func offset(of reply: [UInt8], in replies: inout [UInt8]) -> UInt32 {
            let hash = PrecompiledAnswers.hash(reply[...])
            var slot = hash & (slots.count - 1)
            while slots[slot] != 0 {
                let at = Int(slots[slot] - 1)
                if PrecompiledAnswers.storedLength(replies, at) == reply.count,
                   replies[at..<(at + reply.count)].elementsEqual(reply) { return UInt32(at) }
                slot = (slot + 1) & (slots.count - 1)
            }
            let offset = UInt32(replies.count)
            replies += reply
            slots[slot] = offset + 1
            count += 1
            // At most half full.
            if count * 2 > slots.count { grow(replies) }
            return offset
        }

        private mutating func grow(_ replies: [UInt8]) {
            var bigger = [UInt32](repeating: 0, count: slots.count * 2)
            for stored in slots where stored != 0 {
                let at = Int(stored - 1)
                PrecompiledAnswers.insert(stored, hash: PrecompiledAnswers.hash(replies[at..<(at + PrecompiledAnswers.storedLength(replies, at))]), into: &bigger)
            }
            slots = bigger
        }
    }

    /// Puts `value` (never 0, which marks an empty slot) in the first empty slot from `hash`
    /// on: open addressing with linear probing, `slots.count` a power of two.
    private static func insert(_ value: UInt32, hash: Int, into slots: inout [UInt32]) {
        var slot = hash & (slots.count - 1)
        while slots[slot] != 0 { slot = (slot + 1) & (slots.count - 1) }
        slots[slot] = value
    }

    /// The size of the stored reply at `at` in `replies`: its 9-byte head (rcode, counts,
    /// body length) and its body.
    private static func storedLength(_ replies: [UInt8], _ at: Int) -> Int {
        9 + (Int(replies[at + 7]) << 8 | Int(replies[at + 8]))
    }

    /// The full path's reply for a lowercase `name` and `type` as a stored reply (rcode,
    /// counts, body length, body) in `record`; false for what is not a plain authoritative
    /// answer.
    private static func compile(_ name: DNSName, _ type: DNSType, _ responder: DNSResponder,
                                scratch: inout ByteBuffer, into record: inout [UInt8]) -> Bool {
        switch responder.decide(DNSMessage.query(id: 0, name: name, type: type)) {
        case let .reply(reply):
            guard reply.rcode == .noError else { return false }
            return stored(reply, nameLength: name.wireLength, scratch: &scratch, into: &record)
        case .chase:
            record = [fullPath, 0, 0, 0, 0, 0, 0, 0, 0]
            return true
        case .forward, .drop:
            return false
        }
    }

    /// A reply as stored: rcode, counts, body length and the bytes after its question.
    private static func stored(_ reply: DNSMessage, nameLength: Int, scratch: inout ByteBuffer, into record: inout [UInt8]) -> Bool {
        scratch.clear()
        reply.write(into: &scratch)
        let bodyStart = DNSHeader.size + nameLength + 4
        let length = scratch.readableBytes - bodyStart
        guard length >= 0, length <= Int(UInt16.max) else { return false }
        record.removeAll(keepingCapacity: true)
        record.append(UInt8(reply.rcode.rawValue & 0xF))
        scratch.withUnsafeReadableBytes { bytes in
            record += bytes[6..<12]
            record += [UInt8(length >> 8), UInt8(length & 0xFF)]
            record += bytes[bodyStart...]
        }
        return true
    }

    /// For each question name length that can end in `zone`, the full path's NXDOMAIN body
    /// (the SOA, pointing into the question) for a name of that length below the zone.
    private static func nameErrors(_ zone: DNSName, _ responder: DNSResponder) -> [[UInt8]?] {
        var bodies: [[UInt8]?] = Array(repeating: nil, count: DNSName.maxWireLength + 1)
        let zoneLength = zone.wireLength
        var scratch = ByteBuffer()
        var record: [UInt8] = []
        for length in (zoneLength + 2)...DNSName.maxWireLength {
            // Filler labels of up to 63 bytes ahead of the zone; the last one is `x`, which is
            // neither `svc` nor `pod`, so the name cannot exist.
            var extra = length - zoneLength
            var labels: [[UInt8]] = []
            while extra > 0 {
                let take = extra == 65 ? 62 : min(extra, 64) - 1
                labels.append(Array(repeating: UInt8(ascii: "x"), count: take))
                extra -= take + 1
            }
            guard let name = DNSName(labels: labels + zone.lowercased().labels), name.wireLength == length,
                  case let .reply(reply) = responder.decide(DNSMessage.query(id: 0, name: name, type: .a)),
                  reply.rcode == .nameError, stored(reply, nameLength: length, scratch: &scratch, into: &record),
                  record[0..<7].elementsEqual([3, 0, 0, 0, 1, 0, 0]) else { continue }
            bodies[length] = Array(record[9...])
        }
        return bodies
    }

    /// Whether NXDOMAIN answers anywhere in `zone` may fall through to the upstream.
    private static func overlapsFallthrough(_ zone: DNSName, _ options: KubernetesDNSOptions) -> Bool {
        guard let passing = options.fallthroughZones else { return false }
        return passing.isEmpty || passing.contains { $0.isSubdomain(of: zone) || zone.isSubdomain(of: $0) }
    }

    private static func wire(_ name: DNSName) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.labels {
            out.append(UInt8(label.count))
            out += label
        }
        out.append(0)
        return out
    }

    private static func equals(_ label: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        label.count == text.utf8CodeUnitCount && memcmp(label.baseAddress!, text.utf8Start, label.count) == 0
    }

    private static let fnvBasis: UInt64 = 0xcbf2_9ce4_8422_2325

    @inline(__always)
    private static func fnv(_ h: UInt64, _ b: UInt8) -> UInt64 { (h ^ UInt64(b)) &* 0x100_0000_01b3 }

    private static func hash(_ key: ArraySlice<UInt8>) -> Int {
        Int(truncatingIfNeeded: key.reduce(fnvBasis, fnv))
    }
}
