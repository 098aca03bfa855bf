import Foundation
import SeawayDNS
import SeawayLoader
import SeawayModel

/// `Fixtures/dns/cluster.yaml` and helpers that ask its zone questions.
enum DNSFixture {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let path = root.appendingPathComponent("Fixtures/dns").path

    static let cluster: ClusterState = try! ManifestLoader().load([path])

    static func zone(_ configure: (inout KubernetesDNSOptions) -> Void = { _ in }) -> KubernetesZone {
        var options = KubernetesDNSOptions()
        options.serial = 1_700_000_000
        configure(&options)
        return KubernetesZone(options: options, cluster: cluster)
    }
}

extension KubernetesZone {
    /// The zone's answer to `name` `type`; nil when the question is not the zone's.
    func ask(_ name: String, _ type: DNSType) -> ZoneAnswer? {
        guard case let .answer(a) = answer(DNSQuestion(name: DNSName(name)!, type: type)) else { return nil }
        return a
    }
}

extension ZoneAnswer {
    /// Answer records as dig prints them, `name ttl IN type data` with single spaces.
    var answerLines: [String] { answers.map(\.line) }
    var additionalLines: [String] { additional.map(\.line) }
    var isNoData: Bool { rcode == .noError && answers.isEmpty && authority.first?.type == .soa }
}

extension DNSRecord {
    var line: String { description.replacingOccurrences(of: "\t", with: " ") }
}
