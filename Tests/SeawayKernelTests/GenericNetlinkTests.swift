import Foundation
import Glibc
import SeawayKernel
import SeawayNetlink
import SeawayTestSupport
import Testing

/// The generic netlink socket IPVS mode sends through, against the kernel's own controller
/// family (nlctrl), which every kernel has: a request and its ACK, a dump to its end, and a
/// refusal with the kernel's errno. (This kernel has no IPVS family to send to.)
struct GenericNetlinkTests {
    /// CTRL_CMD_GETFAMILY to nlctrl (GENL_ID_CTRL 0x10), for one family by name or, without
    /// a name, for all of them (as a dump).
    static func getFamily(_ name: String?) -> [UInt8] {
        var attributes: [UInt8] = []
        if let name {
            let value = Array(name.utf8) + [0]
            let length = 4 + value.count
            attributes = [UInt8(length & 0xFF), UInt8(length >> 8), 2, 0] + value  // CTRL_ATTR_FAMILY_NAME
            attributes += [UInt8](repeating: 0, count: (4 - length % 4) % 4)
        }
        let total = 16 + 4 + attributes.count
        let header: [UInt8] = [UInt8(total & 0xFF), UInt8(total >> 8), 0, 0, 0x10, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        return header + [3 /* CTRL_CMD_GETFAMILY */, 1, 0, 0] + attributes
    }

    /// CTRL_ATTR_FAMILY_NAME of a reply.
    static func familyName(_ reply: [UInt8]) -> String? {
        var i = 20
        while i + 4 <= reply.count {
            let length = Int(reply[i]) | Int(reply[i + 1]) << 8
            let type = (Int(reply[i + 2]) | Int(reply[i + 3]) << 8) & 0x3FFF
            guard length >= 4, i + length <= reply.count else { return nil }
            if type == 2 { return String(decoding: reply[(i + 4)..<(i + length)].prefix { $0 != 0 }, as: UTF8.self) }
            i += (length + 3) & ~3
        }
        return nil
    }

    @Test func aRequestIsAcknowledgedADumpEndsAndARefusalCarriesTheErrno() throws {
        let socket = try GenericNetlinkSocket()
        // The reply to a request comes before its ACK; request() waits for the ACK.
        try socket.request(Self.getFamily("nlctrl"), "look up nlctrl")
        let error = #expect(throws: SystemError.self) {
            try socket.request(Self.getFamily("seaway-nofam"), "look up seaway-nofam")
        }
        #expect(error?.errno == ENOENT)
        #expect(error?.operation == "look up seaway-nofam")
        // The socket stays usable after a refusal, and a dump lists every family.
        let families = try socket.dump(Self.getFamily(nil), "list families").compactMap(Self.familyName)
        #expect(families.contains("nlctrl"))
        #expect(families.count > 1, "\(families)")
        #expect(Set(families).count == families.count, "each family once: the dump ends at NLMSG_DONE")
        try socket.request(Self.getFamily("nlctrl"), "look up nlctrl again")
    }

    @Test(.enabled(if: ThrowawayNamespace.available(), "SKIPPED LOUDLY: the dummy device test needs root and ip (CI runs as root)"))
    func aDummyDeviceIsMadeOrTheKernelsLackIsNamed() throws {
        let node = try ThrowawayNamespace()
        defer { node.close() }
        let namespace = try NetworkNamespace(path: node.path)
        let outcome = try namespace.run { () throws(SystemError) -> Result<Link?, SystemError> in
            let nl = try RouteNetlink()
            do throws(SystemError) {
                try nl.createDummy(name: "kube-ipvs0")
                return .success(try nl.link(named: "kube-ipvs0"))
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case let .success(link):
            #expect(link?.kind == "dummy")
            #expect(try node.exec(["ip", "-d", "link", "show", "kube-ipvs0"], check: true).output.contains("dummy"))
        case let .failure(error):
            // This kernel (CONFIG_DUMMY unset): the error says so, and nothing was created.
            #expect(error.errno == EOPNOTSUPP)
            #expect(error.description == "create dummy device kube-ipvs0: \(String(cString: strerror(EOPNOTSUPP))) (this kernel has no dummy devices (CONFIG_DUMMY))")
            #expect(try node.exec(["ip", "link", "show", "kube-ipvs0"], check: false).status != 0)
        }
    }
}
