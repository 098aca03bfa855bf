import SeawayNet
import SeawayNetlink

/// Translates the `nft -f` text Seaway renders (kube-proxy's nftables shape, full syncs and
/// partial ones) into netlink operations, each encoded the way `nft` 1.0 encodes it, so the
/// kernel holds exactly what `nft -f` of the same text would load: `nft list ruleset` prints
/// both alike, expression for expression.
///
/// This is not a general nft parser: it knows the commands, statements and set types the
/// renderer writes, and refuses anything else by line, so a renderer change that it cannot
/// carry fails loudly in tests rather than programming something else.
public struct NFTScript: Sendable {
    /// Operations compiled and not yet drained.
    private var transaction = NFTTransaction()
    /// Ids for sets created in this transaction (anonymous ones are found by id only).
    private var nextSetID: UInt32 = 1
    /// `add element` lines for one set, gathered into messages of several elements.
    private var pendingElements: (table: NFTTable, set: String, delete: Bool, elements: [NFTSetElement])?
    private var lineNumber = 0

    public init() {}

    /// Compiles `text`, handing the operations to `drain` line by line (with the number of
    /// the line that made them; grouped elements come with a later line), so that a big
    /// script never exists whole as operations.
    private mutating func compile(_ text: [UInt8], drain: (inout NFTTransaction, Int) -> Void) throws(NFTScriptError) {
        var start = 0
        while start < text.count {
            var end = start
            while end < text.count && text[end] != UInt8(ascii: "\n") { end += 1 }
            lineNumber += 1
            // `#` starts a comment line (the renderer heads each family's part with one).
            if end > start && text[start] != UInt8(ascii: "#") {
                let line = String(decoding: text[start..<end], as: UTF8.self)
                do throws(NFTScriptError.Reason) {
                    var tokens = NFTTokens(line)
                    try command(&tokens)
                } catch {
                    throw NFTScriptError(line: lineNumber, text: line, reason: error)
                }
                drain(&transaction, lineNumber)
            }
            start = end + 1
        }
        flushElements()
        drain(&transaction, lineNumber)
    }

    /// Compiles `text` (the next part of a script) straight into `batch`, each operation
    /// tagged with its line number in the script so far.
    public mutating func compile(_ text: [UInt8], into batch: inout NFTBatch) throws(NFTScriptError) {
        try compile(text) { transaction, line in
            for operation in transaction.operations { batch.append(operation, tag: UInt32(line)) }
            transaction.removeAll()
        }
    }

    /// Line `number` of `text` (1-based), for an error naming what the kernel refused.
    public static func line(_ number: Int, of text: [UInt8]) -> String {
        var n = 1, start = 0
        for (i, byte) in text.enumerated() where byte == UInt8(ascii: "\n") {
            if n == number { return String(decoding: text[start..<i], as: UTF8.self) }
            n += 1
            start = i + 1
        }
        return n == number ? String(decoding: text[start...], as: UTF8.self) : ""
    }

    // MARK: Commands

