import SeawayKernel
import SeawayNetlink
import SeawayNet

/// macspoofchk: frames from the pod's port must carry the pod's MAC, in the reference's
/// nftables shape: table `bridge nat`, base chain `PREROUTING` (filter, prerouting, -300),
/// `iifname <host veth> jump cni-br-iface-<id>`, which jumps to `cni-br-iface-<id>-mac`:
/// `ether saddr <mac> return`, then `drop`. `<id>` is `<container id>-<ifname>`.
struct SpoofCheck {
    let hostInterface: String
    let mac: MACAddress?
    let reference: String

    init(hostInterface: String, mac: MACAddress?, containerID: String, ifname: String) {
        self.hostInterface = hostInterface
        self.mac = mac
        reference = containerID + "-" + ifname
    }

    static let table = NFTTable(.bridge, "nat")
    static let prerouting = NFTChain(table, "PREROUTING", base: .init(type: "filter", hook: .prerouting, priority: -300))
    var interfaceChain: NFTChain { NFTChain(SpoofCheck.table, "cni-br-iface-" + reference) }
    var macChain: NFTChain { NFTChain(SpoofCheck.table, "cni-br-iface-" + reference + "-mac") }
    var comment: String { "macspoofchk-" + reference }

    /// One transaction (the reference needs two): table and chains, this port's rules
    /// replaced. (A fresh port's chains are empty, so the flushes delete nothing.)
    func setup(current prerouting: [NFTRuleHandle]) -> NFTTransaction {
        var tx = NFTTransaction()
        tx.add(SpoofCheck.table)
        tx.add(SpoofCheck.prerouting)
        tx.add(interfaceChain)
        tx.add(macChain)
        tx.flush(interfaceChain)
        tx.flush(macChain)
        for rule in prerouting where rule.comment == comment { tx.delete(ruleWithHandle: rule.handle, in: SpoofCheck.prerouting) }
        tx.add(NFTRule(SpoofCheck.prerouting, NFTMatch.inputInterface(hostInterface) + [.verdict(.jump(interfaceChain.name))], comment: comment))
        tx.add(NFTRule(interfaceChain, [.verdict(.jump(macChain.name))], comment: comment))
        if let mac { tx.add(NFTRule(macChain, NFTMatch.etherSource(mac) + [.verdict(.return)], comment: comment)) }
        tx.add(NFTRule(macChain, [.verdict(.drop)], comment: comment))
        return tx
    }

    /// Removes the jump and both chains (flushed first: a chain is deleted empty).
    func teardown(current prerouting: [NFTRuleHandle], chainsExist: Bool) -> NFTTransaction {
        var tx = NFTTransaction()
        for rule in prerouting where rule.comment == comment { tx.delete(ruleWithHandle: rule.handle, in: SpoofCheck.prerouting) }
        if chainsExist {
            tx.flush(interfaceChain)
            tx.flush(macChain)
            tx.delete(interfaceChain)
            tx.delete(macChain)
        }
        return tx
    }

    func apply(_ nft: NFTablesNetlink) throws(SystemError) {
        try nft.apply(setup(current: try nft.rules(in: SpoofCheck.prerouting)))
    }

    func remove(_ nft: NFTablesNetlink) throws(SystemError) {
        try nft.apply(teardown(current: try nft.rules(in: SpoofCheck.prerouting), chainsExist: try nft.exists(interfaceChain)))
    }
}
