import ArgumentParser
import Foundation
import SeawayKube
import SeawayLoader
import SeawayModel
import SeawayProxyCore
import SeawayRender

enum OutputFormat: String, ExpressibleByArgument {
    case text, json
}

/// One loadable part of an IPVS ruleset.
enum IPVSSection: String, ExpressibleByArgument {
    case ipvsadm, addresses, ipsets, iptables
}

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print the rules kube-proxy would program on a node (a dry run).",
        discussion: """
            Text output is exactly what the kernel tool loads: an iptables-restore payload per
            family in iptables mode (a '#' comment line separates families), `nft -f` input in
            nftables mode (both families in one file). IPVS mode prints four parts (virtual
            servers for ipvsadm-restore, kube-ipvs0 addresses for ip -batch, ipsets for ipset
            restore, and iptables rules); --section prints one of them.
            """)

    @Option(help: "iptables, nftables, ipvs or userspace.")
    var mode: ProxyMode

    @OptionGroup var proxy: ProxyInputOptions

    @Option(name: .customLong("output"), help: "text or json.")
    var format: OutputFormat = .text

    @Flag(help: "List objects of kinds Seaway does not use on stderr.")
    var verbose = false

    @Option(help: "ipvs: print only one part, for its tool: ipvsadm (ipvsadm-restore), addresses (ip -batch), ipsets (ipset restore) or iptables (iptables-restore).")
    var section: IPVSSection?

    @Flag(help: "iptables: order chains like iptables-save and kube-proxy's tests (KUBE-NODEPORTS, KUBE-SERVICES, then by name) instead of each service's chains together.")
    var sortChains = false

    @Flag(help: "Print how long loading, rendering and writing out (formatting, for JSON) took on stderr.")
    var timings = false

    @OptionGroup var source: KubeSourceOptions

    @Argument(help: "Manifest files or directories (YAML or JSON); '-' reads stdin.")
    var manifests: [String] = []

    func validate() throws { try source.validate(manifests: manifests) }

    func run() throws {
        let clock = ContinuousClock()
        var phases: [(String, Duration)] = []
        func timed<T>(_ phase: String, _ body: () throws -> T) rethrows -> T {
            let start = clock.now
            defer { phases.append((phase, clock.now - start)) }
            return try body()
        }
        let output = try reportingErrors { () throws -> RenderOutput in
            let cluster = try timed("load") { try source.load(manifests) }
            if verbose {
                for s in cluster.skipped { printNotice("skipped \(s)") }
            }
            let options = try proxy.resolve(mode: mode, cluster: cluster)
            var rulesets = try timed("render") { try RulesetRenderer.render(mode: mode, cluster: cluster, options: options) }
            if sortChains { rulesets = rulesets.map { $0.sortedCanonically() } }
            if let section {
                guard mode == .ipvs else { throw ValidationError("--section applies to --mode ipvs") }
                return .bytes(rulesets.flatMap { ruleset -> [UInt8] in
                    guard case let .ipvs(r) = ruleset else { return [] }
                    switch section {
                    case .ipvsadm: return Array(r.ipvsadmText.utf8)
                    case .addresses: return Array(r.addressesText.utf8)
                    case .ipsets: return Array(r.ipsetText.utf8)
                    case .iptables: return r.iptables.bytes
                    }
                })
            }
            if format == .json { return .bytes(try timed("format") { Array(try Ruleset.json(rulesets).utf8) }) }
            return .rulesets(rulesets)
        }
        timed("write") {
            switch output {
            case let .bytes(bytes):
                bytes.withUnsafeBufferPointer(writeToStandardOutput)
            case let .rulesets(rulesets):
                // Each ruleset is written a few megabytes at a time as its text is put
                // together: joining a 10,000-service payload first would hold another 30-50 MB.
                for r in rulesets {
                    if rulesets.count > 1 {
                        Array("# seaway: \(r.family.rawValue) rules (\(r.loader))\n".utf8).withUnsafeBufferPointer(writeToStandardOutput)
                    }
                    r.forEachChunk(writeToStandardOutput)
                }
            }
        }
        if timings {
            for (phase, d) in phases { printNotice("\(phase): \(d.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 1))))") }
        }
    }
}

/// What `render` prints: text already made, or rulesets to write out chunk by chunk.
private enum RenderOutput {
    case bytes([UInt8])
    case rulesets([Ruleset])
}

/// Writes `bytes` to stdout from their own buffer (no `Data` copy).
private func writeToStandardOutput(_ bytes: UnsafeBufferPointer<UInt8>) {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
    FileHandle.standardOutput.write(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none))
}