    private mutating func command(_ t: inout NFTTokens) throws(NFTScriptError.Reason) {
        let verb = try t.next()
        let object = try t.next()
        let table = NFTTable(try family(t.next()), try t.next())
        if !(verb == "add" && object == "element") && !(verb == "delete" && object == "element") { flushElements() }
        switch (verb, object) {
        case ("add", "table"):
            var comment: String? = nil
            if t.take("{") {
                try t.expect("comment")
                comment = try t.next()
                try t.expect(";")
                try t.expect("}")
            }
            transaction.add(NFTTable(table.family, table.name, comment: comment))
        case ("delete", "table"):
            transaction.delete(table)
        case ("add", "chain"):
            var chain = NFTChain(table, try t.next())
            if t.take("{") {
                if t.take("comment") {
                    chain.comment = try t.next()
                } else {
                    try t.expect("type")
                    let type = try t.next()
                    try t.expect("hook")
                    guard let hook = NFTScript.hooks[try t.next()] else { throw .init("unknown hook") }
                    try t.expect("priority")
                    guard let priority = Int32(try t.next()) else { throw .init("priority is not a number") }
                    chain.base = NFTChain.Base(type: type, hook: hook, priority: priority)
                }
                try t.expect(";")
                try t.expect("}")
            }
            transaction.add(chain)
        case ("flush", "chain"):
            transaction.flush(NFTChain(table, try t.next()))
        case ("delete", "chain"):
            transaction.delete(NFTChain(table, try t.next()))
        case ("add", "set"), ("add", "map"):
            transaction.append(.addSet(try namedSet(table, isMap: object == "map", &t)))
        case ("delete", "set"), ("delete", "map"):
            transaction.append(.deleteSet(table, try t.next()))
        case ("add", "rule"):
            let chain = NFTChain(table, try t.next())
            var rule = NFTRuleCompiler(table: table, firstSetID: nextSetID)
            try rule.compile(&t)
            nextSetID = rule.nextSetID
            for operation in rule.anonymousSets { transaction.append(operation) }
            transaction.add(NFTRule(chain, rule.expressions, comment: rule.comment))
        case ("add", "element"), ("delete", "element"):
            let name = try t.next()
            try t.expect("{")
            let delete = verb == "delete"
            repeat {
                let element = try self.element(&t, withValue: !delete)
                if let p = pendingElements, p.table != table || p.set != name || p.delete != delete || p.elements.count >= NFTScript.elementsPerMessage {
                    flushElements()
                }
                if pendingElements == nil { pendingElements = (table, name, delete, []) }
                pendingElements!.elements.append(element)
            } while t.take(",")
            try t.expect("}")
        default:
            throw .init("unsupported command")
        }
        guard t.atEnd else { throw .init("unexpected `\(t.peek ?? "")`") }
    }

    /// Elements per message: small enough that any message stays a few kilobytes.
    static let elementsPerMessage = 24

    private mutating func flushElements() {
        guard let p = pendingElements else { return }
        let ref = NFTSetReference(p.set)
        transaction.append(p.delete ? .deleteElements(p.table, ref, p.elements) : .addElements(p.table, ref, p.elements))
        pendingElements = nil
    }

    private static let hooks: [String: NFTChain.Base.Hook] = [
        "prerouting": .prerouting, "input": .input, "forward": .forward, "output": .output, "postrouting": .postrouting,
    ]

    private func family(_ name: String) throws(NFTScriptError.Reason) -> NFTFamily {
        switch name {
        case "ip": return .ip
        case "ip6": return .ip6
        case "inet": return .inet
        default: throw .init("unsupported family `\(name)`")
        }
    }

    // MARK: Sets and elements

