import Testing
@testable import SeawayRender

/// Chains kept in one buffer read back as the chains that were written.
@Suite struct ChainBlockTests {
    @Test func chainsReadBackAsWritten() {
        var block = ChainBlock(reservingChains: 1, nameBytes: 1, ruleBytes: 1)
        block.startChain("KUBE-SVC-A")
        block.append("-A KUBE-SVC-A -j KUBE-SEP-B")
        block.startChain(Array("KUBE-SEP-B".utf8)[...])  // no rules
        block.startChain("KUBE-SEP-C")
        var lines = LineBlock()
        lines.append("-A KUBE-SEP-C -j ACCEPT")
        lines.append("-A KUBE-SEP-C -j DROP")
        block.append(lines)

        #expect(block.allNames == ["KUBE-SVC-A", "KUBE-SEP-B", "KUBE-SEP-C"])
        #expect(block.rules(at: 0).lines == ["-A KUBE-SVC-A -j KUBE-SEP-B"])
        #expect(block.rules(at: 1).isEmpty)
        #expect(block.rules(at: 2).lines == ["-A KUBE-SEP-C -j ACCEPT", "-A KUBE-SEP-C -j DROP"])
        #expect(block.rules(at: 2).count == 2)

        var written = [UInt8](repeating: 0, count: block.declarationsByteCount(":", " - [0:0]\n"))
        let n = written.withUnsafeMutableBufferPointer { block.writeDeclarations(":", " - [0:0]\n", into: $0.baseAddress!) }
        #expect(n == written.count)
        #expect(String(decoding: written, as: UTF8.self) == ":KUBE-SVC-A - [0:0]\n:KUBE-SEP-B - [0:0]\n:KUBE-SEP-C - [0:0]\n")
        // A piece of output joins to the same text (a longer, non-literal prefix this time).
        let piece = TextPiece.declarations("add chain ip " + "t ", block, "\n")
        #expect(piece.count == piece.bytes.count)
        #expect(String(decoding: piece.bytes, as: UTF8.self) == "add chain ip t KUBE-SVC-A\nadd chain ip t KUBE-SEP-B\nadd chain ip t KUBE-SEP-C\n")
    }
}
