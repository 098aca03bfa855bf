/// Chooses the local port each userspace-proxy listener takes. kube-proxy's userspace mode
/// bound port 0 and took whatever the kernel gave, so its rules differed on every restart and
/// could not be rendered ahead of time. Here a listener's port is a hash of its name into the
/// range (FNV-1a), probing upwards on a collision, and a port once given is kept while the
/// listener lives: `render` prints the ports the agent uses, and a restarted agent binds the
/// same ones again, so conntrack entries redirected before the restart still lead somewhere.
/// Pure.
public struct ProxyPortAllocator: Sendable, Hashable {
    public struct Exhausted: Error, CustomStringConvertible {
        public var needed: Int
        public var range: ClosedRange<Int>
        public var description: String {
            "userspace proxy needs \(needed) listener ports but --proxy-port-range \(range.lowerBound)-\(range.upperBound) holds \(range.count)"
        }
    }

    public let range: ClosedRange<Int>
    public private(set) var assigned: [String: Int] = [:]
    private var taken: Set<Int> = []
    private var avoided: Set<Int> = []

    public init(range: ClosedRange<Int>) {
        self.range = range
    }

    /// Gives every key a port: keys already holding one keep it, the rest (in sorted order,
    /// so the outcome does not depend on the caller's order) take their hash's port or the
    /// next free one above it; ports of keys not listed are released first.
    public mutating func assign(_ keys: some Collection<String>) throws(Exhausted) -> [String: Int] {
        guard keys.count <= range.count - avoided.count else { throw Exhausted(needed: keys.count, range: range) }
        let wanted = Set(keys)
        for (key, port) in assigned where !wanted.contains(key) {
            assigned[key] = nil
            taken.remove(port)
        }
        for key in wanted.sorted() where assigned[key] == nil {
            let size = UInt64(range.count)
            var offset = Self.fnv1a(key) % size
            while taken.contains(range.lowerBound + Int(offset)) { offset = (offset + 1) % size }
            let port = range.lowerBound + Int(offset)
            assigned[key] = port
            taken.insert(port)
        }
        return assigned
    }

    /// Never gives `port` again (something else holds it); its key takes another next time.
    public mutating func avoid(_ port: Int) {
        if let key = assigned.first(where: { $0.value == port })?.key { assigned[key] = nil }
        taken.insert(port)
        avoided.insert(port)
    }

    /// FNV-1a, 64-bit: stable across runs and platforms (Swift's `Hasher` is seeded per process).
    static func fnv1a(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }
}
