import SeawayModel

/// The part of a CoreDNS Corefile that clusters actually use, read into Seaway's settings:
/// the server block's port, the `kubernetes` block, `forward`, `cache`, `health`, `ready`,
/// `prometheus`, `errors` and `log`. Plugins that change nothing here (`loop`, `reload`,
/// `loadbalance`, `bind`, ...) are accepted and listed in `ignored`.
public struct Corefile: Sendable {
    public struct Error: Swift.Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    public struct Address: Sendable, Hashable {
        public var host: String
        public var port: Int
    }

    /// CoreDNS's `cache` settings.
    public struct Cache: Sendable, Hashable {
        public var successCapacity = 9984
        public var denialCapacity = 9984
        public var maxSuccessTTL: UInt32 = 3600
        public var maxDenialTTL: UInt32 = 1800
        public var minTTL: UInt32 = 5
    }

    /// The server block's port (`.:53`), if it names one.
    public var port: Int?
    /// `kubernetes` zones (those of the plugin line, else the server block's).
    public var zones: [DNSName] = []
    public var pods: KubernetesDNSOptions.PodMode?
    public var ttl: UInt32?
    public var namespaces: Set<String> = []
    public var ignoreEmptyService = false
    public var endpointPodNames = false
    public var fallthroughZones: [DNSName]?
    public var upstream: Address?
    public var cache: Cache?
    public var httpListeners: [Address] = []
    public var logQueries = false
    /// Plugins and options read but without effect here, as `line: name`.
    public var ignored: [String] = []

    /// Reads `text`; `resolvConf` supplies `forward . /etc/resolv.conf`'s nameserver.
    public init(text: String, file: String, resolvConf: (String) -> String? = { _ in nil }) throws {
        var parser = CorefileParser(text: text, file: file)
        let blocks = try parser.blocks()
        guard let block = blocks.first(where: { $0.keys.contains { $0.hasPrefix(".") } }) ?? blocks.first else {
            throw Error(file: file, line: 1, message: "no server block")
        }
        var blockZones: [String] = []
        for key in block.keys {
            var zone = key
            if let scheme = zone.range(of: "://") { zone = String(zone[scheme.upperBound...]) }
            if let colon = zone.lastIndex(of: ":") {
                guard let p = Int(zone[zone.index(after: colon)...]) else { throw Error(file: file, line: block.line, message: "bad port in '\(key)'") }
                port = p
                zone = String(zone[..<colon])
            }
            blockZones.append(zone)
        }
        for d in block.directives { try apply(d, blockZones: blockZones, file: file, resolvConf: resolvConf) }
        if zones.isEmpty {
            zones = blockZones.filter { $0 != "." }.compactMap { DNSName($0) }
        }
    }

    private mutating func apply(_ d: CorefileParser.Directive, blockZones: [String], file: String,
                                resolvConf: (String) -> String?) throws {
        func fail(_ message: String, _ line: Int = d.line) -> Error { Error(file: file, line: line, message: message) }
        func address(_ text: String, defaultHost: String) throws -> Address {
            let colon = text.lastIndex(of: ":")
            let host = colon.map { String(text[..<$0]) } ?? text
            guard let port = Int(colon.map { String(text[text.index(after: $0)...]) } ?? "") else { throw fail("'\(text)' needs a port") }
            return Address(host: host.isEmpty ? defaultHost : (host == "localhost" ? "127.0.0.1" : host), port: port)
        }
        switch d.name {
        case "kubernetes":
            zones = try d.args.map { guard let z = DNSName($0) else { throw fail("'\($0)' is not a zone") }; return z }
            for sub in d.block {
                switch sub.name {
                case "pods":
                    guard sub.args.count == 1, let mode = KubernetesDNSOptions.PodMode(rawValue: sub.args[0]) else {
                        throw fail("pods takes one of disabled, insecure, verified", sub.line)
                    }
                    pods = mode
                case "ttl":
                    guard sub.args.count == 1, let t = UInt32(sub.args[0]), t <= KubernetesDNSOptions.maximumTTL else {
                        throw fail("ttl takes a number of seconds from 0 to 3600", sub.line)
                    }
                    ttl = t
                case "namespaces":
                    namespaces = Set(sub.args)
                case "ignore":
                    guard sub.args == ["empty_service"] else { throw fail("ignore takes empty_service", sub.line) }
                    ignoreEmptyService = true
                case "endpoint_pod_names":
                    endpointPodNames = true
                case "fallthrough":
                    fallthroughZones = try sub.args.map { guard let z = DNSName($0) else { throw fail("'\($0)' is not a zone", sub.line) }; return z }
                case "labels", "namespace_labels", "noendpoints", "multicluster", "apex", "zonal", "terminating_endpoints":
                    throw fail("kubernetes option '\(sub.name)' is not supported by seaway", sub.line)
                default:
                    // endpoint, tls, kubeconfig, resyncperiod...: how CoreDNS reaches the API server.
                    ignored.append("\(sub.line): kubernetes \(sub.name)")
                }
            }
        case "forward":
            guard d.args.count >= 2 else { throw fail("forward takes FROM TO...") }
            var target = d.args[1]
            if target.hasPrefix("/") {
                guard let text = resolvConf(target), let ns = Corefile.nameserver(in: text) else {
                    // Not fatal: cluster names are still answered; say so loudly.
                    ignored.append("\(d.line): forward: no nameserver in \(target), so nothing is forwarded")
                    return
                }
                target = ns
            }
            if target.hasPrefix("dns://") { target.removeFirst(6) }
            guard !target.contains("://") else { throw fail("forward to '\(d.args[1])': only plain DNS upstreams are supported") }
            if IPAddress(target) != nil {
                upstream = Address(host: target, port: 53)
            } else if target.hasPrefix("["), let close = target.firstIndex(of: "]") {
                upstream = Address(host: String(target[target.index(after: target.startIndex)..<close]),
                                   port: Int(target[target.index(after: close)...].dropFirst()) ?? 53)
            } else {
                upstream = try address(target, defaultHost: "127.0.0.1")
            }
            if d.args.count > 2 { ignored.append("\(d.line): forward: upstreams after the first") }
        case "cache":
            var c = Cache()
            if let first = d.args.first {
                guard let t = UInt32(first) else { throw fail("cache takes a TTL in seconds") }
                c.maxSuccessTTL = t
                c.maxDenialTTL = t
            }
            for sub in d.block {
                switch sub.name {
                case "success", "denial":
                    let n = sub.args.compactMap { Int($0) }
                    guard n.count == sub.args.count, (1...3).contains(n.count) else { throw fail("\(sub.name) takes CAPACITY [TTL [MINTTL]]", sub.line) }
                    if sub.name == "success" {
                        c.successCapacity = n[0]
                        if n.count > 1 { c.maxSuccessTTL = UInt32(n[1]) }
                    } else {
                        c.denialCapacity = n[0]
                        if n.count > 1 { c.maxDenialTTL = UInt32(n[1]) }
                    }
                    if n.count > 2 { c.minTTL = UInt32(n[2]) }
                default:
                    ignored.append("\(sub.line): cache \(sub.name)")
                }
            }
            cache = c
        case "health":
            httpListeners.append(try address(d.args.first ?? ":8080", defaultHost: "0.0.0.0"))
        case "ready":
            httpListeners.append(try address(d.args.first ?? ":8181", defaultHost: "0.0.0.0"))
        case "prometheus":
            httpListeners.append(try address(d.args.first ?? "localhost:9153", defaultHost: "0.0.0.0"))
        case "log":
            logQueries = true
        case "errors":
            break  // Errors are always logged.
        default:
            ignored.append("\(d.line): \(d.name)")
        }
    }

