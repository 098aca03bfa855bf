import CNetlink
import SeawayKernel
import SeawayNet

/// An IPVS virtual service as the kernel's generic netlink family "IPVS" describes it.
public struct IPVSService: Sendable, Equatable {
    public enum TransportProtocol: UInt16, Sendable { case tcp = 6, udp = 17, sctp = 132 }

    public var address: IPAddress
    public var port: UInt16
    public var proto: TransportProtocol
    public var scheduler: String
    /// Session affinity (IP_VS_SVC_F_PERSISTENT) for this many seconds.
    public var persistenceSeconds: UInt32?
    /// IP_VS_SVC_F_SCHED2: `mh` and `sh` hash the source port too (kube-proxy sets it for mh).
    public var hashSourcePort = false

    public init(address: IPAddress, port: UInt16, proto: TransportProtocol, scheduler: String) {
        self.address = address
        self.port = port
        self.proto = proto
        self.scheduler = scheduler
    }
}

/// A real server (destination) of an IPVS service, NATed to (kube-proxy's masquerading mode).
public struct IPVSDestination: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    public var weight: UInt32

    public init(address: IPAddress, port: UInt16, weight: UInt32 = 1) {
        self.address = address
        self.port = port
        self.weight = weight
    }
}

/// The generic netlink messages that program IPVS (what ipvsadm and kube-proxy's IPVS
/// library send), built as bytes for a family id resolved at run time. Kept apart from any
/// socket so their layout can be tested on a kernel without IPVS.
public enum IPVSMessages {
    public enum Command: UInt8, Sendable {
        case newService = 1, setService = 2, deleteService = 3, getService = 4, newDestination = 5, deleteDestination = 7,
             getDestination = 8, flush = 17
    }

    /// `IPVS_CMD_NEW_SERVICE` for `service`.
    public static func newService(_ service: IPVSService, family: UInt16) -> [UInt8] {
        message(.newService, family: family) { m in serviceAttributes(m, service, full: true) }
    }

    /// `IPVS_CMD_SET_SERVICE`: an existing service's scheduler, flags and persistence changed.
    public static func setService(_ service: IPVSService, family: UInt16) -> [UInt8] {
        message(.setService, family: family) { m in serviceAttributes(m, service, full: true) }
    }

    public static func deleteService(_ service: IPVSService, family: UInt16) -> [UInt8] {
        message(.deleteService, family: family) { m in serviceAttributes(m, service, full: false) }
    }

    /// `IPVS_CMD_FLUSH`: every virtual server goes (kube-proxy's IPVS cleanup).
    public static func flush(family: UInt16) -> [UInt8] {
        message(.flush, family: family) { _ in }
    }

    /// `IPVS_CMD_NEW_DEST`: `destination` added to `service`.
    public static func newDestination(_ destination: IPVSDestination, of service: IPVSService, family: UInt16) -> [UInt8] {
        message(.newDestination, family: family) { m in
            serviceAttributes(m, service, full: false)
            destinationAttributes(m, destination) {
                put(m, Int32(IPVS_DEST_ATTR_FWD_METHOD), UInt32(IP_VS_CONN_F_MASQ))
                put(m, Int32(IPVS_DEST_ATTR_WEIGHT), destination.weight)
                put(m, Int32(IPVS_DEST_ATTR_U_THRESH), UInt32(0))
                put(m, Int32(IPVS_DEST_ATTR_L_THRESH), UInt32(0))
                put(m, Int32(IPVS_DEST_ATTR_ADDR_FAMILY), addressFamily(destination.address))
            }
        }
    }

    public static func deleteDestination(_ destination: IPVSDestination, of service: IPVSService, family: UInt16) -> [UInt8] {
        message(.deleteDestination, family: family) { m in
            serviceAttributes(m, service, full: false)
            destinationAttributes(m, destination) {}
        }
    }

