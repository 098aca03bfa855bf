#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SeawayDNS
import SeawayKernel

/// Answers the queries of one UDP socket on a thread of its own, a batch at a time: one
/// `recvmmsg` reads up to 32 queries, everyday ones are answered from the precompiled table
/// straight into the batch's reply buffers, and one `sendmmsg` sends the replies. Nothing is
/// allocated for those, which is what lets the server keep up with NSD (NIO's datagram
/// channel cost an envelope, a buffer and an address string per query).
///
/// Everything else takes `QueryProcessor.process` as TCP does; what the upstream answers is
/// finished on `upstreamLoop` and sent from there, on its own.
final class UDPQueryLoop {
    private let socket: DatagramBatchSocket
    /// The socket's processor as `run` starts; `run` keeps its own copy in a local, whose
    /// exclusive access the compiler proves statically (a class's stored `var` is checked
    /// at run time, once per query).
    private let processor: QueryProcessor
    private let upstreamLoop: any EventLoop
    private let batch = DatagramBatch(capacity: 32, datagramSize: 4096)

    init(socket: DatagramBatchSocket, processor: QueryProcessor, upstreamLoop: any EventLoop) {
        self.socket = socket
        self.processor = processor
        self.upstreamLoop = upstreamLoop
    }

    /// Serves until the socket is shut down.
    func run() {
        var processor = self.processor
        while true {
            let count: Int
            do {
                count = try socket.receive(into: batch)
            } catch let error as SystemError where error.errno == EBADF {
                return
            } catch {
                // ENOMEM and the like pass; the next read tries again.
                continue
            }
            if count == 0 { return }
            for i in 0..<count { answer(i, with: &processor) }
            socket.sendQueued(batch)
        }
    }

    private func answer(_ i: Int, with processor: inout QueryProcessor) {
        let request = batch.request(i)
        let peer = batch.peer(i)
        let space = batch.replySpace(i)
        if !batch.wasTruncated(i), let length = processor.precompiledReply(to: request, fromIPv6: peer.isIPv6, into: space) {
            batch.queueReply(to: i, length: length)
            return
        }
        switch processor.process(ByteBuffer(bytes: request), from: SocketAddress(peer), on: upstreamLoop) {
        case .none:
            break
        case let .now(reply):
            reply.withUnsafeReadableBytes { bytes in
                if bytes.count <= space.count {
                    space.copyMemory(from: bytes)
                    batch.queueReply(to: i, length: bytes.count)
                } else {
                    socket.send(bytes, to: peer)
                }
            }
        case let .later(future):
            let socket = socket
            future.whenSuccess { reply in reply.withUnsafeReadableBytes { socket.send($0, to: peer) } }
        }
    }
}

extension SocketAddress {
    /// A datagram sender as NIO names it (for the query log and the upstream paths).
    init(_ peer: PeerAddress) {
        var storage = peer.storage
        self = withUnsafeBytes(of: &storage) { raw in
            if peer.isIPv6 { return SocketAddress(raw.loadUnaligned(as: sockaddr_in6.self)) }
            return SocketAddress(raw.loadUnaligned(as: sockaddr_in.self))
        }
    }
}
