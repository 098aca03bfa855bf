/// Bytes written into memory this value owns, grown by doubling: what the renderers write
/// rule text into before it is copied out at its final size. An append is a capacity check
/// and a copy, where appending to an array also checked that it is not shared and called
/// memmove for every piece (a third of the time spent writing a rule line).
struct ByteScratch: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// The bytes, in an array of their own size.
    func array() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            if count > 0 { out.baseAddress!.update(from: base, count: count) }
            initialized = count
        }
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        if count + bytes.count > capacity { grow(toHold: count + bytes.count) }
        copyBytes(from: source, count: bytes.count, to: base + count)
        count += bytes.count
    }

    /// Drops the last `k` bytes (the room stays).
    mutating func removeLast(_ k: Int) {
        precondition(k >= 0 && k <= count)
        count -= k
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(toHold: count + 1) }
        base[count] = byte
        count += 1
    }

    /// Appends literal text, copied at its known length.
    @inline(__always)
    mutating func appendText(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func append(_ bytes: some Collection<UInt8>) {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ append($0) }) { return done }
        append(Array(bytes))
    }

    /// Writes `n` in decimal straight into the buffer (20 bytes hold any `Int`).
    mutating func appendDecimal(_ n: Int) {
        if count + 20 > capacity { grow(toHold: count + 20) }
        count += UnsafeMutableBufferPointer(start: base + count, count: 20).writeDecimal(n)
    }

    private mutating func grow(toHold needed: Int) {
        let newCapacity = max(needed, 2 * capacity)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}

/// Copies `count` bytes. Most pieces of rule text are a few to a few dozen bytes: copied as
/// overlapping words and vectors, with none of memmove's call and size dispatch (and its
/// mispredicted branches, the length being different every time).
@inline(__always)
func copyBytes(from source: UnsafePointer<UInt8>, count: Int, to target: UnsafeMutablePointer<UInt8>) {
    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(target)
    switch count {
    case 65...128:
        let a = from.loadUnaligned(as: SIMD32<UInt8>.self), b = from.loadUnaligned(fromByteOffset: 32, as: SIMD32<UInt8>.self)
        let c = from.loadUnaligned(fromByteOffset: count - 64, as: SIMD32<UInt8>.self)
        let d = from.loadUnaligned(fromByteOffset: count - 32, as: SIMD32<UInt8>.self)
        to.storeBytes(of: a, as: SIMD32<UInt8>.self)
        to.storeBytes(of: b, toByteOffset: 32, as: SIMD32<UInt8>.self)
        to.storeBytes(of: c, toByteOffset: count - 64, as: SIMD32<UInt8>.self)
        to.storeBytes(of: d, toByteOffset: count - 32, as: SIMD32<UInt8>.self)
    case 33...64:
        let a = from.loadUnaligned(as: SIMD32<UInt8>.self), b = from.loadUnaligned(fromByteOffset: count - 32, as: SIMD32<UInt8>.self)
        to.storeBytes(of: a, as: SIMD32<UInt8>.self)
        to.storeBytes(of: b, toByteOffset: count - 32, as: SIMD32<UInt8>.self)
    case 17...32:
        let a = from.loadUnaligned(as: SIMD16<UInt8>.self), b = from.loadUnaligned(fromByteOffset: count - 16, as: SIMD16<UInt8>.self)
        to.storeBytes(of: a, as: SIMD16<UInt8>.self)
        to.storeBytes(of: b, toByteOffset: count - 16, as: SIMD16<UInt8>.self)
    case 8...16:
        let a = from.loadUnaligned(as: UInt64.self), b = from.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        to.storeBytes(of: a, as: UInt64.self)
        to.storeBytes(of: b, toByteOffset: count - 8, as: UInt64.self)
    case 4..<8:
        let a = from.loadUnaligned(as: UInt32.self), b = from.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        to.storeBytes(of: a, as: UInt32.self)
        to.storeBytes(of: b, toByteOffset: count - 4, as: UInt32.self)
    case 0..<4:
        for i in 0..<count { target[i] = source[i] }
    default:
        target.update(from: source, count: count)
    }
}
