import SeawayNet
import SeawayNetlink

/// One `add rule` body as the expressions `nft` 1.0 generates for it, plus the anonymous
/// sets and maps (`{ ... }`, `vmap { ... }`) it creates along the way.
struct NFTRuleCompiler {
    typealias Reason = NFTScriptError.Reason

    let table: NFTTable
    private(set) var nextSetID: UInt32
    private(set) var expressions: [NFTExpression] = []
    /// addSet + addElements for each anonymous set, to precede the rule in the batch.
    private(set) var anonymousSets: [NFTTransaction.Operation] = []
    private(set) var comment: String?

    init(table: NFTTable, firstSetID: UInt32) {
        self.table = table
        nextSetID = firstSetID
    }

    private var family: IPFamily { table.family == .ip6 ? .ipv6 : .ipv4 }

    static let protocols: [String: UInt8] = ["tcp": 6, "udp": 17, "sctp": 132]

    mutating func compile(_ t: inout NFTTokens) throws(Reason) {
        while !t.atEnd {
            let word = try t.next()
            switch word {
            case "ct":
                try t.expect("state")
                try t.expect("new")
                // ct state is a bitmask; `new` is bit 3.
                expressions += [.ctState, .bitwise(mask: NFTMatch.hostOrder(8), xor: NFTMatch.hostOrder(0)), .compare(.notEqual, NFTMatch.hostOrder(0))]
            case "ip", "ip6":
                try addressMatch(word, &t)
            case "meta":
                try t.expect("l4proto")
                if t.take(".") {
                    try verdictMapLookup(first: .l4proto, &t)
                } else {
                    let name = try t.next()
                    guard let proto = NFTRuleCompiler.protocols[name] else { throw .init("unknown protocol `\(name)`") }
                    expressions += [.meta(.l4proto), .compare(.equal, [proto])]
                }
            case "mark":
                try markStatement(&t)
            case "iifname":
                let comparison: NFTExpression.Comparison = t.take("!=") ? .notEqual : .equal
                var name = Array(try t.next().utf8)
                if name.last == UInt8(ascii: "*") {
                    // A wildcard compares only the prefix.
                    name.removeLast()
                } else {
                    name += [UInt8](repeating: 0, count: max(0, 16 - name.count))
                }
                expressions += [.meta(.iifname), .compare(comparison, name)]
            case "fib":
                let address: NFTExpression.FibAddress
                switch try t.next() {
                case "saddr": address = .source
                case "daddr": address = .destination
                case let other: throw .init("unsupported fib input `\(other)`")
                }
                try t.expect("type")
                try t.expect("local")
                // RTN_LOCAL.
                expressions += [.fibAddressType(address), .compare(.equal, NFTMatch.hostOrder(2))]
            case "numgen":
                try randomVerdictMap(&t)
            case "update":
                let set = try t.next()
                guard set.hasPrefix("@") else { throw .init("expected a set after update") }
                try t.expect("{")
                let ipX = try t.next()
                try t.expect("saddr")
                try t.expect("}")
                expressions += [NFTMatch.addressLoad(ipX == "ip6" ? .ipv6 : .ipv4, source: true), .updateSet(NFTSetReference(String(set.dropFirst())))]
            case "dnat":
                try t.expect("to")
                try natTarget(try t.next())
            case "redirect":
                // `redirect to : KEY map @ports`: the port looked up, then the redirect.
                try t.expect("to")
                try t.expect(":")
                let first = try keyPart(try t.next(), &t)
                try t.expect(".")
                try concatenation(first: first, &t)
                try t.expect("map")
                let map = try t.next()
                guard map.hasPrefix("@") else { throw .init("expected a named map after map") }
                expressions += [.dataMap(NFTSetReference(String(map.dropFirst()))), .redirect]
            case "masquerade":
                expressions.append(.masquerade(fullyRandom: t.take("fully-random")))
            case "reject":
                expressions.append(.rejectPortUnreachable(family))
            case "jump", "goto", "drop", "return", "accept":
                expressions.append(.verdict(try NFTRuleCompiler.verdict(word, &t)))
            case "comment":
                comment = try t.next()
            default:
                throw .init("unsupported statement `\(word)`")
            }
        }
    }

