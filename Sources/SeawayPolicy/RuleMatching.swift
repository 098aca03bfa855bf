import SeawayModel

// The leaf tests of a rule, shared by single queries and matrices so both read the same rules.

extension NetworkPolicy.IPBlock {
    /// In `cidr` and in none of the `except` ranges.
    func admits(_ ip: IPAddress) -> Bool {
        cidr.contains(ip) && !except.contains { $0.contains(ip) }
    }
}

/// A port entry of either API (NetworkPolicy's, or an admin policy's), tested alike.
protocol PortEntry {
    /// Whether the entry admits `port`/`proto` whatever the destination; nil when that
    /// depends on the destination (a named port).
    func admitsIgnoringDestination(port: Int, proto: L4Protocol) -> Bool?
    /// The name of a named-port entry.
    var portName: String? { get }
}

extension PortEntry {
    /// Whether this entry admits `port`/`proto` on a destination with `destinationPorts`
    /// (nil when the destination is not a pod). A named port is the destination pod's,
    /// matched by name and protocol.
    func admits(port: Int, proto: L4Protocol, destinationPorts: [Pod.ContainerPort]?) -> Bool {
        if let answer = admitsIgnoringDestination(port: port, proto: proto) { return answer }
        guard let name = portName else { return false }
        return destinationPorts?.contains { $0.name == name && $0.proto == proto && $0.port == port } ?? false
    }
}

extension NetworkPolicy.PolicyPort: PortEntry {
    func admitsIgnoringDestination(port: Int, proto: L4Protocol) -> Bool? {
        guard self.proto == proto else { return false }
        switch self.port {
        case nil: return true
        case let .int(n)?: return (n...(endPort ?? n)).contains(port)
        case .string?: return nil
        }
    }

    var portName: String? {
        if case let .string(name)? = port { return name }
        return nil
    }
}

extension AdminNetworkPolicy.Port: PortEntry {
    func admitsIgnoringDestination(port: Int, proto: L4Protocol) -> Bool? {
        switch self {
        case let .number(p, n): return p == proto && n == port
        case let .range(p, range): return p == proto && range.contains(port)
        case .named: return nil
        }
    }

    var portName: String? {
        if case let .named(name) = self { return name }
        return nil
    }
}
