import NIOCore
import SeawayDNS

/// DNS over TCP: each message preceded by its length in two bytes (RFC 1035 4.2.2).
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length: UInt16 = buffer.getInteger(at: buffer.readerIndex),
              buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

extension ByteBuffer {
    /// Writes `message` with its two-byte length prefix.
    mutating func writeDNSFrame(_ message: DNSMessage, maxSize: Int = 65535) {
        let lengthAt = writerIndex
        writeInteger(UInt16(0))
        let start = writerIndex
        message.write(into: &self, maxSize: maxSize)
        setInteger(UInt16(writerIndex - start), at: lengthAt)
    }
}
