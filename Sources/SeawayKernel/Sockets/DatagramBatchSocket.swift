import CSeawayKernel
import Glibc
import Synchronization

/// A bound UDP socket read and written a batch at a time (`recvmmsg` / `sendmmsg`), for
/// servers that answer many small datagrams: one system call moves up to a batch of them,
/// and nothing is allocated per datagram (the buffers are the batch's, made once).
///
/// Reads block until at least one datagram is there, then take what else has arrived
/// (`MSG_WAITFORONE`), so a lone query is answered at once and a burst in few calls.
/// `shutdown()` wakes a blocked read from another thread.
public final class DatagramBatchSocket: Sendable {
    public let descriptor: CInt
    /// The port bound (the kernel's choice when 0 was asked for).
    public let port: Int
    private let isShutDown = Atomic<Bool>(false)

    /// A socket bound to `host` (an address, or a name the resolver turns into one) and
    /// `port`. With `reusePort`, several sockets share the port and the kernel spreads
    /// clients over them (SO_REUSEPORT). `bufferBytes` sizes both kernel buffers: as root
    /// past `net.core.rmem_max` (SO_RCVBUFFORCE, as NSD does), otherwise up to it.
    public init(bindingTo host: String, port: Int, reusePort: Bool, bufferBytes: Int) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let info = found else {
            throw SystemError("resolve \(host): \(String(cString: gai_strerror(status)))", errno: EINVAL)
        }
        defer { freeaddrinfo(info) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.current("create a UDP socket for \(host):\(port)") }
        do {
            // No SO_REUSEADDR: UDP has no TIME_WAIT to step over, and on a datagram socket it
            // would let any other socket with it bind the same port and take queries.
            if reusePort { try setSocketOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT") }
            var size = CInt(clamping: bufferBytes)
            for (force, plain) in [(SO_RCVBUFFORCE, SO_RCVBUF), (SO_SNDBUFFORCE, SO_SNDBUF)] {
                if setsockopt(fd, SOL_SOCKET, force, &size, socklen_t(MemoryLayout<CInt>.size)) != 0 {
                    _ = setsockopt(fd, SOL_SOCKET, plain, &size, socklen_t(MemoryLayout<CInt>.size))
                }
            }
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                throw SystemError.current("bind UDP \(host):\(port)")
            }
            var bound = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { throw SystemError.current("read the address of UDP \(host):\(port)") }
            self.port = PeerAddress(bound, length: length).port
        } catch {
            close(fd)
            throw error
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Reads into `batch`, replacing what it held: waits for one datagram, takes up to the
    /// batch's capacity. Returns how many arrived; 0 once the socket is shut down.
    public func receive(into batch: DatagramBatch) throws -> Int {
        batch.prepareToReceive()
        while true {
            let n = seaway_recvmmsg(descriptor, batch.incoming, CUnsignedInt(batch.capacity), seaway_MSG_WAITFORONE, nil)
            // A shut-down socket reads as empty datagrams, as many as asked for.
            if isShutDown.load(ordering: .acquiring) { return 0 }
            if n >= 0 {
                batch.received = Int(n)
                return Int(n)
            }
            if errno == EINTR { continue }
            throw SystemError.current("receive on UDP port \(port)")
        }
    }

    /// Sends every reply queued in `batch` (see `DatagramBatch.queueReply`), then empties the
    /// queue. A reply the kernel refuses (the client's host unreachable, say) is dropped, as a
    /// lost datagram would be; the rest still go.
    public func sendQueued(_ batch: DatagramBatch) {
        var sent = 0
        while sent < batch.queued {
            let n = seaway_sendmmsg(descriptor, batch.outgoing + sent, CUnsignedInt(batch.queued - sent), 0)
            if n > 0 { sent += Int(n); continue }
            if n < 0, errno == EINTR { continue }
            // The first of the rest failed: skip it.
            sent += 1
        }
        batch.queued = 0
    }

    /// Sends one datagram to `peer` now (a reply that was not ready with its batch).
    public func send(_ bytes: UnsafeRawBufferPointer, to peer: PeerAddress) {
        var address = peer.storage
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, peer.length)
            }
        }
    }

    /// Wakes a thread blocked in `receive` (which then returns 0) and ends reading for good.
    public func shutdown() {
        isShutDown.store(true, ordering: .releasing)
        _ = Glibc.shutdown(descriptor, Int32(SHUT_RD))
    }
}

