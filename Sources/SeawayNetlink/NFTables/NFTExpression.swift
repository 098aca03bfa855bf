import SeawayKernel
import SeawayNet

/// One step of an nftables rule, as the kernel's virtual machine runs it: load something
/// into a register, compare or mask it, look it up, or decide. Data lives in register 1
/// unless an expression says otherwise (concatenations fill consecutive 32-bit registers).
public enum NFTExpression: Sendable, Equatable {
    /// A data register as the kernel numbers them: 1-4 are the 16-byte registers, 8-23 the
    /// 4-byte ones overlaying them (`nft` writes whichever names the start exactly).
    public typealias Register = UInt32

    public enum MetaKey: UInt32, Sendable {
        case mark = 3, iifname = 6, oifname = 7, nfproto = 15, l4proto = 16
    }
    public enum PayloadBase: UInt32, Sendable { case link = 0, network = 1, transport = 2 }
    public enum Comparison: UInt32, Sendable { case equal = 0, notEqual = 1 }
    public enum Verdict: Sendable, Equatable {
        case accept, drop, `return`
        case jump(String), goto(String)
    }
    /// Which address a `fib` lookup starts from.
    public enum FibAddress: UInt32, Sendable { case source = 1, destination = 2 }

    case meta(MetaKey, into: Register = 1)
    /// `meta KEY set` from register 1.
    case setMeta(MetaKey)
    /// `ct state` into register 1.
    case ctState
    case payload(PayloadBase, offset: UInt32, length: UInt32, into: Register = 1)
    case compare(Comparison, [UInt8])
    /// `register = register & mask ^ xor`, over mask.count bytes.
    case bitwise(mask: [UInt8], xor: [UInt8])
    case verdict(Verdict)
    /// A constant into a data register (a NAT target, for one).
    case immediate([UInt8], into: Register)
    /// Register 1 looked up in a set: the rule goes on when found (or, inverted, when not).
    case lookup(NFTSetReference, inverted: Bool = false)
    /// Register 1 looked up in a verdict map: the element's verdict is the rule's.
    case verdictMap(NFTSetReference)
    /// Register 1 looked up in a data map, the element's data into register 1; the rule
    /// stops when the key is not there.
    case dataMap(NFTSetReference)
    /// `numgen random mod N` into register 1.
    case randomNumber(modulus: UInt32)
    /// `fib saddr|daddr type` (the route's address type) into register 1.
    case fibAddressType(FibAddress)
    /// `reject`: an ICMP (or ICMPv6) port unreachable.
    case rejectPortUnreachable(IPFamily)
    /// `dnat to`: the address in register 1, the port (when given) in register 2.
    case dnat(IPFamily, withPort: Bool)
    /// `update @set { key }`: register 1 added to (or refreshed in) a dynamic set.
    case updateSet(NFTSetReference)
    case masquerade(fullyRandom: Bool = false)
    /// `redirect to :port`: to a local address, the port from register 1.
    case redirect
    case counter
}

/// A set or map a rule names: by name, and by the batch-local id of one created in the
/// same transaction (the kernel renames anonymous sets, so those are found by id).
public struct NFTSetReference: Sendable, Equatable {
    public var name: String
    public var id: UInt32?

    public init(_ name: String, id: UInt32? = nil) {
        self.name = name
        self.id = id
    }
}

/// The matches Seaway's rules are made of, each as the expressions `nft` itself generates
/// for it (so `nft list ruleset` prints them back as `ip saddr ...`).
public enum NFTMatch {
    /// A u32 as the kernel compares marks, ct state bits, route types and numgen values:
    /// in host byte order.
    public static func hostOrder(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    /// `meta nfproto ipv4|ipv6`: in the inet family a rule must say which IP it reads
    /// before it reads an IP header.
    public static func family(_ family: IPFamily) -> [NFTExpression] {
        [.meta(.nfproto), .compare(.equal, [family == .ipv4 ? 2 : 10])]
    }

    /// `ip saddr A` / `ip6 saddr A`.
    public static func source(_ address: IPAddress, _ comparison: NFTExpression.Comparison = .equal) -> [NFTExpression] {
        [addressLoad(address.family, source: true), .compare(comparison, address.networkBytes)]
    }

    /// `ip daddr N/len` (or `!=`).
    public static func destination(_ network: CIDR, _ comparison: NFTExpression.Comparison = .equal) -> [NFTExpression] {
        let family = network.network.family
        var out = [addressLoad(family, source: false)]
        let bits = network.prefixLength, length = family == .ipv4 ? 4 : 16
        if bits < length * 8 {
            out.append(.bitwise(mask: prefixMask(bits: bits, length: length), xor: [UInt8](repeating: 0, count: length)))
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

    /// `ip saddr` / `ip daddr` (or ip6) loaded into `register`: the whole address, or its
    /// first `length` bytes.
    public static func addressLoad(_ family: IPFamily, source: Bool, length: UInt32? = nil,
                                   into register: NFTExpression.Register = 1) -> NFTExpression {
        switch family {
        case .ipv4: .payload(.network, offset: source ? 12 : 16, length: length ?? 4, into: register)
        case .ipv6: .payload(.network, offset: source ? 8 : 24, length: length ?? 16, into: register)
        }
    }

    /// The netmask of a `bits`-long prefix over `length` bytes.
    public static func prefixMask(bits: Int, length: Int) -> [UInt8] {
        (0..<length).map { i -> UInt8 in
            let ones = max(0, min(8, bits - i * 8))
            return ones == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - ones))
        }
    }
}
