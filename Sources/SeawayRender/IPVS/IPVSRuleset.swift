import SeawayModel

/// What kube-proxy's IPVS mode programs for one family: IPVS virtual and real servers, the
/// addresses bound to the `kube-ipvs0` dummy device, ipsets, and iptables rules. Each part
/// has the text its own tool loads.
public struct IPVSRuleset: Sendable, Hashable {
    public struct RealServer: Sendable, Hashable {
        public var address: IPAddress
        public var port: Int
        public var weight: Int

        public init(address: IPAddress, port: Int, weight: Int) {
            self.address = address
            self.port = port
            self.weight = weight
        }
    }

    public struct VirtualServer: Sendable, Hashable {
        public var address: IPAddress
        public var port: Int
        public var proto: L4Protocol
        public var scheduler: String
        /// Session affinity: `-p TIMEOUT` (IP_VS_SVC_F_PERSISTENT).
        public var persistenceTimeout: Int?
        /// `mh` needs IP_VS_SVC_F_SCHED2 (`-b mh-port`), as kube-proxy sets it.
        public var sourceHashPort: Bool
        public var realServers: [RealServer]
        /// The service port it belongs to, for humans (`ns/name:port`); empty for one read
        /// back from the kernel.
        public var service: String

        public init(address: IPAddress, port: Int, proto: L4Protocol, scheduler: String, persistenceTimeout: Int?,
                    sourceHashPort: Bool, realServers: [RealServer], service: String) {
            self.address = address
            self.port = port
            self.proto = proto
            self.scheduler = scheduler
            self.persistenceTimeout = persistenceTimeout
            self.sourceHashPort = sourceHashPort
            self.realServers = realServers
            self.service = service
        }

        /// `-t 10.0.0.1:80`, `-u [fd00::1]:53`, `--sctp-service ...`.
        public var serviceArgument: String {
            let flag: String
            switch proto {
            case .tcp: flag = "-t"
            case .udp: flag = "-u"
            case .sctp: flag = "--sctp-service"
            }
            return "\(flag) \(address.joined(port: port))"
        }
    }

    public struct IPSet: Sendable, Hashable {
        public var name: String
        public var type: String
        public var options: String
        /// Entries, sorted.
        public var entries: [String]
    }

    public static let dummyDevice = "kube-ipvs0"

    public var family: IPFamily
    /// Sorted by service port, then in kube-proxy's order: ClusterIP, external IPs, LB IPs, node IPs.
    public var virtualServers: [VirtualServer]
    /// Addresses bound to `kube-ipvs0`, sorted.
    public var dummyAddresses: [IPAddress]
    /// In kube-proxy's order of sets.
    public var ipsets: [IPSet]
    public var iptables: IPTablesRuleset

    /// `ipvsadm-restore` input, in `ipvsadm-save -n` format.
    public var ipvsadmText: String {
        var out = ""
        for vs in virtualServers {
            out += "-A \(vs.serviceArgument) -s \(vs.scheduler)"
            if vs.sourceHashPort { out += " -b \(vs.scheduler)-port" }
            if let timeout = vs.persistenceTimeout { out += " -p \(timeout)" }
            out += "\n"
            for rs in vs.realServers {
                out += "-a \(vs.serviceArgument) -r \(rs.address.joined(port: rs.port)) -m -w \(rs.weight)\n"
            }
        }
        return out
    }

    /// `ip -batch` input that creates the dummy device and binds the service addresses.
    public var addressesText: String {
        var out = "link add \(IPVSRuleset.dummyDevice) type dummy\n"
        for ip in dummyAddresses {
            out += "address add \(CIDR(host: ip)) dev \(IPVSRuleset.dummyDevice)\n"
        }
        return out
    }

    /// `ipset restore` input.
    public var ipsetText: String {
        var out = ""
        for set in ipsets { out += "create \(set.name) \(set.type) \(set.options)\n" }
        for set in ipsets {
            for entry in set.entries { out += "add \(set.name) \(entry)\n" }
        }
        return out
    }

    /// The four parts, each under a `#` header line every one of these tools skips.
    public var text: String {
        "# seaway: ipvs (\(family.rawValue)): ipvsadm-restore\n" + ipvsadmText
            + "# seaway: ipvs (\(family.rawValue)): ip -batch\n" + addressesText
            + "# seaway: ipvs (\(family.rawValue)): ipset restore\n" + ipsetText
            + "# seaway: ipvs (\(family.rawValue)): iptables-restore\n" + iptables.text
    }
}
