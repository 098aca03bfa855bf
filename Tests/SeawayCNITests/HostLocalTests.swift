import Foundation
import SeawayCNI
import Testing

/// host-local's semantics, one rule per test, against our plugin in process.
@Suite struct HostLocalTests {
    @Test func allocationContinuesAfterTheLastReservedAddressAndWraps() {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/29""#)  // .1 gateway; .2-.6 to hand out
        #expect(h.run("ADD", conf, id: "a").ips == ["10.0.0.2/29"])
        #expect(h.run("ADD", conf, id: "b").ips == ["10.0.0.3/29"])
        h.run("DEL", conf, id: "a")
        // Round-robin: the freed .2 is not handed out again until the range has been used.
        #expect(h.run("ADD", conf, id: "c").ips == ["10.0.0.4/29"])
        #expect(h.run("ADD", conf, id: "d").ips == ["10.0.0.5/29"])
        #expect(h.run("ADD", conf, id: "e").ips == ["10.0.0.6/29"])
        #expect(h.run("ADD", conf, id: "f").ips == ["10.0.0.2/29"])
        #expect(h.files().contains("last_reserved_ip.0=10.0.0.2"))
    }

    @Test func theGatewayIsNeverHandedOut() {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/29","gateway":"10.0.0.3""#)
        #expect((1...5).map { h.run("ADD", conf, id: "c\($0)").ips.first ?? "-" } == ["10.0.0.1/29", "10.0.0.2/29", "10.0.0.4/29", "10.0.0.5/29", "10.0.0.6/29"])
    }

