import CNetlink
import Glibc
import SeawayKernel
import SeawayNet

/// Reading what the kernel's IPVS family says: the services and real servers of a dump
/// (GET_SERVICE and GET_DEST replies carry the same nested attributes as the NEW_SERVICE and
/// NEW_DEST requests), so a sync can start from what the kernel already has.
extension IPVSMessages {
    /// `IPVS_CMD_GET_SERVICE`, to be sent as a dump: every virtual service.
    public static func getServices(family: UInt16) -> [UInt8] {
        message(.getService, family: family) { _ in }
    }

    /// `IPVS_CMD_GET_DEST`, to be sent as a dump: the real servers of `service`.
    public static func getDestinations(of service: IPVSService, family: UInt16) -> [UInt8] {
        message(.getDestination, family: family) { m in serviceAttributes(m, service, full: false) }
    }

    /// The address-and-port service a message describes; nil when it has none (a
    /// firewall-mark service, which kube-proxy never makes) or is not an IPVS message.
    public static func service(in message: [UInt8]) -> IPVSService? {
        guard let nest = NetlinkAttributes(genericMessage: message)?[Int(IPVS_CMD_ATTR_SERVICE)],
              let attributes = NetlinkAttributes(nest),
              let family = attributes.u16(Int(IPVS_SVC_ATTR_AF)),
              let address = attributes.address(Int(IPVS_SVC_ATTR_ADDR), family: family),
              let port = attributes.bigEndian16(Int(IPVS_SVC_ATTR_PORT)),
              let proto = attributes.u16(Int(IPVS_SVC_ATTR_PROTOCOL)).flatMap(IPVSService.TransportProtocol.init(rawValue:))
        else { return nil }
        var service = IPVSService(address: address, port: port, proto: proto,
                                  scheduler: attributes.string(Int(IPVS_SVC_ATTR_SCHED_NAME)) ?? "")
        let flags = attributes.u32(Int(IPVS_SVC_ATTR_FLAGS)) ?? 0
        if flags & UInt32(IP_VS_SVC_F_PERSISTENT) != 0 { service.persistenceSeconds = attributes.u32(Int(IPVS_SVC_ATTR_TIMEOUT)) ?? 0 }
        service.hashSourcePort = flags & UInt32(IP_VS_SVC_F_SCHED2) != 0
        return service
    }

    /// The real server a message describes.
    public static func destination(in message: [UInt8]) -> IPVSDestination? {
        guard let nest = NetlinkAttributes(genericMessage: message)?[Int(IPVS_CMD_ATTR_DEST)],
              let attributes = NetlinkAttributes(nest),
              let port = attributes.bigEndian16(Int(IPVS_DEST_ATTR_PORT))
        else { return nil }
        // Older kernels send no family of their own: the service's, which an address of
        // four non-zero bytes followed by zeros cannot tell; IPv4 unless the attribute says.
        let family = attributes.u16(Int(IPVS_DEST_ATTR_ADDR_FAMILY)) ?? UInt16(AF_INET)
        guard let address = attributes.address(Int(IPVS_DEST_ATTR_ADDR), family: family) else { return nil }
        return IPVSDestination(address: address, port: port, weight: attributes.u32(Int(IPVS_DEST_ATTR_WEIGHT)) ?? 1)
    }
}

/// The attributes of a netlink message or nest, read from bytes in host order (netlink's).
struct NetlinkAttributes {
    private var payloads: [Int: ArraySlice<UInt8>] = [:]

    /// The top-level attributes of a generic netlink message (after its netlink and genl headers).
    init?(genericMessage message: [UInt8]) {
        let headers = Int(seaway_nlmsg_align(Int32(MemoryLayout<nlmsghdr>.size))) + 4
        guard message.count >= headers else { return nil }
        self.init(message[headers...])
    }

    init?(_ bytes: ArraySlice<UInt8>) {
        var i = bytes.startIndex
        while i + 4 <= bytes.endIndex {
            let length = Int(bytes[i]) | Int(bytes[i + 1]) << 8
            // The two top bits are flags (nested, network byte order), not the type.
            let type = (Int(bytes[i + 2]) | Int(bytes[i + 3]) << 8) & 0x3FFF
            guard length >= 4, i + length <= bytes.endIndex else { return nil }
            payloads[type] = bytes[(i + 4)..<(i + length)]
            i += (length + 3) & ~3
        }
    }

    subscript(type: Int) -> ArraySlice<UInt8>? { payloads[type] }

    func u16(_ type: Int) -> UInt16? {
        guard let p = payloads[type], p.count >= 2 else { return nil }
        return UInt16(p[p.startIndex]) | UInt16(p[p.startIndex + 1]) << 8
    }

    func u32(_ type: Int) -> UInt32? {
        guard let p = payloads[type], p.count >= 4 else { return nil }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(p[p.startIndex + $1]) << (8 * $1) }
    }

    /// A port, kept in network order.
    func bigEndian16(_ type: Int) -> UInt16? {
        guard let p = payloads[type], p.count >= 2 else { return nil }
        return UInt16(p[p.startIndex]) << 8 | UInt16(p[p.startIndex + 1])
    }

    /// A NUL-terminated string.
    func string(_ type: Int) -> String? {
        payloads[type].map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// `union nf_inet_addr`: four bytes of it for AF_INET, sixteen for AF_INET6.
    func address(_ type: Int, family: UInt16) -> IPAddress? {
        guard let p = payloads[type] else { return nil }
        let size = family == UInt16(AF_INET) ? 4 : family == UInt16(AF_INET6) ? 16 : 0
        guard size > 0, p.count >= size else { return nil }
        return Array(p.prefix(size)).withUnsafeBytes { IPAddress(networkBytes: $0) }
    }
}

extension IPVSMessages {
    /// A message for people: its command and what it names (`NEW_DEST 10.244.1.5:8080 of
    /// tcp 10.96.0.10:80`), for errors.
    public static func describe(_ message: [UInt8]) -> String {
        let headers = Int(seaway_nlmsg_align(Int32(MemoryLayout<nlmsghdr>.size)))
        guard message.count > headers, let command = Command(rawValue: message[headers]) else { return "unknown message" }
        var text = "\(command)"
        if let d = destination(in: message) { text += " \(d.address.joined(port: Int(d.port))) of" }
        if let s = service(in: message) { text += " \(s.proto) \(s.address.joined(port: Int(s.port)))" }
        return text
    }
}
