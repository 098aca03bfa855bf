import SeawayKernel
import CNetlink
import Glibc
import SeawayNet

/// What the kernel says about one network interface.
public struct Link: Sendable, Equatable {
    public enum OperationalState: UInt8, Sendable {
        case unknown = 0, notPresent = 1, down = 2, lowerLayerDown = 3, testing = 4, dormant = 5, up = 6
    }

    public var index: Int32
    public var name: String
    /// The rtnetlink kind: `bridge`, `veth`, `dummy`...; nil for a physical device.
    public var kind: String?
    public var mac: MACAddress?
    public var mtu: Int
    /// IFF_UP: administratively up.
    public var isUp: Bool
    public var isPromiscuous: Bool
    public var operationalState: OperationalState
    /// The bridge (or bond) this interface is a port of.
    public var masterIndex: Int32?
    /// IFLA_LINK: for a veth, its peer's index (in the peer's namespace).
    public var peerIndex: Int32?

    /// Reads libnl's parsed `rtnl_link`.
    init(_ l: OpaquePointer) {
        index = rtnl_link_get_ifindex(l)
        name = rtnl_link_get_name(l).map { String(cString: $0) } ?? ""
        kind = rtnl_link_get_type(l).map { String(cString: $0) }
        mac = rtnl_link_get_addr(l).flatMap { a in
            guard nl_addr_get_len(a) == 6, let raw = nl_addr_get_binary_addr(a) else { return nil }
            return MACAddress(bytes: Array(UnsafeRawBufferPointer(start: raw, count: 6)))
        }
        mtu = Int(rtnl_link_get_mtu(l))
        let flags = rtnl_link_get_flags(l)
        isUp = flags & UInt32(IFF_UP) != 0
        isPromiscuous = flags & UInt32(IFF_PROMISC) != 0
        operationalState = OperationalState(rawValue: rtnl_link_get_operstate(l)) ?? .unknown
        let master = rtnl_link_get_master(l)
        masterIndex = master > 0 ? master : nil
        let peer = rtnl_link_get_link(l)
        peerIndex = peer > 0 ? peer : nil
    }
}

extension RouteNetlink {
    /// The link called `name`, or nil when there is none.
    public func link(named name: String) throws(SystemError) -> Link? {
        try link(index: 0, name: name)
    }

    public func link(index: Int32) throws(SystemError) -> Link? {
        try link(index: index, name: nil)
    }

    private func link(index: Int32, name: String?) throws(SystemError) -> Link? {
        var result: OpaquePointer? = nil
        let rc = rtnl_link_get_kernel(socket, index, name, &result)
        if rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV { return nil }
        guard rc == 0, let result else {
            throw SystemError("look up link \(name ?? String(index))", errno: RouteNetlink.errno(fromLibnl: rc))
        }
        defer { rtnl_link_put(result) }
        return Link(result)
    }

    /// Creates a bridge. EEXIST is left to the caller (an existing bridge is often fine).
    /// With `vlanFiltering`, a kernel built without CONFIG_BRIDGE_VLAN_FILTERING answers
    /// EOPNOTSUPP, and the error says that is what it means.
    public func createBridge(name: String, mtu: Int?, vlanFiltering: Bool) throws(SystemError) {
        let m = linkMessage(RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL)
        m.put(Int32(IFLA_IFNAME), string: name)
        if let mtu, mtu > 0 { m.put(Int32(IFLA_MTU), u32: UInt32(mtu)) }
        m.nest(Int32(IFLA_LINKINFO)) {
            m.put(Int32(IFLA_INFO_KIND), string: "bridge")
            if vlanFiltering {
                m.nest(Int32(IFLA_INFO_DATA)) { m.put(Int32(IFLA_BR_VLAN_FILTERING), u8: 1) }
            }
        }
        do {
            try request(m, "create bridge \(name)")
        } catch where vlanFiltering && error.errno == EOPNOTSUPP {
            throw SystemError("create bridge \(name) with VLAN filtering", errno: EOPNOTSUPP,
                              kernelMessage: error.kernelMessage ?? "this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)")
        }
    }

    /// Creates a dummy device (kube-proxy's `kube-ipvs0`, which holds the service addresses
    /// in IPVS mode). A kernel built without CONFIG_DUMMY answers EOPNOTSUPP ("Unknown device
    /// type"), and the error says that is what it means.
    public func createDummy(name: String) throws(SystemError) {
        let m = linkMessage(RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL)
        m.put(Int32(IFLA_IFNAME), string: name)
        m.nest(Int32(IFLA_LINKINFO)) { m.put(Int32(IFLA_INFO_KIND), string: "dummy") }
        do {
            try request(m, "create dummy device \(name)")
        } catch where error.errno == EOPNOTSUPP {
            throw SystemError("create dummy device \(name)", errno: EOPNOTSUPP,
                              kernelMessage: "this kernel has no dummy devices (CONFIG_DUMMY)")
        }
    }

    /// Whether this kernel can filter VLANs on bridges (CONFIG_BRIDGE_VLAN_FILTERING): tries
    /// a throwaway bridge, so call it only where creating one is harmless.
    public func bridgeVLANFilteringSupported() throws(SystemError) -> Bool {
        let probe = "seaway-vlanprobe".prefix(15)
        do {
            try createBridge(name: String(probe), mtu: nil, vlanFiltering: true)
        } catch where error.errno == EOPNOTSUPP {
            return false
        }
        if let l = try link(named: String(probe)) { try delete(l) }
        return true
    }

