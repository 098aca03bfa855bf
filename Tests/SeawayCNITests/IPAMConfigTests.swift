import SeawayCNI
import SeawayNet
import Testing

@Suite struct IPAMConfigTests {
    let env = try! CNIEnvironment(["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/n", "CNI_IFNAME": "eth0", "CNI_PATH": "/x"])

    func config(_ ipam: String, extra: String = "", env: CNIEnvironment? = nil) throws(CNIError) -> IPAMConfig {
        let text = #"{"cniVersion":"1.0.0","name":"net","type":"bridge"\#(extra),"ipam":\#(ipam)}"#
        return try IPAMConfig(try JSONValue.parse(Array(text.utf8), what: "config"), environment: env ?? self.env)
    }

    @Test func aSubnetGetsHostLocalsDefaults() throws {
        let c = try config(#"{"type":"host-local","subnet":"10.1.0.0/16"}"#)
        let r = try #require(c.rangeSets.first?.ranges.first)
        #expect(r.rangeStart.description == "10.1.0.1")
        #expect(r.rangeEnd.description == "10.1.255.254")
        #expect(r.gateway.description == "10.1.0.1")
        #expect(c.dataDirectory == "/var/lib/cni/networks")
    }

    @Test func ipv6RangesEndAtTheLastAddress() throws {
        let c = try config(#"{"type":"host-local","ranges":[[{"subnet":"fd00:1::/120"}]]}"#)
        let r = try #require(c.rangeSets.first?.ranges.first)
        #expect(r.rangeStart.description == "fd00:1::1")
        #expect(r.rangeEnd.description == "fd00:1::ff")
    }

    @Test func hostBitsOfTheSubnetMoveTheStart() throws {
        // host-local keeps the subnet's host bits: 10.0.0.7/24 starts at .8, gateway .8.
        let r = try #require(try config(#"{"type":"host-local","subnet":"10.0.0.7/24"}"#).rangeSets.first?.ranges.first)
        #expect(r.rangeStart.description == "10.0.0.8")
        #expect(r.gateway.description == "10.0.0.8")
    }

    @Test func requestedAddressesComeFromArgsEnvAndRuntimeConfig() throws {
        let env = try CNIEnvironment(["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": "/n", "CNI_IFNAME": "eth0",
                                      "CNI_PATH": "/x", "CNI_ARGS": "IgnoreUnknown=1;IP=10.0.0.5"])
        let c = try config(#"{"type":"host-local","subnet":"10.0.0.0/24"}"#,
                           extra: #","args":{"cni":{"ips":["10.0.0.6"]}},"runtimeConfig":{"ips":["10.0.0.7/24"]}"#, env: env)
        #expect(c.requestedIPs.map(\.description) == ["10.0.0.5", "10.0.0.6", "10.0.0.7"])
    }

    @Test(arguments: [
        (#"{"type":"host-local"}"#, "ipam.ranges: no IP ranges specified"),
        (#"{"type":"host-local","subnet":"10.0.0.0/24","rangeStart":"10.0.1.5"}"#, "ipam.rangeStart: 10.0.1.5 is not in network 10.0.0.0/24"),
        (#"{"type":"host-local","subnet":"10.0.0.0/24","rangeEnd":"fd00::1"}"#, "ipam.rangeEnd: fd00::1 is not the same protocol as subnet 10.0.0.0/24"),
        (#"{"type":"host-local","subnet":"10.0.0.0/24","rangeStart":"10.0.0.9","rangeEnd":"10.0.0.3"}"#, "ipam.rangeStart: 10.0.0.9 is after rangeEnd 10.0.0.3"),
        (#"{"type":"host-local","subnet":"10.0.0.0/24","gateway":"10.9.0.1"}"#, "ipam.gateway: 10.9.0.1 is not in network 10.0.0.0/24"),
        (#"{"type":"host-local","subnet":"10.0.0.0/31"}"#, "ipam.subnet: network 10.0.0.0/31 is too small to allocate from"),
        (#"{"type":"host-local","subnet":"10.0.0.0/33"}"#, "ipam.subnet: '10.0.0.0/33' is not a CIDR"),
        (#"{"type":"host-local","subnet":"010.0.0.0/24"}"#, "ipam.subnet: '010.0.0.0/24' is not a CIDR"),
        (#"{"type":"host-local","subnet":24}"#, "ipam.subnet: expected a string"),
        (#"{"type":"host-local","ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.128/25"}]]}"#, "ipam.ranges: range set 0 overlaps with 1"),
        (#"{"type":"host-local","ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}]]}"#, "ipam.ranges[0][1]: mixed address families in one range set"),
        (#"{"type":"host-local","ranges":[[]]}"#, "ipam.ranges[0]: empty range set"),
        (#"{"type":"host-local","subnet":"10.0.0.0/24","routes":[{"dst":"nope"}]}"#, "ipam.routes[0].dst: expected a CIDR"),
        (#""host-local""#, "ipam: expected an object"),
    ])
    func badRangesAreCode7NamingTheField(_ ipam: String, _ message: String) {
        #expect(throws: CNIError(.invalidConfig, message)) { try config(ipam) }
    }

    @Test func aConfigWithoutANameOrIPAMIsRefused() {
        let parse = { (t: String) throws(CNIError) in try IPAMConfig(try JSONValue.parse(Array(t.utf8), what: "c"), environment: env) }
        #expect(throws: CNIError(.invalidConfig, "name: missing")) { try parse(#"{"cniVersion":"1.0.0","ipam":{}}"#) }
        #expect(throws: CNIError(.invalidConfig, "ipam: missing (IPAM config missing 'ipam' key)")) { try parse(#"{"cniVersion":"1.0.0","name":"n"}"#) }
        #expect(throws: CNIError.self) { try parse(#"{"cniVersion":"1.0.0","name":"../etc","ipam":{"subnet":"10.0.0.0/24"}}"#) }
    }

    @Test func resolvConfBecomesTheResultsDNS() {
        let dns = ResolvConf.parse("""
        # a comment
        nameserver 10.96.0.10
        nameserver fd00::10
        search default.svc.cluster.local svc.cluster.local
        domain cluster.local
        options ndots:5 edns0
        """)
        #expect(dns.nameservers == ["10.96.0.10", "fd00::10"])
        #expect(dns.search == ["default.svc.cluster.local", "svc.cluster.local"])
        #expect(dns.domain == "cluster.local")
        #expect(dns.options == ["ndots:5", "edns0"])
    }
}
