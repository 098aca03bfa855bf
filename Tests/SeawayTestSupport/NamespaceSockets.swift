import Foundation
import SeawayKernel

/// TCP endpoints inside network namespaces, for tests that send real traffic: a socket
/// belongs to the namespace it was created in, so each is made inside `NetworkNamespace.run`.
public enum NamespaceSockets {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// A listener on `port` (all addresses) in `namespace`, answering each connection with
    /// the address it came from (`ip\n`), or with `identity` and that address
    /// (`identity ip\n`) when given, then closing it.
    /// Runs until `stop()`.
    public final class EchoPeerServer: @unchecked Sendable {
        let fd: Int32
        private let thread: Thread

        public init(in namespace: String, port: UInt16, ipv6: Bool = false, identity: String? = nil) throws {
            let fd = try NamespaceSockets.tcpListener(in: namespace, port: port, ipv6: ipv6)
            self.fd = fd
            thread = Thread {
                while true {
                    var peer = sockaddr_storage()
                    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    let c = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &length) } }
                    if c < 0 { return }
                    let text = (identity.map { $0 + " " } ?? "") + NamespaceSockets.address(of: peer) + "\n"
                    _ = text.withCString { send(c, $0, strlen($0), 0) }
                    close(c)
                }
            }
            thread.start()
        }

        public func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    /// A UDP responder on `port` in `namespace` (IPv4) answering every datagram with
    /// `identity`, as a DNS server answers every query. Runs until `stop()`.
    public final class UDPIdentityServer: @unchecked Sendable {
        let fd: Int32
        private let thread: Thread

        public init(in namespace: String, port: UInt16, identity: String) throws {
            let fd = try NamespaceSockets.udpSocket(in: namespace, port: port)
            self.fd = fd
            thread = Thread {
                var buffer = [UInt8](repeating: 0, count: 512)
                while true {
                    var peer = sockaddr_storage()
                    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                    let n = withUnsafeMutablePointer(to: &peer) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &length) }
                    }
                    // shutdown() in stop() wakes this with 0: the socket is closed here, once
                    // nothing can use its number again.
                    if n <= 0 { close(fd); return }
                    _ = withUnsafePointer(to: &peer) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, identity, identity.utf8.count, 0, $0, length) }
                    }
                }
            }
            thread.start()
        }

        private var stopped = false

        /// Idempotent: after the first call the descriptor may belong to someone else.
        public func stop() {
            guard !stopped else { return }
            stopped = true
            shutdown(fd, Int32(SHUT_RDWR))
        }
    }

    /// A listening TCP socket in `namespace` on `port`, every address.
    static func tcpListener(in namespace: String, port: UInt16, ipv6: Bool = false) throws -> Int32 {
        try NetworkNamespace(path: namespace).run { () throws(SystemError) -> Int32 in
            let s = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard s >= 0 else { throw .current("socket") }
            var one: Int32 = 1
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4)
            let rc: Int32
            if ipv6 {
                var a = sockaddr_in6()
                a.sin6_family = sa_family_t(AF_INET6)
                a.sin6_port = port.bigEndian
                rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            } else {
                var a = sockaddr_in()
                a.sin_family = sa_family_t(AF_INET)
                a.sin_port = port.bigEndian
                rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
            guard rc == 0, listen(s, 64) == 0 else {
                let error = SystemError.current("bind/listen on port \(port)")
                close(s)
                throw error
            }
            return s
        }
    }

    /// An IPv4 UDP socket in `namespace` bound to `port` on every address.
    static func udpSocket(in namespace: String, port: UInt16) throws -> Int32 {
        try NetworkNamespace(path: namespace).run { () throws(SystemError) -> Int32 in
            let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard s >= 0 else { throw .current("socket") }
            var one: Int32 = 1
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard rc == 0 else {
                let error = SystemError.current("bind UDP port \(port)")
                close(s)
                throw error
            }
            return s
        }
    }

    /// Sends one datagram from `namespace`, from local port `sourcePort` (so repeated asks
    /// are one conntrack flow, as a resolver reusing its socket is), to `address:port`;
    /// returns the answer, or nil when none comes within `timeoutMilliseconds`.
    public static func askUDP(from namespace: String, _ address: String, port: UInt16, sourcePort: UInt16,
                              timeoutMilliseconds: Int = 1000) throws -> String? {
        let fd = try udpSocket(in: namespace, port: sourcePort)
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &a.sin_addr)
        let query = "query"
        let sent = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(fd, query, query.utf8.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        } }
        guard sent >= 0 else { throw Failure(description: "send to \(address):\(port): \(String(cString: strerror(errno)))") }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// A TCP socket in `namespace` connected to `address:port`, with send and receive timeouts.
    static func connected(from namespace: String, _ address: String, port: UInt16, timeoutSeconds: Int) throws -> Int32 {
        let ipv6 = address.contains(":")
        let fd = try NetworkNamespace(path: namespace).run { () throws(SystemError) -> Int32 in
            let s = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard s >= 0 else { throw .current("socket") }
            return s
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc: Int32
        if ipv6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            inet_pton(AF_INET6, address, &a.sin6_addr)
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            inet_pton(AF_INET, address, &a.sin_addr)
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard rc == 0 else {
            let failure = Failure(description: "connect to \(address):\(port): \(String(cString: strerror(errno)))")
            close(fd)
            throw failure
        }
        return fd
    }

    /// Connects from `namespace` to `address:port` and returns what the server said; throws
    /// when the connection fails or times out.
    public static func ask(from namespace: String, _ address: String, port: UInt16, timeoutSeconds: Int = 2) throws -> String {
        let fd = try connected(from: namespace, address, port: port, timeoutSeconds: timeoutSeconds)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else { throw Failure(description: "no answer from \(address):\(port)") }
        return String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func address(of storage: sockaddr_storage) -> String {
        var s = storage
        var text = [CChar](repeating: 0, count: 64)
        if s.ss_family == sa_family_t(AF_INET6) {
            withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                var a = p.pointee.sin6_addr
                inet_ntop(AF_INET6, &a, &text, 64)
            } }
        } else {
            withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                var a = p.pointee.sin_addr
                inet_ntop(AF_INET, &a, &text, 64)
            } }
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
