/// A resolv.conf's `nameserver`, `domain`, `search` and `options` lines, as host-local turns
/// its `resolvConf` file into the result's `dns`.
public enum ResolvConf {
    public static func parse(_ text: String) -> CNIResult.DNS {
        var dns = CNIResult.DNS()
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let key = fields.first, !key.hasPrefix("#"), !key.hasPrefix(";") else { continue }
            let values = Array(fields.dropFirst())
            switch key {
            case "nameserver": dns.nameservers += values.prefix(1)
            case "domain": dns.domain = values.first
            case "search": dns.search += values
            case "options": dns.options += values
            default: continue
            }
        }
        return dns
    }
}
