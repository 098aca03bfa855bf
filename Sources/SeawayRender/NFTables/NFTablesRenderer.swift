import SeawayModel
import SeawayProxyCore

/// Renders a ServiceMap as kube-proxy's nftables mode builds its table: the state after a
/// full sync (`setupNFTables` plus every service), which is what `nft list table` shows on a
/// live node and what kube-proxy's own tests compare against. Service ports render
/// independently (in parallel) into fragments that are joined in service order.
public struct NFTablesRenderer: Sendable {
    public init() {}

    /// kube-proxy's table (the only one unless the options spread the services over shard
    /// tables, which follow it).
    public func render(_ map: ServiceMap) -> [NFTablesRuleset] {
        NFTablesSync(map).rulesets
    }

    /// kube-proxy's table, then the shard tables (if any), in table order. `chains` are the
    /// fragments' own, in the same order.
    static func assemble(_ setup: NFTablesSetup, _ fragments: [NFTablesFragment], chains: [ChainBlock]) -> [NFTablesRuleset] {
        // Without shards the services' chains and affinity sets are all in kube-proxy's
        // table; with them, only the chains a fragment keeps there (`mainChains`).
        let holdsServices = setup.shards.isEmpty
        var tables = [table(setup.family, setup.chains, setup.containers, setup.prefix, fragments,
                            serviceChains: holdsServices ? chains : fragments.map(\.mainChains), holdsServices: holdsServices)]
        for shard in setup.shards {
            let inShard = fragments.filter { $0.prefix == shard.prefix }
            var t = table(setup.family, shard.chains, shard.containers, shard.prefix, inShard,
                          serviceChains: inShard.map(\.chains), holdsServices: true)
            t.table = shard.table
            t.tableComment = "kube-proxy's services, one table of \(setup.shards.count) (seaway --nftables-shards)"
            tables.append(t)
        }
        return tables
    }

    /// One table: its fixed chains and sets with the fragments' elements for it, the
    /// `serviceChains`, and the fragments' affinity sets when it `holdsServices`.
    private static func table(_ family: IPFamily, _ chains: [NFTablesRuleset.Chain], _ containers: [NFTablesRuleset.Container],
                              _ prefix: String, _ fragments: [NFTablesFragment], serviceChains: [ChainBlock],
                              holdsServices: Bool) -> NFTablesRuleset {
        var containers = containers
        fill(&containers, prefix, fragments)
        if holdsServices { for f in fragments.indices where !fragments[f].affinitySets.isEmpty { containers.append(contentsOf: fragments[f].affinitySets) } }
        return NFTablesRuleset(family: family, chains: chains, serviceChains: serviceChains, containers: containers)
    }

    /// Adds the fragments' elements of the table at `prefix` to its `containers`: where each
    /// container's elements are is found in one pass (by index: taking the line blocks
    /// themselves cost a cache miss each on this one core), then each container is filled
    /// on its own core (at 10,000 services two of them get 10,000 lines).
    private static func fill(_ containers: inout [NFTablesRuleset.Container], _ prefix: String, _ fragments: [NFTablesFragment]) {
        let names = containers.map(\.name)
        var places = [[ElementPlace]](repeating: [], count: containers.count)
        for f in fragments.indices {
            for e in fragments[f].elements.indices where fragments[f].elements[e].prefix == prefix {
                // A search of a dozen names, most of them compared by their storage alone:
                // hashing the name for a dictionary cost more, 20,000 times at 10k services.
                let container = names.firstIndex(of: fragments[f].elements[e].container)!
                places[container].append(ElementPlace(fragment: Int32(f), element: Int32(e)))
            }
        }
        let found = places
        // (A small cluster's few elements are filled on this thread.)
        containers = containers.indices.map { ($0, containers[$0]) }
            .concurrentMap(minimumCount: fragments.count < 512 ? .max : 2) { i, container in
                var container = container
                func lines(_ p: ElementPlace) -> LineBlock { fragments[Int(p.fragment)].elements[Int(p.element)].lines }
                container.elementLines.reserve(found[i].reduce(0) { $0 + lines($1).bytes.count })
                for p in found[i] { container.elementLines.append(lines(p)) }
                return container
            }
    }

