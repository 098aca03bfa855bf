import SeawayModel
import SeawayProxyCore
import Testing
@testable import SeawayRender

/// kube-proxy's nftables names: `HASH8-readable`, the hash over the readable part.
@Suite struct NFTablesNameTests {
    let svc = ServicePortName(namespace: "ns1", name: "svc1", port: "p80", proto: .tcp)

    @Test func namesMatchKubeProxysOwnTests() {
        // From kube-proxy's nftables proxier tests.
        #expect(NFTablesName.cluster(svc) == "service-ULMVA6XW-ns1/svc1/tcp/p80")
        let ep = EndpointInfo(ip: IPAddress("10.180.0.1")!, port: 80, isLocal: false, ready: true, serving: true, terminating: false)
        #expect(NFTablesName.endpoint(svc, ep) == "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80")
    }

    @Test func endpointBasesAppendAfterWhatIsThere() {
        let ep = EndpointInfo(ip: IPAddress("fd00::1")!, port: 8080, isLocal: false, ready: true, serving: true, terminating: false)
        var out = Array("prefix:".utf8)
        NFTablesName.appendEndpointBase(svc, ep, to: &out)
        let text = String(decoding: out, as: UTF8.self)
        // IPv6 colons become dots; the hash is over the readable part.
        #expect(text == "prefix:" + NFTablesName.endpointBase(svc, ep))
        #expect(text.hasSuffix("-ns1/svc1/tcp/p80__fd00..1/8080"))
        #expect(String(text.dropFirst(7).prefix(8)) == ChainHash.base32SHA256("ns1/svc1/tcp/p80__fd00..1/8080", length: 8))
    }

    /// An endpoint base too long for a name is cut as any name is: the same text as hashing
    /// and truncating the readable part whole.
    @Test func overlongEndpointBasesAreTruncatedLikeOtherNames() {
        let long = ServicePortName(namespace: String(repeating: "n", count: 63), name: String(repeating: "s", count: 100),
                                   port: String(repeating: "p", count: 63), proto: .tcp)
        let readable = "\(long.namespace)/\(long.name)/tcp/\(long.port)__fd00..1/8080"
        let ep = EndpointInfo(ip: IPAddress("fd00::1")!, port: 8080, isLocal: false, ready: true, serving: true, terminating: false)
        #expect(readable.utf8.count + 9 > 240)
        #expect(NFTablesName.endpointBase(long, ep) == NFTablesName.hashAndTruncate(readable))
        #expect(NFTablesName.endpointBase(long, ep).utf8.count == 240)
        // The service's own base, just over the limit too.
        let service = "\(long.namespace)/\(long.name)/tcp/\(long.port)"
        #expect(service.utf8.count + 9 > 240)
        #expect(NFTablesName.serviceBase(long) == NFTablesName.hashAndTruncate(service))
        #expect(NFTablesName.serviceBase(svc) == NFTablesName.hashAndTruncate("ns1/svc1/tcp/p80"))
    }

    @Test func overlongNamesAreTruncatedWithDots() {
        let long = String(repeating: "n", count: 300)
        let name = NFTablesName.hashAndTruncate(long)
        #expect(name.utf8.count == 240)
        #expect(name.hasSuffix("nnn..."))
        #expect(name.hasPrefix(ChainHash.base32SHA256(long, length: 8) + "-nnn"))
        // Exactly at the limit nothing is cut.
        let fits = String(repeating: "n", count: 231)
        #expect(NFTablesName.hashAndTruncate(fits).utf8.count == 240)
        #expect(NFTablesName.hashAndTruncate(fits).hasSuffix("nnnn"))
    }
}
