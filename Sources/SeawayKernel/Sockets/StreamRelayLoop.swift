import CSeawayKernel
import Dispatch
import Glibc
import Synchronization

/// One thread of a `StreamRelay`: an epoll set holding its listening sockets (level
/// triggered) and its connections' sockets (edge triggered, registered once each and never
/// modified), an eventfd through which other threads hand it commands, and the deadlines of
/// the dials under way. Everything but `commands` belongs to the loop's thread.
final class StreamRelayLoop: @unchecked Sendable {
    enum Command {
        case add(listener: Int, socket: CInt, route: any StreamRelayRoute)
        case remove(listener: Int, done: DispatchSemaphore)
        case stop
    }

    private let epoll: CInt
    private let wake: CInt
    private let commands = Mutex<[Command]>([])
    /// Nanoseconds per dial attempt.
    private let dialTimeouts: [UInt64]

    private struct Listening {
        var socket: CInt
        var route: any StreamRelayRoute
    }
    private var listeners: [Int: Listening] = [:]
    /// Listeners that ran out of descriptors or memory, not accepting until `acceptsResumeAt`.
    private var pausedListeners: [Int] = []
    private var acceptsResumeAt: UInt64 = 0
    private var connections: [RelayConnection?] = []
    private var freeSlots: [Int] = []
    private var generation: UInt32 = 0
    /// One queue per attempt: a queue's timeout is fixed, so its deadlines come in order.
    private var deadlines: [DeadlineQueue]
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private let eventCapacity = 64
    private let events: UnsafeMutablePointer<epoll_event>