    /// Where a fragment's elements of one set or map are.
    private struct ElementPlace: Sendable {
        var fragment: Int32, element: Int32
    }
}

/// What one service port adds to the table: its chains (endpoint chains, then service-,
/// local-, external-, firewall-, in kube-proxy's creation order), affinity sets, and
/// elements of the shared sets and maps. With shard tables, its nat chains, affinity sets
/// and dispatch elements are in its shard's table and the rest in kube-proxy's.
struct NFTablesFragment: ServicePortFragment {
    /// The table (`ip kube-proxy`, or a shard's) of `chains` and `affinitySets`.
    let prefix: String
    var chains = ChainBlock()
    /// With shard tables, the chains that stay in kube-proxy's table (the firewall chain,
    /// which its filter hooks reach); empty otherwise.
    var mainChains = ChainBlock()
    var affinitySets: [NFTablesRuleset.Container] = []
    /// Element lines per shared set/map, in the order written.
    var elements: [Elements] = []

    struct Elements: Sendable {
        /// The table of the set or map.
        let prefix: String
        let container: String
        /// `add element PREFIX CONTAINER { KEY[ comment "..."][ : VALUE] }`, one per element.
        var lines = LineBlock()

        /// Each line with its element's key (what deleting the element takes). Read back from
        /// the line, as only a partial sync needs it: keeping the keys too cost every full
        /// render a buffer per set and port. A key is addresses, protocols and ports joined
        /// by " . ", so it ends where " comment \"", " : " or " }" first appears.
        var keyedLines: [(key: String, line: String)] {
            let start = "add element \(prefix) \(container) { ".utf8.count
            return lines.lines.map { line in
                let text = line.utf8.dropFirst(start)
                var end = text.endIndex
                for marker in [" comment \"", " : ", " }"] {
                    if let found = text.firstRange(of: marker.utf8), found.lowerBound < end { end = found.lowerBound }
                }
                return (String(decoding: text[..<end], as: UTF8.self), line)
            }
        }
    }