    /// Creates a veth pair: `name` here, `peerName` directly inside `peerNamespace` (an open
    /// netns file descriptor). Creating the peer in place, rather than creating both ends
    /// here and moving one, costs about 7 ms instead of 20 on this kernel.
    public func createVeth(name: String, peerName: String, peerNamespace: Int32, mtu: Int?, peerMAC: MACAddress?) throws(SystemError) {
        let m = linkMessage(RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL)
        m.put(Int32(IFLA_IFNAME), string: name)
        if let mtu, mtu > 0 { m.put(Int32(IFLA_MTU), u32: UInt32(mtu)) }
        m.nest(Int32(IFLA_LINKINFO)) {
            m.put(Int32(IFLA_INFO_KIND), string: "veth")
            m.nest(Int32(IFLA_INFO_DATA)) {
                m.nest(Int32(VETH_INFO_PEER)) {
                    // The peer's attributes follow its own ifinfomsg inside the nest.
                    m.append(ifinfomsg())
                    m.put(Int32(IFLA_IFNAME), string: peerName)
                    m.put(Int32(IFLA_NET_NS_FD), u32: UInt32(peerNamespace))
                    if let mtu, mtu > 0 { m.put(Int32(IFLA_MTU), u32: UInt32(mtu)) }
                    if let peerMAC { peerMAC.bytes.withUnsafeBytes { m.put(Int32(IFLA_ADDRESS), bytes: $0) } }
                }
            }
        }
        try request(m, "create veth \(name) with peer \(peerName)")
    }

    public func setUp(_ link: Link, _ up: Bool = true) throws(SystemError) {
        let flag = UInt32(IFF_UP)
        try request(linkMessage(RTM_NEWLINK, index: link.index, setFlags: up ? flag : 0, changeFlags: flag),
                    "set \(link.name) \(up ? "up" : "down")")
    }

    public func setPromiscuous(_ link: Link, _ on: Bool) throws(SystemError) {
        let flag = UInt32(IFF_PROMISC)
        try request(linkMessage(RTM_NEWLINK, index: link.index, setFlags: on ? flag : 0, changeFlags: flag),
                    "set promiscuous mode \(on ? "on" : "off") on \(link.name)")
    }

    public func setMaster(_ link: Link, _ master: Link) throws(SystemError) {
        let m = linkMessage(RTM_NEWLINK, index: link.index)
        m.put(Int32(IFLA_MASTER), u32: UInt32(master.index))
        try request(m, "connect \(link.name) to bridge \(master.name)")
    }

    public func setMAC(_ link: Link, _ mac: MACAddress) throws(SystemError) {
        let m = linkMessage(RTM_NEWLINK, index: link.index)
        mac.bytes.withUnsafeBytes { m.put(Int32(IFLA_ADDRESS), bytes: $0) }
        try request(m, "set \(link.name)'s MAC address to \(mac)")
    }

    /// Hairpin mode of a bridge port (IFLA_BRPORT_MODE in the port's protocol info).
    public func setHairpin(_ link: Link, _ on: Bool) throws(SystemError) {
        let m = linkMessage(RTM_SETLINK, family: AF_BRIDGE, index: link.index)
        m.nest(Int32(IFLA_PROTINFO) | seaway_nla_flag_nested()) {
            m.put(Int32(IFLA_BRPORT_MODE), u8: on ? 1 : 0)
        }
        try request(m, "set hairpin mode \(on ? "on" : "off") on \(link.name)")
    }

    /// Adds VLAN `vid` to a bridge port (`bridge vlan add dev P vid V [pvid] [untagged] master`).
    public func addBridgeVLAN(_ link: Link, vid: UInt16, pvid: Bool, untagged: Bool) throws(SystemError) {
        try bridgeVLAN(RTM_SETLINK, link, vid: vid, pvid: pvid, untagged: untagged, "add VLAN \(vid) to \(link.name)")
    }

    public func deleteBridgeVLAN(_ link: Link, vid: UInt16) throws(SystemError) {
        try bridgeVLAN(RTM_DELLINK, link, vid: vid, pvid: false, untagged: false, "remove VLAN \(vid) from \(link.name)")
    }

    private func bridgeVLAN(_ type: Int, _ link: Link, vid: UInt16, pvid: Bool, untagged: Bool, _ operation: String) throws(SystemError) {
        let m = linkMessage(type, family: AF_BRIDGE, index: link.index)
        m.nest(Int32(IFLA_AF_SPEC)) {
            m.put(Int32(IFLA_BRIDGE_FLAGS), u16: UInt16(BRIDGE_FLAGS_MASTER))
            var info = bridge_vlan_info()
            info.vid = vid
            info.flags = (pvid ? UInt16(BRIDGE_VLAN_INFO_PVID) : 0) | (untagged ? UInt16(BRIDGE_VLAN_INFO_UNTAGGED) : 0)
            m.put(Int32(IFLA_BRIDGE_VLAN_INFO), value: info)
        }
        try request(m, operation)
    }

    public func delete(_ link: Link) throws(SystemError) {
        try request(linkMessage(RTM_DELLINK, index: link.index), "delete link \(link.name)")
    }
}