/// The buffers of one batch of datagrams: `capacity` requests of up to `datagramSize`
/// bytes each, their senders, and as many replies. Owned by one thread.
public final class DatagramBatch {
    public let capacity: Int
    public let datagramSize: Int
    /// How many datagrams the last `receive` read.
    public internal(set) var received = 0
    /// How many replies wait in `outgoing`.
    var queued = 0

    private let requestBytes: UnsafeMutableRawPointer
    private let replyBytes: UnsafeMutableRawPointer
    private let peers: UnsafeMutablePointer<sockaddr_storage>
    private let requestVectors: UnsafeMutablePointer<iovec>
    private let replyVectors: UnsafeMutablePointer<iovec>
    let incoming: UnsafeMutablePointer<seaway_mmsghdr>
    let outgoing: UnsafeMutablePointer<seaway_mmsghdr>

    public init(capacity: Int = 32, datagramSize: Int = 4096) {
        precondition(capacity > 0 && datagramSize > 0)
        self.capacity = capacity
        self.datagramSize = datagramSize
        requestBytes = .allocate(byteCount: capacity * datagramSize, alignment: 16)
        replyBytes = .allocate(byteCount: capacity * datagramSize, alignment: 16)
        peers = .allocate(capacity: capacity)
        peers.initialize(repeating: sockaddr_storage(), count: capacity)
        requestVectors = .allocate(capacity: capacity)
        replyVectors = .allocate(capacity: capacity)
        incoming = .allocate(capacity: capacity)
        outgoing = .allocate(capacity: capacity)
        for i in 0..<capacity {
            requestVectors[i] = iovec(iov_base: requestBytes + i * datagramSize, iov_len: datagramSize)
            replyVectors[i] = iovec(iov_base: nil, iov_len: 0)
        }
        incoming.initialize(repeating: seaway_mmsghdr(), count: capacity)
        outgoing.initialize(repeating: seaway_mmsghdr(), count: capacity)
    }

    deinit {
        requestBytes.deallocate()
        replyBytes.deallocate()
        peers.deallocate()
        requestVectors.deallocate()
        replyVectors.deallocate()
        incoming.deallocate()
        outgoing.deallocate()
    }

    /// The kernel overwrites the lengths on every read; the rest is set again too, so a
    /// read never sees what the previous one left.
    func prepareToReceive() {
        received = 0
        for i in 0..<capacity {
            incoming[i] = seaway_mmsghdr()
            incoming[i].msg_hdr.msg_name = UnsafeMutableRawPointer(peers + i)
            incoming[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            incoming[i].msg_hdr.msg_iov = requestVectors + i
            incoming[i].msg_hdr.msg_iovlen = 1
        }
    }

    /// Datagram `i` of the last read (cut to `datagramSize` if it was longer).
    public func request(_ i: Int) -> UnsafeRawBufferPointer {
        precondition(i < received)
        return UnsafeRawBufferPointer(start: requestBytes + i * datagramSize,
                                      count: min(Int(incoming[i].msg_len), datagramSize))
    }

    /// Whether datagram `i` was longer than the batch holds.
    public func wasTruncated(_ i: Int) -> Bool {
        incoming[i].msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0
    }

    /// Who sent datagram `i`.
    public func peer(_ i: Int) -> PeerAddress {
        PeerAddress(peers[i], length: incoming[i].msg_hdr.msg_namelen)
    }

    /// Where the reply to datagram `i` is written before `queueReply(to: i, length:)`.
    public func replySpace(_ i: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: replyBytes + i * datagramSize, count: datagramSize)
    }

    /// Queues the first `length` bytes of `replySpace(i)` for datagram `i`'s sender.
    public func queueReply(to i: Int, length: Int) {
        precondition(i < received && length <= datagramSize && queued < capacity)
        replyVectors[queued] = iovec(iov_base: replyBytes + i * datagramSize, iov_len: length)
        outgoing[queued] = seaway_mmsghdr()
        outgoing[queued].msg_hdr.msg_name = UnsafeMutableRawPointer(peers + i)
        outgoing[queued].msg_hdr.msg_namelen = incoming[i].msg_hdr.msg_namelen
        outgoing[queued].msg_hdr.msg_iov = replyVectors + queued
        outgoing[queued].msg_hdr.msg_iovlen = 1
        queued += 1
    }
}
