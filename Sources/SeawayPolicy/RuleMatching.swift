import SeawayModel

// The leaf tests of a rule, shared by single queries and matrices so both read the same rules.

extension NetworkPolicy.IPBlock {
    /// In `cidr` and in none of the `except` ranges.
    func admits(_ ip: IPAddress) -> Bool {
        cidr.contains(ip) && !except.contains { $0.contains(ip) }
    }
}

extension NetworkPolicy.PolicyPort {
    /// Whether this entry admits `port`/`proto` on a destination with `destinationPorts`
    /// (nil when the destination is not a pod). A named port is the destination pod's,
    /// matched by name and protocol.
    func admits(port: Int, proto: L4Protocol, destinationPorts: [Pod.ContainerPort]?) -> Bool {
        if let answer = admitsIgnoringDestination(port: port, proto: proto) { return answer }
        guard case let .string(name)? = self.port else { return false }
        return destinationPorts?.contains { $0.name == name && $0.proto == proto && $0.port == port } ?? false
    }

    /// The numeric part of `admits`: nil when the answer depends on the destination (a named port).
    func admitsIgnoringDestination(port: Int, proto: L4Protocol) -> Bool? {
        guard self.proto == proto else { return false }
        switch self.port {
        case nil: return true
        case let .int(n)?: return (n...(endPort ?? n)).contains(port)
        case .string?: return nil
        }
    }
}

/// A port entry of either API, for code that treats them alike.
protocol PortEntry {
    func admitsIgnoringDestination(port: Int, proto: L4Protocol) -> Bool?
    /// The name of a named-port entry.
    var portName: String? { get }
}

extension NetworkPolicy.PolicyPort: PortEntry {
    var portName: String? {
        if case let .string(name)? = port { return name }
        return nil
    }
}

extension AdminNetworkPolicy.Port: PortEntry {
    var portName: String? {
        if case let .named(name) = self { return name }
        return nil
    }
}
