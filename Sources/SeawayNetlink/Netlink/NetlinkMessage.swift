import SeawayKernel
import CNetlink

/// A netlink request being built on libnl's `nl_msg`: a fixed header (`ifinfomsg`,
/// `ifaddrmsg`, `rtmsg`), then attributes, nested where the kernel expects nests.
final class NetlinkMessage {
    let message: OpaquePointer

    /// `type` is an RTM_* value (Swift imports them as Int), `flags` NLM_F_* bits.
    init(type: Int, flags: Int32 = 0) {
        // A page is plenty for any request the plugins build.
        message = nlmsg_alloc_simple(Int32(type), flags)
    }

    deinit { nlmsg_free(message) }

    /// The family header right after the netlink header.
    func append<Header>(_ header: Header) {
        var h = header
        _ = withUnsafeMutableBytes(of: &h) { nlmsg_append(message, $0.baseAddress, $0.count, Int32(NLMSG_ALIGNTO)) }
    }

    func put(_ type: Int32, bytes: UnsafeRawBufferPointer) {
        _ = nla_put(message, type, Int32(bytes.count), bytes.baseAddress)
    }

    func put<Value>(_ type: Int32, value: Value) {
        var v = value
        withUnsafeBytes(of: &v) { put(type, bytes: $0) }
    }

    func put(_ type: Int32, u8 value: UInt8) { put(type, value: value) }
    func put(_ type: Int32, u16 value: UInt16) { put(type, value: value) }
    func put(_ type: Int32, u32 value: UInt32) { put(type, value: value) }

    /// A NUL-terminated string, as the kernel wants names.
    func put(_ type: Int32, string: String) {
        var bytes = Array(string.utf8)
        bytes.append(0)
        bytes.withUnsafeBytes { put(type, bytes: $0) }
    }

    /// An attribute whose payload is the attributes `body` puts.
    func nest(_ type: Int32, _ body: () -> Void) {
        let start = nla_nest_start(message, type)
        body()
        nla_nest_end(message, start)
    }
}