    init(_ sp: ProxyServicePort, _ s: NFTablesSetup) {
        let info = sp.info
        let name = info.name
        let proto = info.proto.lowercased
        let ipX = s.ipX
        let markMasq = NFTablesName.markMasqText
        let base = NFTablesName.serviceBase(name)
        // Chain names as rule text (on the stack, not four heap strings per port).
        let clusterChain: RuleLine = "service-\(base)"
        let localChain: RuleLine = "local-\(base)"
        let externalChain: RuleLine = "external-\(base)"
        let fwChain: RuleLine = "firewall-\(base)"
        let hasEndpoints = sp.endpoints.hasAnyEndpoints
        let hasInternal = sp.hasInternalEndpoints
        let hasExternal = sp.hasExternalEndpoints
        // The port's name, for the comments of no-endpoint elements only (made when needed:
        // a string per port, freed again, for every render).
        let nameString = hasInternal && hasExternal ? "" : name.description
        let internalChain = info.internalPolicyLocal ? localChain : clusterChain
        let externalPolicyChain = info.externalPolicyLocal ? localChain : clusterChain
        // Unlike iptables mode, the firewall chain does not depend on having endpoints.
        let usesFW = !info.loadBalancerVIPs.isEmpty && !info.loadBalancerSourceRanges.isEmpty

        let dispatchPrefix = s.dispatchPrefix(of: name)
        prefix = dispatchPrefix
        // Written through a local value, not a nested function mutating `self`: a function
        // that captures what it mutates boxes it and checks every access at run time.
        var elements = ElementWriter(dispatchPrefix: dispatchPrefix, mainPrefix: s.prefix)
        defer { self.elements = elements.written }

        // What happens to traffic with nowhere to go: reject without any endpoint, drop when
        // a Local policy finds none on this node.
        let noEndpointVerdict: RuleLine = hasEndpoints ? "drop" : "goto \(NFTablesName.rejectChain)"

        let portKey: RuleLine = "\(proto) . \(info.port)"
        elements.add(NFTablesName.clusterIPs, "\(info.clusterIP)")
        if hasInternal {
            elements.add(NFTablesName.serviceIPs, "\(info.clusterIP) . \(portKey)", "goto \(internalChain)")
        } else {
            elements.add(NFTablesName.noEndpointServices, "\(info.clusterIP) . \(portKey)", noEndpointVerdict, comment: nameString)
        }
        for ip in info.externalIPs {
            if hasEndpoints { elements.add(NFTablesName.serviceIPs, "\(ip) . \(portKey)", "goto \(externalChain)") }
            if !hasExternal { elements.add(NFTablesName.noEndpointServices, "\(ip) . \(portKey)", noEndpointVerdict, comment: nameString) }
        }
        for ip in info.loadBalancerVIPs {
            if hasEndpoints { elements.add(NFTablesName.serviceIPs, "\(ip) . \(portKey)", "goto \(externalChain)") }
            if usesFW { elements.add(NFTablesName.firewallIPs, "\(ip) . \(portKey)", "goto \(fwChain)") }
        }
        if !hasExternal {
            for ip in info.loadBalancerVIPs {
                elements.add(NFTablesName.noEndpointServices, "\(ip) . \(portKey)", noEndpointVerdict, comment: nameString)
            }
        }
        if info.nodePort != 0 {
            if hasEndpoints { elements.add(NFTablesName.serviceNodePorts, "\(proto) . \(info.nodePort)", "goto \(externalChain)") }
            if !hasExternal {
                elements.add(NFTablesName.noEndpointNodePorts, "\(proto) . \(info.nodePort)", noEndpointVerdict, comment: nameString)
            }
        }

        // The chains, written one after the other in kube-proxy's creation order.
        let endpoints = sp.endpoints.allReachable
        let bases = EndpointBases(endpoints, name)
        if info.sessionAffinityClientIP {
            for i in endpoints.indices {
                affinitySets.append(.init(isMap: false, name: "affinity-\(String(decoding: bases[i], as: UTF8.self))",
                                          spec: "type \(s.addrType) ; flags dynamic,timeout ; timeout \(info.stickyMaxAgeSeconds)s ;",
                                          elementLines: LineBlock()))
            }
        }
        // About three rules of 100 bytes per endpoint chain, and its name in the vmap.
        var out = ChainBlockWriter(rulesStartWith: "add rule ", table: dispatchPrefix, reservingChains: endpoints.count + 4,
                                   nameBytes: 64 * (endpoints.count + 4), ruleBytes: 400 * (endpoints.count + 2))

        for (i, ep) in endpoints.enumerated() {
            out.startChain("endpoint-\(bases[i])")
            out.rule("\(ipX) saddr \(ep.ip) jump \(markMasq)")
            if info.sessionAffinityClientIP { out.rule("update @affinity-\(bases[i]) { \(ipX) saddr }") }
            out.rule("meta l4proto \(proto) dnat to \(ep.ip, port: ep.port)")
        }

        func writePolicyChain(_ out: inout ChainBlockWriter, _ chain: RuleLine, _ targets: [EndpointInfo], takesInternalTraffic: Bool) {
            out.startChain(chain)
            if takesInternalTraffic && hasInternal {
                // v1.34+ matches the ClusterIP only: any port of it reaches this chain via @service-ips.
                if s.options.masqueradeAll {
                    out.rule("\(ipX) daddr \(info.clusterIP) jump \(markMasq)")
                } else if let notLocal = s.detector.ifNotLocalNFT {
                    out.rule("\(ipX) daddr \(info.clusterIP) \(notLocal) jump \(markMasq)")
                }
            }
            let indexes = endpoints.indexes(of: targets)
            if info.sessionAffinityClientIP {
                for i in indexes {
                    out.rule("\(ipX) saddr @affinity-\(bases[i]) goto endpoint-\(bases[i])")
                }
            }
            if s.options.nftablesCompactEndpointSelection {
                // Endpoint n of K is taken with probability 1/(K-n) of what is left: 1/K each.
                for (n, i) in indexes.enumerated() {
                    let left = targets.count - n
                    out.rule(left == 1 ? "goto endpoint-\(bases[i])" : "numgen random mod \(left) 0 goto endpoint-\(bases[i])")
                }
                return
            }
            // Written straight into the chain: with ten endpoints the line is 700 bytes, too
            // long to build on the stack first.
            out.rule(writing: { line in
                line.appendText("numgen random mod ")
                line.appendDecimal(targets.count)
                line.appendText(" vmap { ")
                for (n, i) in indexes.enumerated() {
                    if n > 0 { line.appendText(" , ") }
                    line.appendDecimal(n)
                    line.appendText(" : goto endpoint-")
                    line.append(bases[i])
                }
                line.appendText(" }")
            })
        }
        if sp.usesClusterPolicyChain { writePolicyChain(&out, clusterChain, sp.endpoints.cluster, takesInternalTraffic: !info.internalPolicyLocal) }
        if sp.usesLocalPolicyChain { writePolicyChain(&out, localChain, sp.endpoints.local, takesInternalTraffic: info.internalPolicyLocal) }

        if sp.usesExternalTrafficChain {
            out.startChain(externalChain)
            if !info.externalPolicyLocal {
                out.rule("jump \(markMasq)")
            } else {
                if let local = s.detector.ifLocalNFT {
                    out.rule("\(local) goto \(clusterChain) comment \"short-circuit pod traffic\"")
                }
                out.rule("fib saddr type local jump \(markMasq) comment \"masquerade local traffic\"")
                out.rule("fib saddr type local goto \(clusterChain) comment \"short-circuit local traffic\"")
            }
            if hasExternal { out.rule("goto \(externalPolicyChain)") }
        }

        if usesFW {
            var sources = info.loadBalancerSourceRanges.map(\.description)
            if info.sourceRangesAdmitVIPs(nodeIP: s.options.primaryIP(s.family)) {
                sources += info.loadBalancerVIPs.map(\.description)
            }
            func firewall(_ w: inout ChainBlockWriter) {
                w.startChain(fwChain)
                w.rule("\(ipX) saddr != { \(sources.joined(separator: " , ")) } drop")
            }
            if s.shards.isEmpty {
                firewall(&out)
            } else {
                // kube-proxy's table's filter hooks reach it (@firewall-ips): it stays there.
                var fw = ChainBlockWriter(rulesStartWith: "add rule ", table: s.prefix)
                firewall(&fw)
                mainChains = fw.finish()
            }
        }
        chains = out.finish()
    }
}