    /// A verdict: `jump C`, `goto C`, `drop`, `return` or `accept`.
    static func verdict(_ t: inout NFTTokens) throws(Reason) -> NFTExpression.Verdict {
        try verdict(try t.next(), &t)
    }

    static func verdict(_ word: String, _ t: inout NFTTokens) throws(Reason) -> NFTExpression.Verdict {
        switch word {
        case "jump": return .jump(try t.next())
        case "goto": return .goto(try t.next())
        case "drop": return .drop
        case "return": return .return
        case "accept": return .accept
        default: throw .init("unsupported verdict `\(word)`")
        }
    }

    // MARK: Addresses

    /// `ip saddr|daddr` followed by `. ...` (a concatenation), `[!=] @set`, `[!=] { list }`
    /// or `[!=] ADDRESS[/LEN]`.
    private mutating func addressMatch(_ ipX: String, _ t: inout NFTTokens) throws(Reason) {
        let family: IPFamily = ipX == "ip6" ? .ipv6 : .ipv4
        let source: Bool
        switch try t.next() {
        case "saddr": source = true
        case "daddr": source = false
        case let other: throw .init("unsupported address field `\(other)`")
        }
        if t.take(".") {
            try verdictMapLookup(first: .address(family, source: source), &t)
            return
        }
        let inverted = t.take("!=")
        let comparison: NFTExpression.Comparison = inverted ? .notEqual : .equal
        if t.take("{") {
            var networks: [CIDR] = []
            repeat { networks.append(try NFTRuleCompiler.network(try t.next(), family)) } while t.take(",")
            try t.expect("}")
            if networks.count == 1 {
                // `nft` turns a one-element set into a plain comparison.
                prefixMatch(networks[0], source: source, comparison)
            } else {
                let set = intervalSet(networks, family: family, source: source)
                expressions += [NFTMatch.addressLoad(family, source: source), .lookup(set, inverted: inverted)]
            }
            return
        }
        let value = try t.next()
        if value.hasPrefix("@") {
            expressions += [NFTMatch.addressLoad(family, source: source), .lookup(NFTSetReference(String(value.dropFirst())), inverted: inverted)]
        } else {
            prefixMatch(try NFTRuleCompiler.network(value, family), source: source, comparison)
        }
    }

    static func network(_ text: String, _ family: IPFamily) throws(Reason) -> CIDR {
        guard let n = text.contains("/") ? CIDR(text) : IPAddress(text).map(CIDR.init(host:)), n.family == family else {
            throw .init("`\(text)` is not an \(family.rawValue) address or network")
        }
        return n
    }

    /// As `nft` matches a prefix: whole bytes by loading only those, other lengths through a
    /// mask over the full address.
    private mutating func prefixMatch(_ network: CIDR, source: Bool, _ comparison: NFTExpression.Comparison) {
        let bytes = network.network.networkBytes
        let bits = network.prefixLength
        if bits == bytes.count * 8 || bits % 8 == 0 {
            let length = bits / 8
            expressions += [NFTMatch.addressLoad(network.family, source: source, length: UInt32(length)),
                            .compare(comparison, Array(bytes.prefix(length)))]
        } else {
            expressions += [NFTMatch.addressLoad(network.family, source: source),
                            .bitwise(mask: NFTMatch.prefixMask(bits: bits, length: bytes.count), xor: [UInt8](repeating: 0, count: bytes.count)),
                            .compare(comparison, bytes)]
        }
    }

