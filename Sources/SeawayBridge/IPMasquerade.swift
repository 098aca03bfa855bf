import SeawayCNI
import SeawayKernel
import SeawayNetlink
import SeawayNet

/// ipMasq as nftables rules, in the shape the reference plugins' nftables backend uses, so
/// the two manage one table together: table `inet cni_plugins_masquerade`, a `postrouting`
/// NAT chain that skips multicast and goes to `masq_checks`, and there one rule per pod
/// address — `ip saddr A ip daddr != its-subnet masquerade` — whose comment starts with a
/// hash of network, interface and container, so DEL and GC find exactly that pod's rules.
/// (The reference 1.1.1 does the same with iptables chains, two subprocesses per address.)
struct IPMasquerade {
    let network: String
    let containerID: String
    let ifname: String

    static let table = NFTTable(.inet, "cni_plugins_masquerade",
                                comment: "Masquerading for plugins from github.com/containernetworking/plugins")
    static let checks = NFTChain(table, "masq_checks",
                                 comment: "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet")
    static let postrouting = NFTChain(table, "postrouting", base: .init(type: "nat", hook: .postrouting, priority: 100))

    /// The first 16 hex digits of SHA-512, as the reference's `MustFormatHashWithPrefix(16, ...)`.
    static func hash16(_ text: String) -> String { String(SHA512.hex(text).prefix(16)) }

    static func networkHash(_ network: String) -> String { hash16(network) }

    /// Every rule of this attachment has a comment starting with this.
    var instanceHash: String { IPMasquerade.networkHash(network) + "-" + IPMasquerade.hash16(ifname + ":" + containerID) }

    var comment: String {
        let clean = { (s: String) in s.filter { $0 != "\"" } }
        let text = "\(instanceHash), net: \(clean(network)), if: \(clean(ifname)), id: \(clean(containerID))"
        // knftables' comment limit, applied to bytes as the Go code does.
        return String(decoding: Array(text.utf8.prefix(128)), as: UTF8.self)
    }

    /// The transaction that makes the table and chains (idempotent), gives `postrouting` its
    /// three rules unless it has them (`postrouting` is what it holds now), replaces this
    /// attachment's `stale` rules, and masquerades `addresses`.
    ///
    /// The reference flushes and rewrites `postrouting` on every ADD. Deleting anything makes
    /// the kernel wait a whole RCU grace period (about 15 ms here) when the socket is closed,
    /// so an ADD that finds the chain right deletes nothing.
    func setup(_ addresses: [(IPAddress, Int)], stale: [NFTRuleHandle], postrouting: [NFTRuleHandle]) -> NFTTransaction {
        var tx = NFTTransaction()
        tx.add(IPMasquerade.table)
        tx.add(IPMasquerade.checks)
        tx.add(IPMasquerade.postrouting)
        if postrouting.count != 3 {
            if !postrouting.isEmpty { tx.flush(IPMasquerade.postrouting) }
            tx.add(NFTRule(IPMasquerade.postrouting, NFTMatch.family(.ipv4) + NFTMatch.destination(CIDR("224.0.0.0/4")!) + [.verdict(.return)]))
            tx.add(NFTRule(IPMasquerade.postrouting, NFTMatch.family(.ipv6) + NFTMatch.destination(CIDR("ff00::/8")!) + [.verdict(.return)]))
            tx.add(NFTRule(IPMasquerade.postrouting, [.verdict(.goto(IPMasquerade.checks.name))]))
        }
        for rule in stale where rule.comment?.hasPrefix(instanceHash) == true {
            tx.delete(ruleWithHandle: rule.handle, in: IPMasquerade.checks)
        }
        for (address, prefixLength) in addresses {
            let subnet = CIDR(network: address, prefixLength: prefixLength)
            tx.add(NFTRule(IPMasquerade.checks, NFTMatch.family(address.family) + NFTMatch.source(address)
                           + NFTMatch.destination(subnet, .notEqual) + [.masquerade()], comment: comment))
        }
        return tx
    }

    /// Deletes this attachment's rules among `current`.
    func teardown(current: [NFTRuleHandle]) -> NFTTransaction {
        var tx = NFTTransaction()
        for rule in current where rule.comment?.hasPrefix(instanceHash) == true {
            tx.delete(ruleWithHandle: rule.handle, in: IPMasquerade.checks)
        }
        return tx
    }

    /// GC: deletes this network's rules whose attachment is not in `valid`.
    static func collect(network: String, valid: [(containerID: String, ifname: String)], current: [NFTRuleHandle]) -> NFTTransaction {
        let keep = Set(valid.map { IPMasquerade(network: network, containerID: $0.containerID, ifname: $0.ifname).comment })
        var tx = NFTTransaction()
        for rule in current where rule.comment?.hasPrefix(networkHash(network)) == true && !keep.contains(rule.comment ?? "") {
            tx.delete(ruleWithHandle: rule.handle, in: checks)
        }
        return tx
    }
}

extension IPMasquerade {
    /// Applies setup in the calling thread's namespace.
    func apply(_ addresses: [(IPAddress, Int)], _ nft: NFTablesNetlink) throws(SystemError) {
        try nft.apply(setup(addresses, stale: try nft.rules(in: IPMasquerade.checks),
                            postrouting: try nft.rules(in: IPMasquerade.postrouting)))
    }

    func remove(_ nft: NFTablesNetlink) throws(SystemError) {
        try nft.apply(teardown(current: try nft.rules(in: IPMasquerade.checks)))
    }
}