    init(dialTimeouts: [Duration]) throws(SystemError) {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw .current("create an epoll set") }
        wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wake >= 0 else {
            let error = SystemError.current("create an eventfd")
            Glibc.close(epoll)
            throw error
        }
        self.dialTimeouts = dialTimeouts.map {
            UInt64($0.components.seconds) * 1_000_000_000 + UInt64($0.components.attoseconds / 1_000_000_000)
        }
        deadlines = Array(repeating: DeadlineQueue(), count: dialTimeouts.count)
        events = .allocate(capacity: eventCapacity)
        register(wake, token: Token.wake, events: EPOLLIN.rawValue)
    }

    deinit {
        scratch.deallocate()
        events.deallocate()
    }

    // MARK: Commands, from any thread

    func add(listener: Int, socket: CInt, route: any StreamRelayRoute) { send(.add(listener: listener, socket: socket, route: route)) }
    func remove(listener: Int, done: DispatchSemaphore) { send(.remove(listener: listener, done: done)) }
    func stop() { send(.stop) }

    private func send(_ command: Command) {
        commands.withLock { $0.append(command) }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    // MARK: The loop

    func run() {
        while true {
            let n = epoll_wait(epoll, events, Int32(eventCapacity), timeoutMilliseconds())
            if n < 0 && errno != EINTR { break }
            for i in 0..<max(0, Int(n)) {
                let token = events[i].data.u64
                let flags = events[i].events
                switch Token.kind(token) {
                case Token.wake:
                    if !takeCommands() {
                        tearDown()
                        return
                    }
                case Token.listener:
                    accept(on: Token.index(token))
                default:
                    event(flags, slot: Token.index(token), generation: Token.generation(token), onBackend: Token.kind(token) == Token.backend)
                }
            }
            expireDeadlines()
        }
        tearDown()
    }

    private func takeCommands() -> Bool {
        var count: UInt64 = 0
        _ = read(wake, &count, 8)
        let taken = commands.withLock { c in
            defer { c = [] }
            return c
        }
        for command in taken {
            switch command {
            case let .add(id, socket, route):
                listeners[id] = Listening(socket: socket, route: route)
                register(socket, token: Token.make(Token.listener, index: id, generation: 0), events: EPOLLIN.rawValue)
            case let .remove(id, done):
                if let l = listeners.removeValue(forKey: id) { Glibc.close(l.socket) }
                pausedListeners.removeAll { $0 == id }
                done.signal()
            case .stop:
                return false
            }
        }
        return true
    }

    private func tearDown() {
        for l in listeners.values { Glibc.close(l.socket) }
        listeners = [:]
        for case let c? in connections { c.close(reset: false) }
        connections = []
        // Whoever waits on a removal is let go; the listener is closed with the rest.
        for command in commands.withLock({ c in defer { c = [] }; return c }) {
            if case let .remove(_, done) = command { done.signal() }
        }
        Glibc.close(epoll)
        Glibc.close(wake)
    }

    private func accept(on id: Int) {
        guard let listener = listeners[id] else { return }
        for _ in 0..<32 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    seaway_accept4(listener.socket, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Level triggered, the listener would wake the loop at once again: it
                    // rests a moment instead, its clients waiting in the backlog.
                    pause(id, listener.socket)
                    return
                default: return
                }
            }
            noDelay(fd)
            let c = newConnection(client: fd, peer: PeerAddress(storage, length: length), route: listener.route)
            register(fd, token: Token.make(Token.client, index: c.slot, generation: c.generation), events: Self.edgeEvents)
            dial(c)
        }
    }

    private func pause(_ id: Int, _ socket: CInt) {
        // No events asked for (an error would still be reported, under the listener's token).
        var event = epoll_event()
        event.data.u64 = Token.make(Token.listener, index: id, generation: 0)
        _ = epoll_ctl(epoll, EPOLL_CTL_MOD, socket, &event)
        pausedListeners.append(id)
        acceptsResumeAt = Self.now() + 100_000_000
    }

    private func newConnection(client: CInt, peer: PeerAddress, route: any StreamRelayRoute) -> RelayConnection {
        generation &+= 1
        let slot = freeSlots.popLast() ?? {
            connections.append(nil)
            return connections.count - 1
        }()
        let c = RelayConnection(slot: slot, generation: generation, client: client, peer: peer, route: route)
        connections[slot] = c
        return c
    }

    private func event(_ flags: UInt32, slot: Int, generation: UInt32, onBackend: Bool) {
        guard slot < connections.count, let c = connections[slot], c.generation == generation else { return }
        let input = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
        if onBackend {
            if !c.connected {
                guard flags & (EPOLLOUT.rawValue | input) != 0 else { return }
                var error: CInt = 0
                var length = socklen_t(MemoryLayout<CInt>.size)
                let refused = getsockopt(c.backend.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0
                // Hung up with nothing to read: never connected.
                let hungUp = flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 && flags & EPOLLIN.rawValue == 0
                if refused || hungUp {
                    redial(c)
                    return
                }
                c.connected = true
            }
            if flags & input != 0 { c.backend.readable = true }
        } else {
            if flags & input != 0 { c.client.readable = true }
            if !c.connected {
                // The client gave up (a reset) while its dial was under way.
                if flags & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { finish(c, reset: true) }
                return
            }
        }
        if !c.pump(scratch: scratch) {
            finish(c, reset: true)
        } else if c.isFinished {
            finish(c, reset: false)
        }
    }

    /// Dials the connection's next endpoint; a dial that fails at once moves on to the one
    /// after. With no endpoint left the client is closed unanswered.
    private func dial(_ c: RelayConnection) {
        while c.attempt < dialTimeouts.count, let endpoint = c.route.endpoint(for: c.peer, attempt: c.attempt) {
            let fd = socket(endpoint.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { break }
            noDelay(fd)
            c.backend = RelaySide(fd: fd)
            if endpoint.withSockaddr({ connect(fd, $0, $1) }) == 0 || errno == EINPROGRESS {
                // Registered once connecting: a socket not yet connecting reads as hung up.
                register(fd, token: Token.make(Token.backend, index: c.slot, generation: c.generation), events: Self.edgeEvents)
                deadlines[c.attempt].append(DialDeadline(at: Self.now() + dialTimeouts[c.attempt], slot: c.slot,
                                                         generation: c.generation, attempt: c.attempt))
                return
            }
            Glibc.close(fd)
            c.backend = RelaySide()
            c.attempt += 1
        }
        finish(c, reset: false)
    }

    private func redial(_ c: RelayConnection) {
        Glibc.close(c.backend.fd)
        c.backend = RelaySide()
        c.attempt += 1
        dial(c)
    }

    private func finish(_ c: RelayConnection, reset: Bool) {
        c.close(reset: reset)
        connections[c.slot] = nil
        freeSlots.append(c.slot)
    }

    // MARK: Time

    /// Until the first deadline that still matters (-1: none); deadlines of dials that have
    /// since connected or moved on are dropped on the way.
    private func timeoutMilliseconds() -> Int32 {
        var first = UInt64.max
        for q in deadlines.indices {
            while let d = deadlines[q].first, dialing(d) == nil { deadlines[q].removeFirst() }
            if let d = deadlines[q].first { first = min(first, d.at) }
        }
        if !pausedListeners.isEmpty { first = min(first, acceptsResumeAt) }
        guard first != .max else { return -1 }
        let now = Self.now()
        return first <= now ? 0 : Int32(clamping: (first - now + 999_999) / 1_000_000)
    }

    private func dialing(_ d: DialDeadline) -> RelayConnection? {
        guard d.slot < connections.count, let c = connections[d.slot], c.generation == d.generation,
              !c.connected, c.attempt == d.attempt else { return nil }
        return c
    }

    private func expireDeadlines() {
        var now: UInt64 = 0
        for q in deadlines.indices {
            while let d = deadlines[q].first {
                if now == 0 { now = Self.now() }
                guard d.at <= now else { break }
                deadlines[q].removeFirst()
                if let c = dialing(d) { redial(c) }
            }
        }
        if !pausedListeners.isEmpty && Self.now() >= acceptsResumeAt {
            for id in pausedListeners {
                guard let l = listeners[id] else { continue }
                var event = epoll_event()
                event.events = EPOLLIN.rawValue
                event.data.u64 = Token.make(Token.listener, index: id, generation: 0)
                _ = epoll_ctl(epoll, EPOLL_CTL_MOD, l.socket, &event)
            }
            pausedListeners = []
        }
    }

    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    // MARK: epoll

    /// A connection's sockets report every change of readiness, once.
    private static let edgeEvents = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue

    private func register(_ fd: CInt, token: UInt64, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        _ = epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
    }

    /// Best effort: a socket without it still relays, only with Nagle's delays.
    private func noDelay(_ fd: CInt) {
        _ = try? setSocketOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, "TCP_NODELAY")
    }
}

/// What an epoll event's 64 bits name: the kind of socket (2 bits), a listener's id or a
/// connection's slot (30 bits), and the connection's generation (32 bits).
private enum Token {
    static let wake: UInt64 = 0, listener: UInt64 = 1, client: UInt64 = 2, backend: UInt64 = 3

    static func make(_ kind: UInt64, index: Int, generation: UInt32) -> UInt64 {
        kind | (UInt64(index) & 0x3fff_ffff) << 2 | UInt64(generation) << 32
    }

    static func kind(_ token: UInt64) -> UInt64 { token & 3 }
    static func index(_ token: UInt64) -> Int { Int((token >> 2) & 0x3fff_ffff) }
    static func generation(_ token: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: token >> 32) }
}

struct DialDeadline {
    var at: UInt64
    var slot: Int
    var generation: UInt32
    var attempt: Int
}

/// A first-in, first-out queue of deadlines that does not move its items on every removal.
struct DeadlineQueue {
    private var items: [DialDeadline] = []
    private var head = 0

    var first: DialDeadline? { head < items.count ? items[head] : nil }

    mutating func append(_ d: DialDeadline) { items.append(d) }

    mutating func removeFirst() {
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