    /// `{ type T [. T]* [: verdict|inet_service] ; [flags dynamic,timeout ;] [timeout Ns ;] [comment "C" ;] }`
    private mutating func namedSet(_ table: NFTTable, isMap: Bool, _ t: inout NFTTokens) throws(NFTScriptError.Reason) -> NFTSet {
        let name = try t.next()
        try t.expect("{")
        try t.expect("type")
        var types = [try NFTDataType(try t.next())]
        while t.take(".") { types.append(try NFTDataType(try t.next())) }
        var flags: NFTSet.Flags = []
        // A map's values: verdicts, or ports (the userspace mode's redirect targets).
        var values: NFTDataType? = nil
        if isMap {
            try t.expect(":")
            let value = try t.next()
            if value != "verdict" {
                values = try NFTDataType(value)
                guard values == .inetService else { throw .init("unsupported map value type `\(value)`") }
            }
            flags.insert(.map)
        }
        try t.expect(";")
        var timeout: UInt64? = nil
        var comment: String? = nil
        while !t.take("}") {
            switch try t.next() {
            case "flags":
                for f in try t.next().split(separator: ",") {
                    switch f {
                    case "dynamic": flags.insert(.dynamic)
                    case "timeout": flags.insert(.timeout)
                    case "interval": flags.insert(.interval)
                    default: throw .init("unsupported set flag `\(f)`")
                    }
                }
            case "timeout":
                let value = try t.next()
                guard value.hasSuffix("s"), let seconds = UInt64(value.dropLast()) else { throw .init("timeout `\(value)` is not whole seconds") }
                timeout = seconds * 1000
            case "comment":
                comment = try t.next()
            case let other:
                throw .init("unsupported set property `\(other)`")
            }
            try t.expect(";")
        }
        let concatenated = types.count > 1
        var set = NFTSet(table, name, id: takeSetID(), flags: flags,
                         keyType: types.reduce(0) { $0 << 6 | $1.rawValue },
                         keyLength: concatenated ? types.reduce(0) { $0 + ($1.length + 3) / 4 * 4 } : types[0].length)
        if isMap {
            set.dataType = values?.rawValue ?? NFTSet.verdictData
            set.dataLength = values?.length ?? 0
        }
        set.timeoutMilliseconds = timeout
        var udata = NFTSetUserData()
        // What `nft` records to print keys back: their byte order, and for concatenations
        // that the key is one (their parts come from the key type).
        udata.u32(.keyByteOrder, concatenated ? 0 : types[0].byteOrder)
        if isMap { udata.u32(.dataByteOrder, values?.byteOrder ?? 0) }
        if concatenated { udata.typeof(.keyTypeof, expression: NFTSetUserData.concatExpression, data: []) }
        if isMap { udata.u32(.dataInterval, 0) }
        if let comment { udata.string(.comment, comment) }
        set.userData = udata.bytes
        return set
    }

    private mutating func takeSetID() -> UInt32 {
        defer { nextSetID += 1 }
        return nextSetID
    }

    /// `KEY [comment "C"] [: VERDICT|PORT]`, the key's parts joined by ` . `.
    private func element(_ t: inout NFTTokens, withValue: Bool) throws(NFTScriptError.Reason) -> NFTSetElement {
        var key: [UInt8] = []
        repeat { key += try NFTScript.keyPart(try t.next()) } while t.take(".")
        var element = NFTSetElement(key: key)
        if t.take("comment") { element.comment = try t.next() }
        if withValue, t.take(":") {
            if let value = t.peek, let port = UInt16(value) {
                _ = try t.next()
                element.data = [UInt8(port >> 8), UInt8(port & 0xff)]
            } else {
                element.verdict = try NFTRuleCompiler.verdict(&t)
            }
        }
        return element
    }

    /// One part of a key: an address, a protocol name or a port number, each in network
    /// byte order and padded to a 32-bit register (kube-proxy's only single-part keys are
    /// addresses, which need no padding).
    static func keyPart(_ token: String) throws(NFTScriptError.Reason) -> [UInt8] {
        if let proto = NFTRuleCompiler.protocols[token] { return [proto, 0, 0, 0] }
        if let port = UInt16(token) { return [UInt8(port >> 8), UInt8(port & 0xff), 0, 0] }
        if let ip = IPAddress(token) { return ip.networkBytes }
        throw .init("unsupported key `\(token)`")
    }
}

/// A line of the script the compiler cannot carry to netlink.
public struct NFTScriptError: Error, Sendable, CustomStringConvertible {
    public struct Reason: Error, Sendable {
        public var text: String
        init(_ text: String) { self.text = text }
    }

    public var line: Int
    public var text: String
    public var reason: Reason

    public var description: String { "nftables script line \(line): \(reason.text): \(text)" }
}

/// The datatypes kube-proxy's sets use, with `nft`'s numbers for them.
enum NFTDataType: UInt32 {
    case integer = 4, ipv4Address = 7, ipv6Address = 8, inetProtocol = 12, inetService = 13

