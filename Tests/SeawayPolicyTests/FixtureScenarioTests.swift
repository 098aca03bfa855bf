import Foundation
import SeawayLoader
import SeawayModel
import SeawayPolicy
import Testing

/// `Fixtures/policy/xyz`, loaded from disk: the e2e layout (x, y, z × a, b, c, ports 80/81 on
/// TCP, UDP, SCTP) with three policies. The oracle below restates the fixture's policies in
/// plain terms; the evaluator must agree on every ordered pair.
@Suite struct FixtureScenarioTests {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    private static let pods = ["x", "y", "z"].flatMap { ns in ["a", "b", "c"].map { "\(ns)/\($0)" } }

    /// What the fixture's policies say, written independently of the evaluator:
    /// - x/a (deny-all-to-a + allow-b-from-y) takes only y/b on 80/TCP (its named port serve-80-tcp);
    /// - z's pods (restrict-egress) send only to namespace x on TCP 80-81, and to UDP 53 anywhere;
    /// - a pod always reaches itself.
    private static func oracle(_ from: String, _ to: String, _ port: Int, _ proto: L4Protocol) -> Bool {
        if from == to { return true }
        let egressOK = !from.hasPrefix("z/")
            || (to.hasPrefix("x/") && proto == .tcp && (80...81).contains(port))
            || (proto == .udp && port == 53)
        let ingressOK = to != "x/a" || (from == "y/b" && port == 80 && proto == .tcp)
        return egressOK && ingressOK
    }

    @Test(arguments: [(80, L4Protocol.tcp), (81, .tcp), (80, .udp), (53, .udp), (81, .sctp)])
    func everyPairMatchesTheOracle(port: Int, proto: L4Protocol) throws {
        let cluster = try ManifestLoader().load([Self.root.appendingPathComponent("Fixtures/policy/xyz").path])
        let evaluator = PolicyEvaluator(cluster: cluster)
        var disagreements: [String] = []
        var denied = 0
        for from in Self.pods {
            for to in Self.pods {
                let verdict = try evaluator.check(from: evaluator.endpoint(from), to: evaluator.endpoint(to),
                                                  port: .number(port), proto: proto)
                if !verdict.allowed { denied += 1 }
                if verdict.allowed != Self.oracle(from, to, port, proto) {
                    disagreements.append("\(from) -> \(to) \(port)/\(proto.rawValue): evaluator says \(verdict.allowed)")
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements)")
        // Guard against an oracle that drifted into agreeing with everything.
        #expect(denied > 0 && denied < 81)
    }
}
