import Foundation
import SeawayKernel

extension NamespaceSockets {
    /// A TCP server on `port` in `namespace` (IPv4) that keeps each connection open and
    /// answers every chunk a client sends with `identity: chunk`: for tests about connections
    /// that must outlive a rule or endpoint change. Runs until `stop()`.
    public final class LineEchoServer: @unchecked Sendable {
        let fd: Int32
        private let thread: Thread

        public init(in namespace: String, port: UInt16, identity: String) throws {
            let fd = try NamespaceSockets.tcpListener(in: namespace, port: port)
            self.fd = fd
            thread = Thread {
                while true {
                    let c = accept(fd, nil, nil)
                    if c < 0 { return }
                    Thread.detachNewThread {
                        var buffer = [UInt8](repeating: 0, count: 1024)
                        while true {
                            let n = recv(c, &buffer, buffer.count, 0)
                            if n <= 0 { break }
                            let reply = Array("\(identity): ".utf8) + buffer[0..<n]
                            _ = reply.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        }
                        close(c)
                    }
                }
            }
            thread.start()
        }

        public func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    /// A TCP connection from a namespace that stays open between exchanges.
    public final class HeldConnection {
        let fd: Int32

        public init(from namespace: String, _ address: String, port: UInt16, timeoutSeconds: Int = 2) throws {
            fd = try NamespaceSockets.connected(from: namespace, address, port: port, timeoutSeconds: timeoutSeconds)
        }

        /// Sends `text` and returns the answer (nil when the connection closed or timed out).
        public func exchange(_ text: String) -> String? {
            let bytes = Array(text.utf8)
            guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else { return nil }
            var buffer = [UInt8](repeating: 0, count: 1024)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
        }

        deinit { close(fd) }
    }
}