    /// The destination's identity (address, port), then whatever `more` adds.
    private static func destinationAttributes(_ m: OpaquePointer, _ d: IPVSDestination, _ more: () -> Void) {
        nest(m, Int32(IPVS_CMD_ATTR_DEST)) {
            put(m, Int32(IPVS_DEST_ATTR_ADDR), address(d.address))
            put(m, Int32(IPVS_DEST_ATTR_PORT), bigEndian: d.port)
            more()
        }
    }

    // MARK: Encoding

    static func message(_ command: Command, family: UInt16, _ body: (OpaquePointer) -> Void) -> [UInt8] {
        let m = nlmsg_alloc()!
        defer { nlmsg_free(m) }
        _ = genlmsg_put(m, UInt32(NL_AUTO_PORT), UInt32(NL_AUTO_SEQ), Int32(family), 0,
                        Int32(NLM_F_REQUEST | NLM_F_ACK), command.rawValue, UInt8(IPVS_GENL_VERSION))
        body(m)
        let header = nlmsg_hdr(m)!
        return Array(UnsafeRawBufferPointer(start: header, count: Int(header.pointee.nlmsg_len)))
    }

    /// The service's identity (family, protocol, address, port), and with `full` how it
    /// schedules: the scheduler, flags, persistence and netmask.
    static func serviceAttributes(_ m: OpaquePointer, _ s: IPVSService, full: Bool) {
        nest(m, Int32(IPVS_CMD_ATTR_SERVICE)) {
            put(m, Int32(IPVS_SVC_ATTR_AF), addressFamily(s.address))
            put(m, Int32(IPVS_SVC_ATTR_PROTOCOL), s.proto.rawValue)
            put(m, Int32(IPVS_SVC_ATTR_ADDR), address(s.address))
            put(m, Int32(IPVS_SVC_ATTR_PORT), bigEndian: s.port)
            guard full else { return }
            put(m, Int32(IPVS_SVC_ATTR_SCHED_NAME), Array(s.scheduler.utf8) + [0])
            var flags: UInt32 = 0
            if s.persistenceSeconds != nil { flags |= UInt32(IP_VS_SVC_F_PERSISTENT) }
            if s.hashSourcePort { flags |= UInt32(IP_VS_SVC_F_SCHED2) }
            // struct ip_vs_flags { flags; mask }: the mask says which bits this sets.
            put(m, Int32(IPVS_SVC_ATTR_FLAGS), NFTMatch.hostOrder(flags) + NFTMatch.hostOrder(UInt32.max))
            put(m, Int32(IPVS_SVC_ATTR_TIMEOUT), s.persistenceSeconds ?? 0)
            // The persistence granularity: the whole address (a mask for IPv4, a prefix length
            // for IPv6, as the kernel reads them).
            put(m, Int32(IPVS_SVC_ATTR_NETMASK), s.address.family == .ipv4 ? UInt32.max : UInt32(128))
        }
    }

    /// `union nf_inet_addr`: 16 bytes, an IPv4 address in the first four.
    static func address(_ ip: IPAddress) -> [UInt8] {
        let bytes = ip.networkBytes
        return bytes + [UInt8](repeating: 0, count: 16 - bytes.count)
    }

    static func addressFamily(_ ip: IPAddress) -> UInt16 { UInt16(ip.family == .ipv4 ? AF_INET : AF_INET6) }


    private static func put(_ m: OpaquePointer, _ type: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = nla_put(m, type, Int32($0.count), $0.baseAddress) }
    }

    private static func put<T: FixedWidthInteger>(_ m: OpaquePointer, _ type: Int32, _ value: T) {
        withUnsafeBytes(of: value) { _ = nla_put(m, type, Int32($0.count), $0.baseAddress) }
    }

    /// A port in network byte order, as the kernel keeps it.
    private static func put(_ m: OpaquePointer, _ type: Int32, bigEndian value: UInt16) {
        put(m, type, value.bigEndian)
    }

    private static func nest(_ m: OpaquePointer, _ type: Int32, _ body: () -> Void) {
        let start = nla_nest_start(m, type)
        body()
        nla_nest_end(m, start)
    }
}
