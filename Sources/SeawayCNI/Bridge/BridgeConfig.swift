import SeawayNet

/// The bridge plugin's network configuration, with the reference plugin's options, defaults
/// and checks; every error names its field.
public struct BridgeConfig: Sendable {
    public var networkName: String
    public var bridgeName = "cni0"
    /// The bridge gets the gateway address; `isDefaultGateway` implies it.
    public var isGateway = false
    public var isDefaultGateway = false
    /// Replace a different address already on the bridge instead of failing.
    public var forceAddress = false
    public var ipMasq = false
    public var mtu: Int?
    public var hairpinMode = false
    public var promiscMode = false
    /// The access VLAN of the port (0: none).
    public var vlan = 0
    /// Tagged VLANs of a trunk port, sorted.
    public var vlanTrunk: [Int] = []
    public var preserveDefaultVlan = true
    public var macSpoofCheck = false
    public var enableDAD = false
    /// Leave the container end down (layer-2 only: no IPAM).
    public var disableContainerInterface = false
    /// The IPAM plugin to delegate to; nil for a layer-2 attachment.
    public var ipamType: String?
    /// The container end's MAC: `runtimeConfig.mac`, else `args.cni.mac`, else CNI_ARGS `MAC`.
    public var mac: MACAddress?
    /// `dns` from the configuration, which overrides the IPAM plugin's when given.
    public var dns: CNIResult.DNS?
    public var prevResult: CNIResult?
    /// GC: the attachments still in use.
    public var validAttachments: [(containerID: String, ifname: String)] = []

    public init(_ config: JSONValue, environment: CNIEnvironment) throws(CNIError) {
        let r = JSONReader(config)
        guard let name = try r.string("name"), !name.isEmpty else { throw CNIError(.invalidConfig, "name: missing") }
        networkName = name
        if let bridge = try r.string("bridge"), !bridge.isEmpty {
            guard CNIEnvironment.isValidIfname(bridge) else { throw CNIError(.invalidConfig, "bridge: '\(bridge)' is not a valid interface name") }
            bridgeName = bridge
        }
        isDefaultGateway = try r.bool("isDefaultGateway") ?? false
        isGateway = try r.bool("isGateway") ?? false || isDefaultGateway
        forceAddress = try r.bool("forceAddress") ?? false
        ipMasq = try r.bool("ipMasq") ?? false
        // Newer reference options Seaway does not do: refused, not silently ignored.
        if let backend = try r.string("ipMasqBackend"), backend != "nftables" {
            throw CNIError(.unsupportedField, "ipMasqBackend: '\(backend)' is not supported; seaway-bridge masquerades with nftables only")
        }
        if try r.bool("portIsolation") == true {
            throw CNIError(.unsupportedField, "portIsolation: not supported by seaway-bridge")
        }
        if let m = try r.int("mtu"), m != 0 {
            guard (68...65535).contains(m) else { throw CNIError(.invalidConfig, "mtu: \(m) is not between 68 and 65535") }
            mtu = m
        }
        hairpinMode = try r.bool("hairpinMode") ?? false
        promiscMode = try r.bool("promiscMode") ?? false
        if hairpinMode && promiscMode {
            throw CNIError(.invalidConfig, "hairpinMode, promiscMode: cannot set hairpin mode and promiscuous mode at the same time")
        }
        vlan = try r.int("vlan") ?? 0
        guard (0...4094).contains(vlan) else { throw CNIError(.invalidConfig, "vlan: invalid VLAN ID \(vlan) (must be between 0 and 4094)") }
        vlanTrunk = try BridgeConfig.trunk(r)
        if vlan > 0 && !vlanTrunk.isEmpty { throw CNIError(.invalidConfig, "vlan, vlanTrunk: cannot set vlan and vlanTrunk at the same time") }
        preserveDefaultVlan = try r.bool("preserveDefaultVlan") ?? true
        macSpoofCheck = try r.bool("macspoofchk") ?? false
        enableDAD = try r.bool("enabledad") ?? false
        disableContainerInterface = try r.bool("disableContainerInterface") ?? false
        if let ipam = try r.object("ipam"), let type = try ipam.string("type"), !type.isEmpty { ipamType = type }
        if disableContainerInterface && ipamType != nil {
            throw CNIError(.invalidConfig, "disableContainerInterface, ipam: cannot use IPAM when the container interface is disabled")
        }

        try environment.requireKnownArgs(["MAC"])
        if let text = environment.arg("MAC") { mac = try BridgeConfig.mac(text, field: "CNI_ARGS MAC") }
        if let text = try r.object("args")?.object("cni")?.string("mac"), !text.isEmpty { mac = try BridgeConfig.mac(text, field: "args.cni.mac") }
        if let text = try r.object("runtimeConfig")?.string("mac"), !text.isEmpty { mac = try BridgeConfig.mac(text, field: "runtimeConfig.mac") }

        if let d = try r.object("dns") {
            let parsed = try CNIResult.DNS(reading: d)
            if parsed != CNIResult.DNS() { dns = parsed }
        }
        if let prev = try r.object("prevResult") { prevResult = try CNIResult(reading: prev) }
        validAttachments = try CNIConfig.validAttachments(r)
    }

    static func mac(_ text: String, field: String) throws(CNIError) -> MACAddress {
        guard let m = MACAddress(text) else { throw CNIError(.invalidConfig, "\(field): '\(text)' is not a MAC address") }
        guard !m.isMulticast else { throw CNIError(.invalidConfig, "\(field): \(text) is a multicast address") }
        return m
    }

    /// `vlanTrunk`: `{"id": N}` and `{"minID": A, "maxID": B}` entries, as a sorted set.
    static func trunk(_ r: JSONReader) throws(CNIError) -> [Int] {
        var vlans = Set<Int>()
        for item in try r.array("vlanTrunk") ?? [] {
            let minID = try item.int("minID"), maxID = try item.int("maxID")
            switch (minID, maxID) {
            case let (lo?, hi?):
                guard (1...4094).contains(lo) else { throw CNIError(.invalidConfig, "\(item.at("minID")): incorrect trunk minID parameter") }
                guard (1...4094).contains(hi) else { throw CNIError(.invalidConfig, "\(item.at("maxID")): incorrect trunk maxID parameter") }
                guard lo <= hi else { throw CNIError(.invalidConfig, "\(item.path): minID is greater than maxID in trunk parameter") }
                vlans.formUnion(lo...hi)
            case (nil, _?): throw CNIError(.invalidConfig, "\(item.path): minID and maxID should be configured simultaneously, minID is missing")
            case (_?, nil): throw CNIError(.invalidConfig, "\(item.path): minID and maxID should be configured simultaneously, maxID is missing")
            case (nil, nil): break
            }
            if let id = try item.int("id") {
                guard (1...4094).contains(id) else { throw CNIError(.invalidConfig, "\(item.at("id")): incorrect trunk id parameter") }
                vlans.insert(id)
            }
        }
        return vlans.sorted()
    }
}

/// Pieces of a network configuration every plugin reads the same way.
enum CNIConfig {
    /// `cni.dev/valid-attachments` (GC).
    static func validAttachments(_ r: JSONReader) throws(CNIError) -> [(containerID: String, ifname: String)] {
        var valid: [(String, String)] = []
        for a in try r.array("cni.dev/valid-attachments") ?? [] {
            guard let id = try a.string("containerID"), let ifname = try a.string("ifname") else {
                throw CNIError(.invalidConfig, "\(a.path): expected containerID and ifname")
            }
            valid.append((id, ifname))
        }
        return valid
    }
}