/// Writes a fragment's elements, grouped by set or map in the order first written.
private struct ElementWriter {
    private(set) var written: [NFTablesFragment.Elements] = []
    let dispatchPrefix: String
    let mainPrefix: String

    init(dispatchPrefix: String, mainPrefix: String) {
        self.dispatchPrefix = dispatchPrefix
        self.mainPrefix = mainPrefix
        // Room for the sets and maps most ports write to (cluster IPs, service IPs, node
        // ports), allocated once rather than grown.
        written.reserveCapacity(4)
    }

    mutating func add(_ container: String, _ key: RuleLine, _ value: RuleLine? = nil, comment: String? = nil) {
        // A port writes to a handful of containers at most: a linear search is cheapest.
        let i = written.firstIndex { $0.container == container } ?? written.count
        if i == written.count {
            let table = NFTablesSetup.dispatchContainers.contains(container) ? dispatchPrefix : mainPrefix
            written.append(.init(prefix: table, container: container))
        }
        // Optional parts appended in place, not made into lines of their own first.
        var line: RuleLine = "add element \(written[i].prefix) \(container) { \(key)"
        if let comment {
            line.append(" comment \"")
            line.append(comment)
            line.append("\"")
        }
        if let value {
            line.append(" : ")
            line.append(value)
        }
        line.append(" }")
        written[i].lines.append(line)
    }
}

/// The `HASH-ns/name/proto/port__ip/port` bases of a service port's endpoint chain names,
/// hashed once each and kept back to back in one buffer.
private struct EndpointBases {
    private var bytes: [UInt8] = []
    private var ends: [Int] = []

    init(_ endpoints: [EndpointInfo], _ name: ServicePortName) {
        ends.reserveCapacity(endpoints.count)
        let prefix = NFTablesName.endpointPrefix(name)
        bytes.reserveCapacity(endpoints.count * (prefix.count + 40))
        for ep in endpoints {
            NFTablesName.appendEndpointBase(prefix, ep, to: &bytes)
            ends.append(bytes.count)
        }
    }

    subscript(i: Int) -> ArraySlice<UInt8> { bytes[(i == 0 ? 0 : ends[i - 1])..<ends[i]] }
}
