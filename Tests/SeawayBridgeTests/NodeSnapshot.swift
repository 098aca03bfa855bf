import Foundation
import SeawayTestSupport

/// What a node and its pods look like after the plugin ran, as iproute2 and sysctl report
/// it, with what is random by design made comparable: MAC addresses (but requested ones),
/// host veth names, link-local addresses, namespace names. Two nodes that did the same thing
/// have equal snapshots.
struct NodeSnapshot: Equatable, CustomStringConvertible {
    var lines: [String]

    var description: String { lines.joined(separator: "\n") }

    /// The link fields compared (txqlen is not: a documented difference, docs/cni.md).
    static let linkFields = ["ifname", "link_type", "mtu", "operstate", "master", "promiscuity", "flags"]
    static let bridgeFields = ["vlan_filtering", "stp_state"]
    static let portFields = ["state", "hairpin", "learning", "flood"]

    /// The sysctls compared, as `sysctl -a -r` patterns.
    static let nodeSysctls = ["^net\\.ipv4\\.ip_forward$", "^net\\.ipv6\\.conf\\.all\\.forwarding$", "^net\\.ipv6\\.conf\\..*\\.accept_ra$"]
    static let podSysctls = ["^net\\.ipv6\\.conf\\.eth.*\\.(accept_dad|enhanced_dad|disable_ipv6)$", "^net\\.ipv4\\.conf\\.eth.*\\.arp_notify$",
                             "^net\\.ipv6\\.conf\\.lo\\.disable_ipv6$"]

    init(_ node: CNINode, keepMACs: Set<String> = [], sysctls: [String] = NodeSnapshot.nodeSysctls,
         podSysctls: [String] = NodeSnapshot.podSysctls) throws {
        var lines: [String] = []
        var names: [String: String] = [:]
        let normalise = { (text: String) -> String in NodeSnapshot.normalise(text, keepMACs: keepMACs, names: &names) }
        func describe(_ ns: ThrowawayNamespace, _ label: String) throws {
            for link in try NodeSnapshot.json(ns, ["ip", "-d", "-j", "link", "show"]) {
                var parts = NodeSnapshot.linkFields.compactMap { k in link[k].map { "\(k)=\(NodeSnapshot.text($0))" } }
                if let mac = link["address"] as? String { parts.append("address=\(mac)") }
                if let info = link["linkinfo"] as? [String: Any] {
                    if let kind = info["info_kind"] as? String { parts.append("kind=\(kind)") }
                    if let data = info["info_data"] as? [String: Any], info["info_kind"] as? String == "bridge" {
                        parts += NodeSnapshot.bridgeFields.compactMap { k in data[k].map { "\(k)=\(NodeSnapshot.text($0))" } }
                    }
                    if let data = info["info_slave_data"] as? [String: Any] {
                        parts += NodeSnapshot.portFields.compactMap { k in data[k].map { "port.\(k)=\(NodeSnapshot.text($0))" } }
                    }
                }
                lines.append("\(label) link " + normalise(parts.joined(separator: " ")))
            }
            for link in try NodeSnapshot.json(ns, ["ip", "-j", "addr", "show"]) {
                let name = link["ifname"] as? String ?? "?"
                for a in link["addr_info"] as? [[String: Any]] ?? [] where a["scope"] as? String != "link" {
                    let fields = ["family", "local", "prefixlen", "broadcast", "scope"].compactMap { k in a[k].map { "\(k)=\(NodeSnapshot.text($0))" } }
                    lines.append("\(label) addr " + normalise("dev=\(name) " + fields.joined(separator: " ")))
                }
            }
            for family in ["-4", "-6"] {
                for route in try NodeSnapshot.json(ns, ["ip", family, "-j", "route", "show", "table", "all"]) {
                    let text = route.keys.sorted().filter { $0 != "metric" && $0 != "pref" }.map { "\($0)=\(NodeSnapshot.text(route[$0]!))" }
                    let line = normalise(text.joined(separator: " "))
                    if !line.contains("LL") { lines.append("\(label) route\(family) " + line) }
                }
            }
        }
        func sysctl(_ ns: ThrowawayNamespace, _ label: String, _ patterns: [String]) throws {
            for pattern in patterns {
                for line in try ns.exec(["sysctl", "-a", "-r", pattern], check: false).output.split(separator: "\n") {
                    lines.append("\(label) sysctl " + normalise(String(line)))
                }
            }
        }
        // So the comparison is not a race between the plugins.
        try node.waitForAddresses()
        try describe(node.node, "node")
        try sysctl(node.node, "node", sysctls)
        for (name, pod) in node.pods.sorted(by: { $0.key < $1.key }) {
            try describe(pod, "pod \(name)")
            try sysctl(pod, "pod \(name)", podSysctls)
        }
        self.lines = lines.sorted()
    }

    static func json(_ ns: ThrowawayNamespace, _ args: [String]) throws -> [[String: Any]] {
        let out = try ns.exec(args).output
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    static func text(_ v: Any) -> String {
        if let a = v as? [Any] { return "[" + a.map(text).joined(separator: ",") + "]" }
        if let d = v as? [String: Any] { return "{" + d.keys.sorted().map { "\($0):\(text(d[$0]!))" }.joined(separator: ",") + "}" }
        if let b = v as? Bool { return b ? "true" : "false" }
        return "\(v)"
    }

    /// MACs become `MAC` (unless kept), `veth` + 8 hex digits `VETH1`, `VETH2`... in order of
    /// appearance, link-local IPv6 addresses `LL`, the throwaway namespaces' names `NS`.
    static func normalise(_ text: String, keepMACs: Set<String>, names: inout [String: String]) -> String {
        var s = text
        let mac = try! NSRegularExpression(pattern: "\\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\\b")
        for m in mac.matches(in: s, range: NSRange(s.startIndex..., in: s)).reversed() {
            let r = Range(m.range, in: s)!
            if !keepMACs.contains(String(s[r])) { s.replaceSubrange(r, with: "MAC") }
        }
        let veth = try! NSRegularExpression(pattern: "\\bveth[0-9a-f]{8}\\b")
        for m in veth.matches(in: s, range: NSRange(s.startIndex..., in: s)).reversed() {
            let r = Range(m.range, in: s)!
            let name = String(s[r])
            if names[name] == nil { names[name] = "VETH\(names.count + 1)" }
            s.replaceSubrange(r, with: names[name]!)
        }
        s = s.replacingOccurrences(of: "fe80::[0-9a-f:]*", with: "LL", options: .regularExpression)
        s = s.replacingOccurrences(of: "cni-[a-z]+-[-a-z0-9]+", with: "NS", options: .regularExpression)
        return s
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
