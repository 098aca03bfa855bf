import Foundation
import Glibc
import SeawayKernel
import Synchronization
import Testing

/// The batched UDP socket on loopback (no root needed): a burst read in one call with each
/// sender, replies sent back in one call and in order, shared ports, oversized datagrams,
/// and a blocked read woken by `shutdown`.
struct DatagramBatchSocketTests {
    /// A plain client socket on loopback, bound so its port is known.
    final class Client {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var port = 0

        init() throws {
            var address = Client.loopback(port: 0)
            try #require(withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            port = Int(UInt16(bigEndian: address.sin_port))
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        static func loopback(port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            return address
        }

        func send(_ bytes: [UInt8], to port: Int) {
            var address = Client.loopback(port: port)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }

        func receive() -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n < 0 ? nil : Array(buffer[..<n])
        }
    }

    @Test func aBurstIsReadInOneCallAndAnsweredInOrder() throws {
        let server = try DatagramBatchSocket(bindingTo: "127.0.0.1", port: 0, reusePort: false, bufferBytes: 1 << 20)
        #expect(server.port > 0)
        let a = try Client(), b = try Client()
        let requests: [(Client, [UInt8])] = (0..<5).map { i in (i % 2 == 0 ? a : b, [UInt8](repeating: UInt8(i), count: 10 + i)) }
        for (client, bytes) in requests { client.send(bytes, to: server.port) }

        let batch = DatagramBatch(capacity: 8, datagramSize: 512)
        #expect(try server.receive(into: batch) == 5, "loopback delivers the whole burst before the read")
        for (i, (client, bytes)) in requests.enumerated() {
            #expect(Array(batch.request(i)) == bytes)
            #expect(batch.peer(i).port == client.port)
            #expect(!batch.peer(i).isIPv6)
            #expect(!batch.wasTruncated(i))
            // The reply: the request reversed, one byte longer.
            let reply = [UInt8(0xEE)] + bytes.reversed()
            batch.replySpace(i).copyBytes(from: reply)
            batch.queueReply(to: i, length: reply.count)
        }
        server.sendQueued(batch)
        for (client, bytes) in requests {
            #expect(client.receive() == [UInt8(0xEE)] + bytes.reversed())
        }
        // The queue was emptied: nothing more arrives.
        server.sendQueued(batch)
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(a.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(a.receive() == nil)

        // A read after replies were sent starts afresh.
        b.send([42], to: server.port)
        #expect(try server.receive(into: batch) == 1)
        #expect(Array(batch.request(0)) == [42])
        #expect(batch.peer(0).port == b.port)
    }

    @Test func anOversizedDatagramIsCutAndMarked() throws {
        let server = try DatagramBatchSocket(bindingTo: "127.0.0.1", port: 0, reusePort: false, bufferBytes: 1 << 20)
        let client = try Client()
        client.send([UInt8](repeating: 7, count: 600), to: server.port)
        let batch = DatagramBatch(capacity: 4, datagramSize: 512)
        #expect(try server.receive(into: batch) == 1)
        #expect(batch.wasTruncated(0))
        #expect(batch.request(0).count == 512)
    }

    @Test func portsAreSharedOnlyWhenAsked() throws {
        let first = try DatagramBatchSocket(bindingTo: "127.0.0.1", port: 0, reusePort: true, bufferBytes: 1 << 20)
        let second = try DatagramBatchSocket(bindingTo: "127.0.0.1", port: first.port, reusePort: true, bufferBytes: 1 << 20)
        #expect(second.port == first.port)
        let error = #expect(throws: SystemError.self) {
            _ = try DatagramBatchSocket(bindingTo: "127.0.0.1", port: first.port, reusePort: false, bufferBytes: 1 << 20)
        }
        #expect(error?.errno == EADDRINUSE)
        #expect(error?.description.contains("bind UDP 127.0.0.1:\(first.port)") == true)
        #expect(throws: SystemError.self) {
            _ = try DatagramBatchSocket(bindingTo: "not an address", port: 0, reusePort: false, bufferBytes: 1 << 20)
        }
    }

    @Test func shutdownWakesABlockedRead() throws {
        let server = try DatagramBatchSocket(bindingTo: "::1", port: 0, reusePort: false, bufferBytes: 1 << 20)
        let read = Mutex<Int?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let reader = Thread {
            let batch = DatagramBatch(capacity: 4, datagramSize: 512)
            let count = (try? server.receive(into: batch)) ?? -1
            read.withLock { $0 = count }
            finished.signal()
        }
        reader.start()
        #expect(finished.wait(timeout: .now() + .milliseconds(300)) == .timedOut, "the read blocks while nothing arrives")
        server.shutdown()
        #expect(finished.wait(timeout: .now() + .seconds(10)) == .success, "shutdown ends the read")
        #expect(read.withLock { $0 } == 0, "a shut-down socket reads nothing")
    }
}