    @Test func anExhaustedRangeIsTryAgainLaterAndTakesNothing() {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""ranges":[[{"subnet":"fd00::/64"}],[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.10","rangeEnd":"10.0.0.10"}]]"#)
        #expect(h.run("ADD", conf, id: "a").ips == ["fd00::2/64", "10.0.0.10/24"])
        let second = h.run("ADD", conf, id: "b")
        #expect(second.exitCode == 1)
        #expect(second.code == 11)
        #expect(second.message == "failed to allocate for range 1: no IP addresses available in range set: 10.0.0.10-10.0.0.10")
        // The IPv6 address taken for b before the IPv4 range failed went back.
        #expect(h.reserved() == ["10.0.0.10", "fd00::2"])
    }

    @Test func requestedAddressesAreHonouredOrRefused() {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/24""#)
        #expect(h.run("ADD", conf, id: "a", args: "IP=10.0.0.77").ips == ["10.0.0.77/24"])
        let taken = h.run("ADD", conf, id: "b", args: "IP=10.0.0.77")
        #expect(taken.exitCode == 1)
        #expect(taken.message == "failed to allocate for range 0: requested IP address 10.0.0.77 is not available in range set 10.0.0.1-10.0.0.254")
        #expect(h.run("ADD", conf, id: "c", args: "IP=10.0.0.1").message == "failed to allocate for range 0: requested ip 10.0.0.1 is subnet's gateway")
        #expect(h.run("ADD", conf, id: "d", args: "IP=192.168.0.1").message == "failed to allocate all requested IPs: 192.168.0.1")
        #expect(h.run("ADD", h.config(#""subnet":"10.0.0.0/24""#, extra: #","runtimeConfig":{"ips":["10.0.0.80/24"]}"#), id: "e").ips == ["10.0.0.80/24"])
        #expect(h.reserved() == ["10.0.0.77", "10.0.0.80"])
    }

    @Test func oneAttachmentGetsOneAddressPerRangeSet() {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/24""#)
        #expect(h.run("ADD", conf, id: "a").ips == ["10.0.0.2/24"])
        let again = h.run("ADD", conf, id: "a")
        #expect(again.message == "failed to allocate for range 0: 10.0.0.2 has been allocated to a, duplicate allocation is not allowed")
        // Another interface of the same container is another attachment.
        #expect(h.run("ADD", conf, id: "a", ifname: "net1").ips == ["10.0.0.3/24"])
    }

    @Test func deleteReleasesByContainerAndInterfaceAndIsIdempotent() throws {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/24""#)
        h.run("ADD", conf, id: "a")
        h.run("ADD", conf, id: "a", ifname: "net1")
        #expect(h.run("DEL", conf, id: "a", ifname: "net1").exitCode == 0)
        #expect(h.reserved() == ["10.0.0.2"])
        #expect(h.run("DEL", conf, id: "a", ifname: "net1").exitCode == 0)
        #expect(h.run("DEL", conf, id: "zzz").exitCode == 0)
        #expect(h.reserved() == ["10.0.0.2"])
    }

    @Test func oldOneLineReservationsAreReleasedByContainerID() throws {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/24""#)
        h.run("ADD", conf, id: "a")
        try "old".write(toFile: h.networkDirectory + "/10.0.0.50", atomically: false, encoding: .utf8)
        #expect(h.run("CHECK", conf, id: "old").exitCode == 0)
        h.run("DEL", conf, id: "old")
        #expect(h.reserved() == ["10.0.0.2"])
    }

    @Test func checkFindsTheAttachmentOrSaysUnknownContainer() {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/24""#)
        h.run("ADD", conf, id: "a")
        #expect(h.run("CHECK", conf, id: "a").exitCode == 0)
        let missing = h.run("CHECK", conf, id: "b")
        #expect(missing.code == 3)
        #expect(missing.message == "host-local: Failed to find address added by container b")
    }

    @Test func gcReleasesWhatIsNotAValidAttachment() {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/24""#, version: "1.1.0")
        for id in ["a", "b", "c"] { h.run("ADD", conf, id: id) }
        h.run("ADD", conf, id: "a", ifname: "net1")
        let gc = h.config(#""subnet":"10.0.0.0/24""#, version: "1.1.0",
                          extra: #","cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"},{"containerID":"c","ifname":"eth0"}]"#)
        #expect(h.run("GC", gc).exitCode == 0)
        #expect(h.reserved() == ["10.0.0.2", "10.0.0.4"])
    }

    @Test func statusSaysWhetherAnAddressIsLeft() {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        let conf = h.config(#""subnet":"10.0.0.0/30""#, version: "1.1.0")  // only .2 to hand out
        #expect(h.run("STATUS", conf).exitCode == 0)
        h.run("ADD", conf, id: "a")
        let full = h.run("STATUS", conf)
        #expect(full.code == 50)
        #expect(full.message == "range set 0 (10.0.0.1-10.0.0.2) has no free address")
    }

    @Test func resolvConfAndRoutesAreReturned() throws {
        let h = IPAMHarness(.inProcess)
        defer { h.remove() }
        try FileManager.default.createDirectory(atPath: h.dataDirectory, withIntermediateDirectories: true)
        try "nameserver 10.96.0.10\nsearch svc.cluster.local\n".write(toFile: h.dataDirectory + "/resolv.conf", atomically: false, encoding: .utf8)
        let conf = h.config(#""subnet":"10.0.0.0/24","resolvConf":"\#(h.dataDirectory)/resolv.conf","routes":[{"dst":"0.0.0.0/0"},{"dst":"192.168.0.0/16","gw":"10.0.0.254"}]"#)
        let r = h.run("ADD", conf).json
        #expect(r?["dns"] == .object([("nameservers", .array([.string("10.96.0.10")])), ("search", .array([.string("svc.cluster.local")]))]))
        #expect(r?["routes"] == .array([.object([("dst", .string("0.0.0.0/0"))]), .object([("dst", .string("192.168.0.0/16")), ("gw", .string("10.0.0.254"))])]))
        let missing = h.run("ADD", h.config(#""subnet":"10.0.0.0/24","resolvConf":"/nonexistent/resolv.conf""#), id: "b")
        #expect(missing.exitCode == 1)
        #expect(missing.message?.contains("ipam.resolvConf") == true)
        #expect(h.reserved() == ["10.0.0.2"])
    }
}
