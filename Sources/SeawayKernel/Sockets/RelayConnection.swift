import Glibc

/// One side of a relayed connection: its socket, whether it may have input not read yet
/// (edge-triggered epoll reports only changes), and the bytes read from the other side that
/// its socket has not taken yet.
struct RelaySide {
    var fd: CInt = -1
    var readable = false
    /// Its input reached end of file (the peer's half-close or close).
    var inputEnded = false
    /// Its output was shut, passing on the other side's end of file.
    var outputShut = false
    var pending: [UInt8] = []
    var pendingOffset = 0

    var hasPending: Bool { pendingOffset < pending.count }

    /// Moves bytes from `from` to `to` until a socket would block, passing `from`'s end of
    /// file on as a shutdown of `to`'s output once everything before it went. Reading stops
    /// while `to` holds bytes it did not take (backpressure). False when a socket failed
    /// (a reset, say): the connection is to be reset.
    static func move(from: inout RelaySide, to: inout RelaySide, scratch: UnsafeMutableRawBufferPointer) -> Bool {
        while true {
            if to.hasPending {
                let n = to.pending.withUnsafeBytes { bytes in
                    send(to.fd, bytes.baseAddress! + to.pendingOffset, bytes.count - to.pendingOffset, Int32(MSG_NOSIGNAL))
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno == EAGAIN
                }
                to.pendingOffset += n
                if !to.hasPending {
                    to.pending = []
                    to.pendingOffset = 0
                }
                continue
            }
            if from.inputEnded {
                if !to.outputShut {
                    to.outputShut = true
                    _ = shutdown(to.fd, Int32(SHUT_WR))
                }
                return true
            }
            guard from.readable else { return true }
            let n = read(from.fd, scratch.baseAddress, scratch.count)
            if n > 0 {
                let sent = send(to.fd, scratch.baseAddress, n, Int32(MSG_NOSIGNAL))
                if sent == n { continue }
                if sent < 0, errno != EAGAIN, errno != EINTR { return false }
                // What the socket did not take waits; the loop comes back with its writability.
                to.pending = Array(UnsafeRawBufferPointer(rebasing: scratch[max(sent, 0)..<n]))
                to.pendingOffset = 0
                continue
            }
            if n == 0 {
                from.inputEnded = true
                continue
            }
            if errno == EINTR { continue }
            if errno == EAGAIN {
                from.readable = false
                return true
            }
            return false
        }
    }
}

/// An accepted client and the endpoint it is dialled, then spliced, to. Owned by the loop
/// that accepted it; `generation` tells its events from those of an earlier connection in
/// the same slot.
final class RelayConnection {
    let slot: Int
    let generation: UInt32
    let peer: PeerAddress
    let route: any StreamRelayRoute
    var client: RelaySide
    var backend = RelaySide()
    /// The dial under way or done: the index into the relay's dial timeouts.
    var attempt = 0
    var connected = false

    init(slot: Int, generation: UInt32, client: CInt, peer: PeerAddress, route: any StreamRelayRoute) {
        self.slot = slot
        self.generation = generation
        self.client = RelaySide(fd: client)
        self.peer = peer
        self.route = route
    }

    /// Both directions ended and everything was delivered.
    var isFinished: Bool {
        client.inputEnded && backend.inputEnded && !client.hasPending && !backend.hasPending
    }

    /// Moves what can move both ways; false when the connection is to be reset.
    func pump(scratch: UnsafeMutableRawBufferPointer) -> Bool {
        RelaySide.move(from: &client, to: &backend, scratch: scratch)
            && RelaySide.move(from: &backend, to: &client, scratch: scratch)
    }

    /// Closes both sockets; with `reset`, each with an RST rather than a FIN (SO_LINGER 0),
    /// passing a reset or failure on to the side that did not see it.
    func close(reset: Bool) {
        Self.close(client.fd, reset: reset)
        Self.close(backend.fd, reset: reset)
        client.fd = -1
        backend.fd = -1
    }

    private static func close(_ fd: CInt, reset: Bool) {
        guard fd >= 0 else { return }
        if reset {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        Glibc.close(fd)
    }
}