    init(_ name: String) throws(NFTScriptError.Reason) {
        switch name {
        case "ipv4_addr": self = .ipv4Address
        case "ipv6_addr": self = .ipv6Address
        case "inet_proto": self = .inetProtocol
        case "inet_service": self = .inetService
        default: throw .init("unsupported datatype `\(name)`")
        }
    }

    var length: UInt32 {
        switch self {
        case .integer: 4
        case .ipv4Address: 4
        case .ipv6Address: 16
        case .inetProtocol: 1
        case .inetService: 2
        }
    }

    /// `nft`'s byte order numbers: 1 host, 2 network (big endian).
    var byteOrder: UInt32 {
        switch self {
        case .integer: 1
        case .inetProtocol: 0
        default: 2
        }
    }
}

/// The type-length-value list `nft` keeps in a set's user data (libnftnl's udata format).
struct NFTSetUserData {
    enum Key: UInt8 {
        case keyByteOrder = 0, dataByteOrder = 1, mergeElements = 2, keyTypeof = 3, dataTypeof = 4, dataInterval = 6, comment = 7
    }

    /// `nft`'s expression type numbers, as its typeof records name them.
    static let verdictExpression: UInt32 = 1
    static let payloadExpression: UInt32 = 7
    static let concatExpression: UInt32 = 13

    private(set) var bytes: [UInt8] = []

    mutating func u32(_ key: Key, _ value: UInt32) { attribute(key.rawValue, NFTMatch.hostOrder(value)) }

    mutating func string(_ key: Key, _ value: String) { attribute(key.rawValue, Array(value.utf8.prefix(127)) + [0]) }

    /// A typeof record: the expression's type, then its own attributes.
    mutating func typeof(_ key: Key, expression: UInt32, data: [(UInt8, UInt32)]) {
        var nested = NFTSetUserData()
        nested.attribute(0, NFTMatch.hostOrder(expression))
        var inner = NFTSetUserData()
        for (k, v) in data { inner.attribute(k, NFTMatch.hostOrder(v)) }
        nested.attribute(1, inner.bytes)
        attribute(key.rawValue, nested.bytes)
    }

    private mutating func attribute(_ type: UInt8, _ value: [UInt8]) {
        bytes.append(type)
        bytes.append(UInt8(value.count))
        bytes += value
    }
}

/// The words of one script line; a quoted string is one token, without its quotes.
struct NFTTokens {
    private var tokens: [Substring]
    private var index = 0

    init(_ line: String) {
        tokens = []
        var quoted: Substring? = nil
        for word in line.split(separator: " ", omittingEmptySubsequences: true) {
            if let open = quoted {
                let joined = line[open.startIndex..<word.endIndex]
                if word.hasSuffix("\"") {
                    tokens.append(joined.dropFirst().dropLast())
                    quoted = nil
                } else {
                    quoted = joined
                }
            } else if word.hasPrefix("\"") {
                if word.count > 1 && word.hasSuffix("\"") { tokens.append(word.dropFirst().dropLast()) } else { quoted = word }
            } else {
                tokens.append(word)
            }
        }
        if let open = quoted { tokens.append(open.dropFirst()) }
    }

    var atEnd: Bool { index == tokens.count }
    var peek: String? { atEnd ? nil : String(tokens[index]) }

    mutating func next() throws(NFTScriptError.Reason) -> String {
        guard index < tokens.count else { throw .init("line ends early") }
        defer { index += 1 }
        return String(tokens[index])
    }

    /// Consumes the next token when it is `word`.
    mutating func take(_ word: String) -> Bool {
        guard index < tokens.count, tokens[index] == word else { return false }
        index += 1
        return true
    }

    mutating func expect(_ word: String) throws(NFTScriptError.Reason) {
        guard take(word) else { throw .init("expected `\(word)`, found `\(peek ?? "end of line")`") }
    }
}
