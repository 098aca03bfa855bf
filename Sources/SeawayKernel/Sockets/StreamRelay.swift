import CSeawayKernel
import Dispatch
import Glibc
import SeawayNet
import Synchronization

/// Where a relay sends a new connection; asked once per dial attempt, on a relay thread.
public protocol StreamRelayRoute: AnyObject, Sendable {
    /// The endpoint for `client`'s dial number `attempt` (0 first; later ones follow a
    /// refused or timed-out dial), or nil to close the client unanswered.
    func endpoint(for client: PeerAddress, attempt: Int) -> PeerAddress?
}

/// A TCP relay: listening sockets whose connections are each dialled on to an endpoint the
/// listener's route picks, then spliced byte for byte, half-closes and resets passed across.
///
/// Every thread runs an epoll loop of its own, and every listener has one socket per loop on
/// the same port (SO_REUSEPORT), so a connection is accepted, dialled and carried on one
/// thread. Per connection that is one object, two `epoll_ctl` and no address look-ups:
/// the costs a general event-loop library's channels, pipelines and futures add per
/// connection are what this exists to avoid (docs/performance.md, the userspace proxy).
public final class StreamRelay: Sendable {
    /// An open listener (one socket per thread, all on `port`).
    public struct Listener: Sendable, Hashable {
        let id: Int
        public let port: Int
    }

    private let loops: [StreamRelayLoop]
    private let threads: Mutex<[pthread_t]>
    private let nextListener = Atomic<Int>(0)

    /// `threads` loops; a dial that has not connected after `dialTimeouts[attempt]` is
    /// given up and the route asked for the next attempt, until the list runs out.
    public init(threads: Int, dialTimeouts: [Duration]) throws(SystemError) {
        var loops: [StreamRelayLoop] = []
        for _ in 0..<max(1, threads) { loops.append(try StreamRelayLoop(dialTimeouts: dialTimeouts)) }
        var started: [pthread_t] = []
        for loop in loops {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(loop).toOpaque()
            let rc = pthread_create(&thread, nil, { context in
                let loop = Unmanaged<StreamRelayLoop>.fromOpaque(context!).takeRetainedValue()
                loop.run()
                return nil
            }, context)
            if rc != 0 {
                Unmanaged<StreamRelayLoop>.fromOpaque(context).release()
                for (loop, thread) in zip(loops, started) { loop.stop(); pthread_join(thread, nil) }
                throw SystemError("start a relay thread", errno: rc)
            }
            started.append(thread)
        }
        self.loops = loops
        self.threads = Mutex(started)
    }

    /// Listens on `port` of every address of `family` (IPv6: IPv6 only, so both families
    /// can share a port). The sockets are bound here, so a port in use fails here, with
    /// nothing left open.
    public func listen(family: IPFamily, port: Int, backlog: Int32 = 1024, route: any StreamRelayRoute) throws(SystemError) -> Listener {
        var sockets: [CInt] = []
        do {
            for _ in loops { sockets.append(try Self.listeningSocket(family: family, port: port, backlog: backlog)) }
        } catch {
            for fd in sockets { Glibc.close(fd) }
            throw error
        }
        let listener = Listener(id: nextListener.wrappingAdd(1, ordering: .relaxed).oldValue, port: port)
        for (loop, fd) in zip(loops, sockets) { loop.add(listener: listener.id, socket: fd, route: route) }
        return listener
    }

    /// Stops accepting on `listener`; returns once no thread does. Its connections carry on.
    public func close(_ listener: Listener) {
        // After a shutdown no thread would answer; the listeners went with it.
        guard threads.withLock({ !$0.isEmpty }) else { return }
        let done = DispatchSemaphore(value: 0)
        for loop in loops { loop.remove(listener: listener.id, done: done) }
        for _ in loops { done.wait() }
    }

    /// Closes every listener and connection and ends the threads; returns once they ended.
    public func shutdown() {
        let running = threads.withLock { t in
            defer { t = [] }
            return t
        }
        guard !running.isEmpty else { return }
        for loop in loops { loop.stop() }
        for thread in running { pthread_join(thread, nil) }
    }

    deinit { shutdown() }

    private static func listeningSocket(family: IPFamily, port: Int, backlog: Int32) throws(SystemError) -> CInt {
        let what = "TCP port \(port) (\(family.rawValue))"
        let fd = socket(family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .current("create a socket for \(what)") }
        do throws(SystemError) {
            try setSocketOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR on \(what)")
            try setSocketOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT on \(what)")
            if family == .ipv6 { try setSocketOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "IPV6_V6ONLY on \(what)") }
            let any = PeerAddress(ip: family == .ipv4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, low: 0), port: port)
            guard any.withSockaddr({ bind(fd, $0, $1) }) == 0 else { throw SystemError.current("bind \(what)") }
            guard Glibc.listen(fd, backlog) == 0 else { throw SystemError.current("listen on \(what)") }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }
}