    /// An anonymous interval set holding `networks`, merged as `nft` merges them: each range
    /// opens with its first address and closes with an end marker just past its last (none
    /// past the top of the address space), after a marker at zero when nothing starts there.
    private mutating func intervalSet(_ networks: [CIDR], family: IPFamily, source: Bool) -> NFTSetReference {
        let width = family == .ipv4 ? 4 : 16
        let top: UInt128 = family == .ipv4 ? UInt128(UInt32.max) : .max
        var ranges = networks.map { n -> (low: UInt128, high: UInt128) in
            let low = UInt128(n.network.high) << 64 | UInt128(n.network.low)
            let hostBits = family.bitLength - n.prefixLength
            return (low, hostBits == 0 ? low : low | (hostBits == 128 ? .max : (UInt128(1) << hostBits) - 1))
        }.sorted { $0.low < $1.low }
        var merged: [(low: UInt128, high: UInt128)] = []
        for r in ranges {
            if let last = merged.last, last.high == top || r.low <= last.high + 1 {
                merged[merged.count - 1].high = max(last.high, r.high)
            } else {
                merged.append(r)
            }
        }
        ranges = merged
        func key(_ v: UInt128) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: v >> (8 * (width - 1 - $0))) } }
        var elements: [NFTSetElement] = []
        if ranges[0].low != 0 { elements.append(NFTSetElement(key: key(0), isIntervalEnd: true)) }
        for r in ranges {
            if r.high == top {
                // An open-ended range: flagged in the element's user data instead.
                elements.append(NFTSetElement(key: key(r.low), isOpenInterval: true))
            } else {
                elements.append(NFTSetElement(key: key(r.low)))
                elements.append(NFTSetElement(key: key(r.high + 1), isIntervalEnd: true))
            }
        }
        var set = NFTSet(table, "__set%d", id: takeSetID(), flags: [.anonymous, .constant, .interval],
                         keyType: family == .ipv4 ? NFTDataType.ipv4Address.rawValue : NFTDataType.ipv6Address.rawValue,
                         keyLength: UInt32(width))
        set.size = UInt32(elements.count)
        var udata = NFTSetUserData()
        udata.u32(.keyByteOrder, 2)
        udata.u32(.mergeElements, 1)
        // typeof: the payload field the key came from (nft's protocol and field numbers).
        let field: UInt32 = family == .ipv4 ? (source ? 11 : 12) : (source ? 8 : 9)
        udata.typeof(.keyTypeof, expression: NFTSetUserData.payloadExpression, data: [(0, family == .ipv4 ? 12 : 13), (1, field)])
        set.userData = udata.bytes
        anonymousSets.append(.addSet(set))
        anonymousSets.append(.addElements(table, set.reference, elements))
        return set.reference
    }

    private mutating func takeSetID() -> UInt32 {
        defer { nextSetID += 1 }
        return nextSetID
    }

    // MARK: Concatenations and maps

    enum KeyPart {
        case address(IPFamily, source: Bool)
        case l4proto
        case transportDestinationPort

        var length: UInt32 {
            switch self {
            case let .address(family, _): family == .ipv4 ? 4 : 16
            case .l4proto: 1
            case .transportDestinationPort: 2
            }
        }
    }

    /// One part of a concatenated key, from its first word on.
    private func keyPart(_ word: String, _ t: inout NFTTokens) throws(Reason) -> KeyPart {
        switch word {
        case "ip", "ip6":
            let family: IPFamily = word == "ip6" ? .ipv6 : .ipv4
            switch try t.next() {
            case "saddr": return .address(family, source: true)
            case "daddr": return .address(family, source: false)
            case let other: throw .init("unsupported address field `\(other)`")
            }
        case "meta":
            try t.expect("l4proto")
            return .l4proto
        case "th":
            try t.expect("dport")
            return .transportDestinationPort
        case let other:
            throw .init("unsupported concatenation part `\(other)`")
        }
    }

    /// `A . B [. C]*` (the first part and its dot already read): each part loaded into the
    /// next free 32-bit registers, as nft lays out a concatenated key.
    private mutating func concatenation(first: KeyPart, _ t: inout NFTTokens) throws(Reason) {
        var parts = [first]
        repeat { parts.append(try keyPart(try t.next(), &t)) } while t.take(".")
        var offset: UInt32 = 0
        for part in parts {
            // nft names a register by its 16-byte number when the part starts one.
            let register = offset % 4 == 0 ? 1 + offset / 4 : 8 + offset
            switch part {
            case let .address(family, source):
                expressions.append(NFTMatch.addressLoad(family, source: source, into: register))
            case .l4proto:
                expressions.append(.meta(.l4proto, into: register))
            case .transportDestinationPort:
                expressions.append(.payload(.transport, offset: 2, length: 2, into: register))
            }
            offset += (part.length + 3) / 4
        }
    }

    /// `A . B [. C]* vmap @map`.
    private mutating func verdictMapLookup(first: KeyPart, _ t: inout NFTTokens) throws(Reason) {
        try concatenation(first: first, &t)
        try t.expect("vmap")
        let map = try t.next()
        guard map.hasPrefix("@") else { throw .init("expected a named map after vmap") }
        expressions.append(.verdictMap(NFTSetReference(String(map.dropFirst()))))
    }

    /// `numgen random mod N vmap { 0 : V , 1 : V ... }`: an anonymous map from the random
    /// number (a host-order u32) to each verdict; or `numgen random mod N V`, a match on it.
    private mutating func randomVerdictMap(_ t: inout NFTTokens) throws(Reason) {
        try t.expect("random")
        try t.expect("mod")
        guard let modulus = UInt32(try t.next()), modulus > 0 else { throw .init("numgen modulus is not a positive number") }
        if let peek = t.peek, let value = UInt32(peek) {
            // `numgen random mod K V`: a match on the number (Seaway's compact shape).
            _ = try t.next()
            expressions += [.randomNumber(modulus: modulus), .compare(.equal, NFTMatch.hostOrder(value))]
            return
        }
        try t.expect("vmap")
        try t.expect("{")
        var elements: [NFTSetElement] = []
        repeat {
            guard let n = UInt32(try t.next()) else { throw .init("numgen map key is not a number") }
            try t.expect(":")
            elements.append(NFTSetElement(key: NFTMatch.hostOrder(n), verdict: try NFTRuleCompiler.verdict(&t)))
        } while t.take(",")
        try t.expect("}")
        var set = NFTSet(table, "__map%d", id: takeSetID(), flags: [.anonymous, .constant, .map],
                         keyType: NFTDataType.integer.rawValue, keyLength: 4)
        set.dataType = NFTSet.verdictData
        set.size = UInt32(elements.count)
        var udata = NFTSetUserData()
        udata.u32(.keyByteOrder, 1)
        udata.u32(.dataByteOrder, 0)
        udata.typeof(.dataTypeof, expression: NFTSetUserData.verdictExpression, data: [])
        udata.u32(.dataInterval, 0)
        set.userData = udata.bytes
        anonymousSets.append(.addSet(set))
        anonymousSets.append(.addElements(table, set.reference, elements))
        expressions += [.randomNumber(modulus: modulus), .verdictMap(set.reference)]
    }

    // MARK: Marks and NAT

    /// `mark set mark or|xor V` and `mark and V == W`.
    private mutating func markStatement(_ t: inout NFTTokens) throws(Reason) {
        func number(_ text: String) throws(Reason) -> UInt32 {
            let value = text.hasPrefix("0x") ? UInt32(text.dropFirst(2), radix: 16) : UInt32(text)
            guard let value else { throw .init("`\(text)` is not a number") }
            return value
        }
        let host = NFTMatch.hostOrder
        if t.take("set") {
            try t.expect("mark")
            let op = try t.next()
            let value = try number(try t.next())
            switch op {
            case "or": expressions += [.meta(.mark), .bitwise(mask: host(~value), xor: host(value)), .setMeta(.mark)]
            case "xor": expressions += [.meta(.mark), .bitwise(mask: host(UInt32.max), xor: host(value)), .setMeta(.mark)]
            default: throw .init("unsupported mark operation `\(op)`")
            }
        } else {
            try t.expect("and")
            let mask = try number(try t.next())
            try t.expect("==")
            let value = try number(try t.next())
            expressions += [.meta(.mark), .bitwise(mask: host(mask), xor: host(0)), .compare(.equal, host(value))]
        }
    }

    /// `dnat to A:P` or `dnat to [A6]:P`: the address into register 1, the port into 2.
    private mutating func natTarget(_ text: String) throws(Reason) {
        var address = Substring(text), port: Substring? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .init("unclosed IPv6 address") }
            address = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { port = rest.dropFirst() }
        } else if let colon = text.lastIndex(of: ":"), family == .ipv4 {
            address = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let ip = IPAddress(address), ip.family == family else { throw .init("`\(address)` is not an \(family.rawValue) address") }
        expressions.append(.immediate(ip.networkBytes, into: 1))
        if let port {
            guard let p = UInt16(port) else { throw .init("`\(port)` is not a port") }
            expressions.append(.immediate([UInt8(p >> 8), UInt8(p & 0xff)], into: 2))
        }
        expressions.append(.dnat(family, withPort: port != nil))
    }
}
