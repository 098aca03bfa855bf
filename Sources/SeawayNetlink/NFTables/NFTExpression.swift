import SeawayKernel
import SeawayNet

/// One step of an nftables rule, as the kernel's virtual machine runs it: load something
/// into a register, compare or mask it, or decide. Rules here use register 1 for data.
public enum NFTExpression: Sendable, Equatable {
    public enum MetaKey: UInt32, Sendable {
        case iifname = 6, oifname = 7, nfproto = 15, l4proto = 16
    }
    public enum PayloadBase: UInt32, Sendable { case link = 0, network = 1, transport = 2 }
    public enum Comparison: UInt32, Sendable { case equal = 0, notEqual = 1 }
    public enum Verdict: Sendable, Equatable {
        case accept, drop, `return`
        case jump(String), goto(String)
    }

    case meta(MetaKey)
    case payload(PayloadBase, offset: UInt32, length: UInt32)
    case compare(Comparison, [UInt8])
    /// `register = register & mask ^ xor`, over mask.count bytes.
    case bitwise(mask: [UInt8], xor: [UInt8])
    case verdict(Verdict)
    case masquerade
    case counter
}

/// The matches Seaway's rules are made of, each as the expressions `nft` itself generates
/// for it (so `nft list ruleset` prints them back as `ip saddr ...`).
public enum NFTMatch {
    /// `meta nfproto ipv4|ipv6`: in the inet family a rule must say which IP it reads
    /// before it reads an IP header.
    public static func family(_ family: IPFamily) -> [NFTExpression] {
        [.meta(.nfproto), .compare(.equal, [family == .ipv4 ? 2 : 10])]
    }

    /// `ip saddr A` / `ip6 saddr A`.
    public static func source(_ address: IPAddress, _ comparison: NFTExpression.Comparison = .equal) -> [NFTExpression] {
        [header(address.family, source: true), .compare(comparison, address.networkBytes)]
    }

    /// `ip daddr N/len` (or `!=`).
    public static func destination(_ network: CIDR, _ comparison: NFTExpression.Comparison = .equal) -> [NFTExpression] {
        let family = network.network.family
        var out = [header(family, source: false)]
        let bits = network.prefixLength, length = family == .ipv4 ? 4 : 16
        if bits < length * 8 {
            let mask = (0..<length).map { i -> UInt8 in
                let ones = max(0, min(8, bits - i * 8))
                return ones == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - ones))
            }
            out.append(.bitwise(mask: mask, xor: [UInt8](repeating: 0, count: length)))
        }
        out.append(.compare(comparison, network.network.networkBytes))
        return out
    }

    /// `iifname "name"`: the name padded to IFNAMSIZ, which makes it an exact match.
    public static func inputInterface(_ name: String) -> [NFTExpression] {
        var bytes = Array(name.utf8.prefix(15))
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        return [.meta(.iifname), .compare(.equal, bytes)]
    }

    /// `ether saddr M` (bridge family).
    public static func etherSource(_ mac: MACAddress) -> [NFTExpression] {
        [.payload(.link, offset: 6, length: 6), .compare(.equal, mac.bytes)]
    }

    static func header(_ family: IPFamily, source: Bool) -> NFTExpression {
        switch family {
        case .ipv4: .payload(.network, offset: source ? 12 : 16, length: 4)
        case .ipv6: .payload(.network, offset: source ? 8 : 24, length: 16)
        }
    }
}
