import SeawayModel

/// Identifies one port of one Service: kube-proxy's `ServicePortName`.
public struct ServicePortName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public var port: String
    public var proto: L4Protocol

    public init(namespace: String, name: String, port: String, proto: L4Protocol) {
        self.namespace = namespace
        self.name = name
        self.port = port
        self.proto = proto
    }

    /// `ns/name:port` (or `ns/name` for an unnamed port): the string kube-proxy hashes into
    /// chain names and writes into rule comments.
    public var description: String {
        withDescription { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with `description`'s bytes, written on the stack: the parts are copied
    /// whole (interpolation grew a string piece by piece, a thousand instructions a name),
    /// and the render sorts every service port by this text.
    public func withDescription<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let count = namespace.utf8.count + 1 + name.utf8.count + (port.isEmpty ? 0 : 1 + port.utf8.count)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { out in
            var at = 0
            func put(_ s: String) {
                var s = s
                let copied = s.withUTF8 { bytes in
                    if let base = bytes.baseAddress { (out.baseAddress! + at).update(from: base, count: bytes.count) }
                    return bytes.count
                }
                at += copied
            }
            put(namespace)
            put("/")
            put(name)
            if !port.isEmpty {
                put(":")
                put(port)
            }
            return body(UnsafeBufferPointer(rebasing: out[..<at]))
        }
    }

    /// Render order: by the printed name, then protocol. kube-proxy iterates a Go map here
    /// (random order); we sort so the same input always renders byte-identical text.
    public static func < (a: ServicePortName, b: ServicePortName) -> Bool {
        let (x, y) = (a.description, b.description)
        return x != y ? x < y : a.proto < b.proto
    }
}
