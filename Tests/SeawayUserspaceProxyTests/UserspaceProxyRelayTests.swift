import Foundation
import SeawayModel
import SeawayProxyCore
import SeawayUserspaceProxy
import Synchronization
import Testing

/// The TCP relay under the proxy: dial timeouts, backpressure both ways, resets passed on.
extension UserspaceProxyLoopbackTests {
    /// A loopback listener that never accepts, its backlog filled: further SYNs are dropped,
    /// so a dial to it neither connects nor is refused until it times out.
    final class Blackhole {
        let fd: Int32
        let port: Int
        private var fillers: [Int32] = []

        init() throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            port = Int(Server.bind(fd, ipv6: false, port: 0))
            listen(fd, 0)
            // The accept queue holds backlog + 1; whatever connects past it waits on its SYN.
            for _ in 0..<2 {
                let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue), 0)
                var a = sockaddr_in()
                a.sin_family = sa_family_t(AF_INET)
                a.sin_port = UInt16(port).bigEndian
                a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
                _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                fillers.append(c)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }

        deinit {
            for c in fillers { close(c) }
            close(fd)
        }
    }

    @Test func aDialThatHangsTimesOutAndTheNextEndpointTakesTheClient() throws {
        let hole = try Blackhole()
        let live = Server("live")
        let (proxy, port) = try Self.proxy("slow", endpoints: [("127.0.0.1", hole.port), ("127.0.0.1", Int(live.port))])
        defer { proxy.shutdown() }
        // Round robin sends one of the two connections to the blackhole first.
        var slowest = 0.0
        for _ in 0..<2 {
            let start = Date()
            #expect(try Self.ask(port) == "live")
            slowest = max(slowest, Date().timeIntervalSince(start))
        }
        // The first attempt's timeout is 250 ms; a refusal would have been immediate.
        #expect(slowest >= 0.24 && slowest < 1.5, "\(slowest)")
    }

    @Test func megabytesCrossBothWaysWithBackpressure() throws {
        let collector = Server("c", collect: true)
        let (proxy, port) = try Self.proxy("bulk", endpoints: [("127.0.0.1", Int(collector.port))])
        defer { proxy.shutdown() }
        let fd = try Self.connect(port)
        defer { close(fd) }
        // 4 MiB of a pattern no shift or loss keeps, sent whole before anything is read back:
        // the collector reads 512 bytes at a time, so the relay's writes to it block often.
        let payload = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        var sent = 0
        while sent < payload.count {
            let n = payload.withUnsafeBytes { send(fd, $0.baseAddress! + sent, payload.count - sent, Int32(MSG_NOSIGNAL)) }
            try #require(n > 0, "send: \(String(cString: strerror(errno)))")
            sent += n
        }
        shutdown(fd, Int32(SHUT_WR))
        var reply: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while case let n = recv(fd, &buffer, buffer.count, 0), n > 0 { reply += buffer[0..<n] }
        #expect(reply.count == payload.count + 3)
        #expect(reply.prefix(3) == Array("c: ".utf8)[...] && reply.dropFirst(3).elementsEqual(payload))
    }

    @Test func aClientsResetReachesTheEndpointAsAReset() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        let endpointPort = Int(Server.bind(listener, ipv6: false, port: 0))
        listen(listener, 8)
        let (proxy, port) = try Self.proxy("reset", endpoints: [("127.0.0.1", endpointPort)])
        defer { proxy.shutdown() }

        let client = try Self.connect(port)
        #expect(send(client, "x", 1, Int32(MSG_NOSIGNAL)) == 1)
        let accepted = accept(listener, nil, nil)
        defer { close(accepted) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(accepted, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        #expect(recv(accepted, &byte, 1, 0) == 1 && byte == UInt8(ascii: "x"))
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(client)
        let n = recv(accepted, &byte, 1, 0)
        #expect(n < 0 && errno == ECONNRESET, "recv gave \(n), \(String(cString: strerror(errno)))")
    }

    /// Connections that come and go on both relay threads at once (slots reused, events of
    /// closed connections still queued) never cross: each client hears its own words back.
    @Test func concurrentClientsEachHearTheirOwnReplies() throws {
        let echo = Server("e", echo: true)
        let (proxy, port) = try Self.proxy("echo", endpoints: [("127.0.0.1", Int(echo.port))])
        defer { proxy.shutdown() }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { client in
            for n in 0..<40 {
                let words = "client \(client) connection \(n)"
                guard let fd = try? Self.connect(port) else {
                    failures.withLock { $0.append("\(words): no connection") }
                    continue
                }
                let reply = Self.exchange(fd, words)
                if reply != "e: \(words)" { failures.withLock { $0.append("\(words): heard \(reply ?? "nothing")") } }
                // Half the clients leave with a reset, half with a FIN.
                if n % 2 == 0 {
                    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                }
                close(fd)
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(5))")
    }
}