    /// The `kubernetes` block as options (unset ones keep the plugin's defaults).
    public var kubernetesOptions: KubernetesDNSOptions {
        var o = KubernetesDNSOptions(zones: zones.isEmpty ? KubernetesDNSOptions.defaultZones : zones)
        if let pods { o.pods = pods }
        if let ttl { o.ttl = ttl }
        o.namespaces = namespaces
        o.ignoreEmptyService = ignoreEmptyService
        o.endpointPodNames = endpointPodNames
        o.fallthroughZones = fallthroughZones
        return o
    }

    /// The first `nameserver` of a resolv.conf.
    public static func nameserver(in text: String) -> String? {
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver" { return String(fields[1]) }
        }
        return nil
    }
}

/// Caddyfile tokens: words, `{` and `}`, comments from `#`; one directive per line.
struct CorefileParser {
    struct Directive {
        var name: String
        var args: [String]
        var line: Int
        var block: [Directive]
    }

    struct Block {
        var keys: [String]
        var line: Int
        var directives: [Directive]
    }

    let file: String
    private var tokens: [(text: String, line: Int)] = []
    private var index = 0

    init(text: String, file: String) {
        self.file = file
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.prefix { $0 != "#" }
            var word = ""
            for ch in content {
                if ch == "{" || ch == "}" {
                    if !word.isEmpty { tokens.append((word, n + 1)); word = "" }
                    tokens.append((String(ch), n + 1))
                } else if ch == " " || ch == "\t" || ch == "\r" {
                    if !word.isEmpty { tokens.append((word, n + 1)); word = "" }
                } else {
                    word.append(ch)
                }
            }
            if !word.isEmpty { tokens.append((word, n + 1)) }
        }
    }

    mutating func blocks() throws -> [Block] {
        var out: [Block] = []
        while index < tokens.count {
            let line = tokens[index].line
            var keys: [String] = []
            while index < tokens.count, tokens[index].text != "{" {
                if tokens[index].text == "}" { throw Corefile.Error(file: file, line: tokens[index].line, message: "unexpected '}'") }
                keys.append(tokens[index].text)
                index += 1
            }
            guard index < tokens.count else { throw Corefile.Error(file: file, line: line, message: "server block without '{'") }
            index += 1
            out.append(Block(keys: keys, line: line, directives: try directives(openedAt: line)))
        }
        return out
    }

    /// Directives up to the closing `}`.
    private mutating func directives(openedAt: Int) throws -> [Directive] {
        var out: [Directive] = []
        while index < tokens.count {
            let (text, line) = tokens[index]
            if text == "}" { index += 1; return out }
            if text == "{" { throw Corefile.Error(file: file, line: line, message: "unexpected '{'") }
            var args: [String] = []
            index += 1
            while index < tokens.count, tokens[index].line == line, tokens[index].text != "{", tokens[index].text != "}" {
                args.append(tokens[index].text)
                index += 1
            }
            var block: [Directive] = []
            if index < tokens.count, tokens[index].text == "{", tokens[index].line == line {
                index += 1
                block = try directives(openedAt: line)
            }
            out.append(Directive(name: text, args: args, line: line, block: block))
        }
        throw Corefile.Error(file: file, line: openedAt, message: "'{' is never closed")
    }
}
