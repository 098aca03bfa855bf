import SeawayNet

/// One `ranges[i][j]` entry of host-local's config, filled in as host-local fills it:
/// `rangeStart` defaults to the subnet's address + 1, `rangeEnd` to its last address (less
/// the IPv4 broadcast), `gateway` to the subnet's address + 1.
public struct IPRange: Sendable, Equatable, CustomStringConvertible {
    /// The subnet as written: host-local keeps the address's host bits (`10.0.0.7/24` starts
    /// at .8), so this is not masked.
    public var subnetAddress: IPAddress
    public var prefixLength: Int
    public var rangeStart: IPAddress
    public var rangeEnd: IPAddress
    public var gateway: IPAddress

    public var subnet: CIDR { CIDR(network: subnetAddress, prefixLength: prefixLength) }

    /// Reads and checks one range; errors name `r.path`'s fields.
    public init(_ r: JSONReader) throws(CNIError) {
        guard let text = try r.string("subnet") else { throw CNIError(.invalidConfig, "\(r.at("subnet")): missing") }
        guard let slash = text.firstIndex(of: "/"), let address = IPAddress(strict: String(text[..<slash])),
              let prefix = Int(text[text.index(after: slash)...]), prefix >= 0, prefix <= address.family.bitLength
        else { throw CNIError(.invalidConfig, "\(r.at("subnet")): '\(text)' is not a CIDR") }
        subnetAddress = address
        prefixLength = prefix
        let subnet = CIDR(network: address, prefixLength: prefix)
        // A /31, /32, /127 or /128 has nothing to hand out.
        guard prefix <= address.family.bitLength - 2 else {
            throw CNIError(.invalidConfig, "\(r.at("subnet")): network \(subnet) is too small to allocate from")
        }
        gateway = try r.address("gateway") ?? address.next
        guard subnet.contains(gateway) else {
            throw CNIError(.invalidConfig, "\(r.at("gateway")): \(gateway) is not in network \(subnet)")
        }
        rangeStart = address.next
        rangeEnd = IPRange.lastAddress(subnet)
        if let start = try r.address("rangeStart") {
            try check(start, field: r.at("rangeStart"))
            rangeStart = start
        }
        if let end = try r.address("rangeEnd") {
            try check(end, field: r.at("rangeEnd"))
            rangeEnd = end
        }
        guard rangeStart <= rangeEnd else {
            throw CNIError(.invalidConfig, "\(r.at("rangeStart")): \(rangeStart) is after rangeEnd \(rangeEnd)")
        }
    }

    /// Whether `ip` may be handed out from this range: in the subnet, within start and end.
    public func contains(_ ip: IPAddress) -> Bool {
        subnet.contains(ip) && rangeStart <= ip && ip <= rangeEnd
    }

    func check(_ ip: IPAddress, field: String) throws(CNIError) {
        guard ip.family == subnetAddress.family else {
            throw CNIError(.invalidConfig, "\(field): \(ip) is not the same protocol as subnet \(subnet)")
        }
        guard subnet.contains(ip) else { throw CNIError(.invalidConfig, "\(field): \(ip) is not in network \(subnet)") }
    }

    func overlaps(_ other: IPRange) -> Bool {
        guard rangeStart.family == other.rangeStart.family else { return false }
        return contains(other.rangeStart) || contains(other.rangeEnd) || other.contains(rangeStart) || other.contains(rangeEnd)
    }

    /// The subnet's last address; for IPv4 the one before the broadcast.
    static func lastAddress(_ subnet: CIDR) -> IPAddress {
        let n = subnet.network, hostBits = n.family.bitLength - subnet.prefixLength
        switch n.family {
        case .ipv4:
            let last = UInt32(truncatingIfNeeded: n.low) | UInt32(truncatingIfNeeded: (UInt64(1) << UInt64(hostBits)) - 1)
            return IPAddress(v4: last &- 1)
        case .ipv6:
            let lowMask: UInt64 = hostBits >= 64 ? .max : (UInt64(1) << UInt64(hostBits)) - 1
            let highMask: UInt64 = hostBits <= 64 ? 0 : (hostBits == 128 ? .max : (UInt64(1) << UInt64(hostBits - 64)) - 1)
            return IPAddress(v6High: n.high | highMask, low: n.low | lowMask)
        }
    }

    public var description: String { "\(rangeStart)-\(rangeEnd)" }
}

/// One `ranges[i]`: ranges of one family, tried in order.
public struct IPRangeSet: Sendable, Equatable, CustomStringConvertible {
    public var ranges: [IPRange]

    public func contains(_ ip: IPAddress) -> Bool { ranges.contains { $0.contains(ip) } }
    public func range(for ip: IPAddress) -> IPRange? { ranges.first { $0.contains(ip) } }
    public var family: IPFamily { ranges[0].rangeStart.family }
    public var description: String { ranges.map(\.description).joined(separator: ",") }
}

extension IPAddress {
    /// The next address (wrapping at the end of the family's space).
    public var next: IPAddress {
        switch family {
        case .ipv4: return IPAddress(v4: UInt32(truncatingIfNeeded: low) &+ 1)
        case .ipv6:
            let (l, carry) = low.addingReportingOverflow(1)
            return IPAddress(v6High: carry ? high &+ 1 : high, low: l)
        }
    }
}
