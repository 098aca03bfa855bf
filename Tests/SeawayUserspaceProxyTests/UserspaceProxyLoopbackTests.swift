import Foundation
import SeawayModel
import SeawayProxyCore
import SeawayUserspaceProxy
import Testing

/// The proxy's listeners on loopback, connected to directly (no redirect rules, so no root):
/// forwarding, round robin, affinity, dial retries, endpoint updates, UDP sessions, both
/// families on one port, and a port something else holds.
@Suite(.serialized) struct UserspaceProxyLoopbackTests {
    /// A loopback TCP or UDP server thread; TCP: `identity` then close (or, with `echo`,
    /// `identity: data` per read, kept open; with `collect`, everything up to the client's
    /// half-close, then `identity: all of it` and close); UDP: `identity` per datagram.
    final class Server: @unchecked Sendable {
        let fd: Int32
        let port: UInt16

        init(_ identity: String, udp: Bool = false, echo: Bool = false, collect: Bool = false, ipv6: Bool = false) {
            let family = ipv6 ? AF_INET6 : AF_INET
            fd = socket(family, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
            port = Self.bind(fd, ipv6: ipv6, port: 0)
            if !udp { listen(fd, 128) }
            let fd = self.fd
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 512)
                while true {
                    if udp {
                        var peer = sockaddr_storage()
                        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                        let n = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, 512, 0, $0, &length) } }
                        if n < 0 { return }
                        _ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, identity, identity.utf8.count, 0, $0, length) } }
                        continue
                    }
                    let c = accept(fd, nil, nil)
                    if c < 0 { return }
                    if collect {
                        Thread.detachNewThread {
                            var all = Array("\(identity): ".utf8), b = [UInt8](repeating: 0, count: 512)
                            while case let n = recv(c, &b, 512, 0), n > 0 { all += b[0..<n] }
                            _ = send(c, all, all.count, Int32(MSG_NOSIGNAL))
                            close(c)
                        }
                        continue
                    }
                    if !echo {
                        _ = send(c, identity, identity.utf8.count, Int32(MSG_NOSIGNAL))
                        close(c)
                        continue
                    }
                    Thread.detachNewThread {
                        var b = [UInt8](repeating: 0, count: 512)
                        while true {
                            let n = recv(c, &b, 512, 0)
                            if n <= 0 { break }
                            let reply = Array("\(identity): ".utf8) + b[0..<n]
                            _ = send(c, reply, reply.count, Int32(MSG_NOSIGNAL))
                        }
                        close(c)
                    }
                }
            }
        }

        /// Binds to loopback; returns the port.
        static func bind(_ fd: Int32, ipv6: Bool, port: UInt16) -> UInt16 {
            if ipv6 {
                var a = sockaddr_in6()
                a.sin6_family = sa_family_t(AF_INET6)
                a.sin6_port = port.bigEndian
                a.sin6_addr = in6addr_loopback
                _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
                var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
                _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
                return UInt16(bigEndian: a.sin6_port)
            }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return UInt16(bigEndian: a.sin_port)
        }

        deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    /// A connected client socket to loopback `port` (2 s timeouts).
    static func connect(_ port: Int, ipv6: Bool = false, udp: Bool = false) throws -> Int32 {
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc: Int32
        if ipv6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = UInt16(port).bigEndian
            a.sin6_addr = in6addr_loopback
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = UInt16(port).bigEndian
            a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard rc == 0 else { close(fd); throw Failure("connect to \(port): \(String(cString: strerror(errno)))") }
        return fd
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// What one connection to the proxy hears ("" when the proxy closed it unanswered).
    static func ask(_ port: Int, ipv6: Bool = false) throws -> String {
        let fd = try connect(port, ipv6: ipv6)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, 512, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    static func exchange(_ fd: Int32, _ text: String) -> String? {
        guard send(fd, text, text.utf8.count, Int32(MSG_NOSIGNAL)) == text.utf8.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, 512, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// A loopback port nothing listens on (bound once, then closed).
    static func deadPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        return Int(Server.bind(fd, ipv6: false, port: 0))
    }

    static func portal(_ name: String, port: Int, proto: L4Protocol = .tcp, endpoints: [(String, Int)],
                       affinity: Int? = nil) -> UserspacePlan.Portal {
        UserspacePlan.Portal(
            name: ServicePortName(namespace: "ns", name: name, port: "p", proto: proto), key: "ns/\(name):p/\(proto.lowercased)",
            proto: proto, proxyPort: port, addresses: [], servicePort: 80, nodePort: 0,
            endpoints: endpoints.map { EndpointInfo(ip: IPAddress($0.0)!, port: $0.1, isLocal: true, ready: true, serving: true, terminating: false) },
            affinitySeconds: affinity)
    }

    static func plan(_ portals: [UserspacePlan.Portal], family: IPFamily = .ipv4) -> UserspacePlan {
        var plan = UserspacePlan(family: family)
        plan.portals = portals
        return plan
    }

    /// A free port for a listener (the kernel's choice, released again).
    static func freePort() -> Int { deadPort() }

    /// A proxy on two threads with one TCP listener, on a free port, for `endpoints`.
    static func proxy(_ name: String, endpoints: [(String, Int)]) throws -> (UserspaceProxy, port: Int) {
        let proxy = UserspaceProxy(threads: 2)
        let port = freePort()
        do {
            _ = try proxy.open([plan([portal(name, port: port, endpoints: endpoints)])])
        } catch {
            proxy.shutdown()
            throw error
        }
        return (proxy, port)
    }

    @Test func tcpGoesRoundRobinRetriesDeadEndpointsAndPinsWithAffinity() throws {
        let servers = ["a", "b", "c"].map { Server($0) }
        let proxy = UserspaceProxy(threads: 2)
        defer { proxy.shutdown() }
        let web = Self.freePort(), flaky = Self.freePort(), sticky = Self.freePort(), dead = Self.freePort()
        let live = servers.map { ("127.0.0.1", Int($0.port)) }
        _ = try proxy.open([Self.plan([
            Self.portal("web", port: web, endpoints: live),
            Self.portal("flaky", port: flaky, endpoints: [("127.0.0.1", Self.deadPort()), live[0]]),
            Self.portal("sticky", port: sticky, endpoints: live, affinity: 60),
            Self.portal("dead", port: dead, endpoints: [("127.0.0.1", Self.deadPort())]),
        ])])
        let answers = try (0..<30).map { _ in try Self.ask(web) }
        #expect(Dictionary(grouping: answers, by: { $0 }).mapValues(\.count) == ["a": 10, "b": 10, "c": 10])
        #expect(try (0..<6).map { _ in try Self.ask(flaky) } == Array(repeating: "a", count: 6))
        #expect(Set(try (0..<6).map { _ in try Self.ask(sticky) }).count == 1)
        // Every dial refused: the client's connection is closed, unanswered.
        #expect(try Self.ask(dead) == "")
    }

    /// The proxy reads a client's first bytes while it is still dialling; they, and a
    /// half-close that came right behind them, must reach the endpoint that finally takes
    /// the connection, also after a refused dial.
    @Test func bytesAndAHalfCloseSentBeforeTheDialReachTheEndpoint() throws {
        let collector = Server("c", collect: true)
        let proxy = UserspaceProxy(threads: 2)
        defer { proxy.shutdown() }
        let port = Self.freePort()
        _ = try proxy.open([Self.plan([
            Self.portal("eager", port: port, endpoints: [("127.0.0.1", Self.deadPort()), ("127.0.0.1", Int(collector.port))]),
        ])])
        // Round robin starts each connection at the other endpoint: half of them are refused first.
        for _ in 0..<4 {
            let fd = try Self.connect(port)
            defer { close(fd) }
            for part in ["hello ", "world"] { #expect(send(fd, part, part.utf8.count, Int32(MSG_NOSIGNAL)) == part.utf8.count) }
            shutdown(fd, Int32(SHUT_WR))
            var reply: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 512)
            while case let n = recv(fd, &buffer, 512, 0), n > 0 { reply += buffer[0..<n] }
            #expect(String(decoding: reply, as: UTF8.self) == "c: hello world")
        }
    }

    @Test func endpointUpdatesLeaveOpenConnectionsAlone() throws {
        let a = Server("a", echo: true), b = Server("b", echo: true)
        let (proxy, port) = try Self.proxy("chat", endpoints: [("127.0.0.1", Int(a.port))])
        defer { proxy.shutdown() }
        let held = try Self.connect(port)
        defer { close(held) }
        #expect(Self.exchange(held, "hi") == "a: hi")
        let opened = try proxy.open([Self.plan([Self.portal("chat", port: port, endpoints: [("127.0.0.1", Int(b.port))])])])
        #expect(opened.count == 0 && opened.stale.isEmpty)
        let fresh = try Self.connect(port)
        defer { close(fresh) }
        #expect(Self.exchange(fresh, "new") == "b: new")
        #expect(Self.exchange(held, "still") == "a: still")
        // The service goes: the listener closes, the open connection carries on.
        let gone = try proxy.open([Self.plan([])])
        #expect(gone.stale.count == 1)
        proxy.close(gone.stale)
        #expect(throws: Failure.self) { _ = try Self.connect(port) }
        #expect(Self.exchange(held, "after") == "a: after")
    }

    @Test func udpSessionsRelayAndLeaveARemovedEndpoint() throws {
        let a = Server("a", udp: true), b = Server("b", udp: true)
        let proxy = UserspaceProxy(threads: 2, udpIdleTimeout: .seconds(30))
        defer { proxy.shutdown() }
        let port = Self.freePort()
        let endpoints = [("127.0.0.1", Int(a.port)), ("127.0.0.1", Int(b.port))]
        _ = try proxy.open([Self.plan([Self.portal("dns", port: port, proto: .udp, endpoints: endpoints)])])
        let client = try Self.connect(port, udp: true)
        defer { close(client) }
        let first = try #require(Self.exchange(client, "q"))
        // One client address is one session: the same endpoint every time.
        for _ in 0..<5 { #expect(Self.exchange(client, "q") == first) }
        let other = first == "a" ? b : a
        _ = try proxy.open([Self.plan([Self.portal("dns", port: port, proto: .udp, endpoints: [("127.0.0.1", Int(other.port))])])])
        #expect(Self.exchange(client, "q") == (first == "a" ? "b" : "a"))
    }

    @Test func bothFamiliesShareAPortAndATakenPortIsReported() throws {
        let v4 = Server("v4"), v6 = Server("v6", ipv6: true)
        let proxy = UserspaceProxy(threads: 1)
        defer { proxy.shutdown() }
        let port = Self.freePort()
        _ = try proxy.open([
            Self.plan([Self.portal("web", port: port, endpoints: [("127.0.0.1", Int(v4.port))])]),
            Self.plan([Self.portal("web", port: port, endpoints: [("::1", Int(v6.port))])], family: .ipv6),
        ])
        #expect(try Self.ask(port) == "v4")
        #expect(try Self.ask(port, ipv6: true) == "v6")

        // A port another socket holds: refused with the reason, and nothing else opened.
        let squatter = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(squatter) }
        let taken = Int(Server.bind(squatter, ipv6: false, port: 0))
        listen(squatter, 1)
        let spare = Self.freePort()
        let failure = #expect(throws: UserspaceProxy.BindFailure.self) {
            _ = try proxy.open([Self.plan([Self.portal("aaa", port: spare, endpoints: [("127.0.0.1", 1)]),
                                           Self.portal("zzz", port: taken, endpoints: [("127.0.0.1", 1)])])])
        }
        #expect(failure?.addressInUse == true && failure?.portal.proxyPort == taken, "\(String(describing: failure))")
        #expect(throws: Failure.self) { _ = try Self.connect(spare) }
        #expect(proxy.listenerCount == 2)
    }
}
