import SeawayKernel
import SeawayModel
import SeawayNetlink
import SeawayProxyCore

/// What kube-proxy probes on the node, read from the namespace `apply` runs in (the
/// dry-run `--host` file, filled in from the kernel): the interfaces' addresses (what
/// nodePortAddresses match), the nfacct counters (kube-proxy creates its own and uses those
/// that exist), and whether conntrack is liberal about TCP windows.
public enum NodeProbe {
    public static func host(nodeName: String?, nodeIPs: [IPAddress]?, environment: [String: String]) throws(DataplaneError) -> HostDescription {
        var host = HostDescription()
        host.nodeName = nodeName
        host.nodeIPs = nodeIPs
        do {
            host.interfaceAddresses = try RouteNetlink().addresses().filter { !$0.isLinkLocal }.map(\.address)
        } catch {
            throw DataplaneError("read the node's interface addresses", error)
        }
        host.nfacctCounters = ensureCounters(NFAcctCounter.all, environment: environment)
        host.tcpBeLiberal = (try? Sysctl.read("net/netfilter/nf_conntrack_tcp_be_liberal")) == "1"
        // iptables 1.6.2 and later (everything Debian ships) know --random-fully.
        host.iptablesRandomFully = true
        return host
    }

    /// Creates the counters that are missing and returns those that exist; none when the
    /// kernel or the nfacct tool cannot do accounting (kube-proxy then leaves them out too).
    public static func ensureCounters(_ names: [String], environment: [String: String]) -> [String] {
        guard !names.isEmpty else { return [] }
        let tools = NetfilterTools(environment: environment)
        guard let listed = try? tools.run("nfacct", ["list"]) else { return [] }
        let text = String(decoding: listed, as: UTF8.self)
        var present = names.filter { text.contains(" = \($0);") }
        for name in names where !present.contains(name) {
            if (try? tools.run("nfacct", ["add", name])) != nil { present.append(name) }
        }
        return names.filter { present.contains($0) }
    }
}
