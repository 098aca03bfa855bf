import SeawayProxyCore
import Testing
@testable import SeawayRender

/// Chains kept in one buffer read back as the chains that were written.
@Suite struct ChainBlockTests {
    @Test func chainsReadBackAsWritten() {
        var writer = ChainBlockWriter(reservingChains: 1, nameBytes: 1, ruleBytes: 1)
        writer.startChain("KUBE-SVC-A")
        writer.append("-A KUBE-SVC-A -j KUBE-SEP-B")
        writer.startChain(bytes: Array("KUBE-SEP-B".utf8)[...])  // no rules
        writer.startChain("KUBE-SEP-C")
        var lines = LineBlock()
        lines.append("-A KUBE-SEP-C -j ACCEPT")
        lines.append("-A KUBE-SEP-C -j DROP")
        writer.append(lines)
        let block = writer.finish()

        #expect(block.allNames == ["KUBE-SVC-A", "KUBE-SEP-B", "KUBE-SEP-C"])
        #expect(block.rules(at: 0).lines == ["-A KUBE-SVC-A -j KUBE-SEP-B"])
        #expect(block.rules(at: 1).isEmpty)
        #expect(block.rules(at: 2).lines == ["-A KUBE-SEP-C -j ACCEPT", "-A KUBE-SEP-C -j DROP"])
        #expect(block.rules(at: 2).count == 2)

        var written = [UInt8](repeating: 0, count: block.declarationsByteCount(":", " - [0:0]\n"))
        let n = written.withUnsafeMutableBufferPointer { block.writeDeclarations(":", " - [0:0]\n", into: $0.baseAddress!) }
        #expect(n == written.count)
        #expect(String(decoding: written, as: UTF8.self) == ":KUBE-SVC-A - [0:0]\n:KUBE-SEP-B - [0:0]\n:KUBE-SEP-C - [0:0]\n")
        #expect(block.count == 3)
        #expect(block.nameByteCount == 30)
        #expect(block.ruleByteCount == block.rules.count)
        // A piece of output joins to the same text (a longer, non-literal prefix this time),
        // and its size taken from the block's totals is the size written.
        var pieces = TextPieces()
        pieces.appendDeclarations("add chain ip " + "t ", [block], "\n")
        let joined = pieces.joined
        #expect(pieces.byteCount == joined.count)
        #expect(String(decoding: joined, as: UTF8.self) == "add chain ip t KUBE-SVC-A\nadd chain ip t KUBE-SEP-B\nadd chain ip t KUBE-SEP-C\n")
    }

    /// Text written a chunk at a time is the joined text, whatever the chunk size: pieces
    /// grouped into chunks, a piece larger than a chunk passed on its own, and the same
    /// from a whole ruleset (the way `seaway render` writes it).
    @Test func chunksConcatenateToTheJoinedText() throws {
        var writer = ChainBlockWriter()
        for i in 0..<50 {
            writer.startChain("KUBE-SEP-\(i)")
            writer.append("-A KUBE-SEP-\(i) -j DNAT --to-destination 10.0.0.\(i):80")
        }
        let block = writer.finish()
        let hashes = Array(repeating: UInt8(ascii: "#"), count: 3000)
        var pieces = TextPieces()
        pieces.append("*nat\n")
        pieces.appendDeclarations(":", [block, ChainBlock(), block], " - [0:0]\n")
        pieces.appendWrapped(":", "KUBE-SERVICES", " - [0:0]\n")
        pieces.append(bytes: hashes)
        pieces.append(bytes: [])
        pieces.appendRules([block])
        pieces.append("COMMIT\n")
        let joined = pieces.joined
        let declarations = String(decoding: block.declarationsText, as: UTF8.self)
        let expected = "*nat\n" + declarations + declarations + ":KUBE-SERVICES - [0:0]\n" + String(decoding: hashes, as: UTF8.self)
            + String(decoding: block.rules, as: UTF8.self) + "COMMIT\n"
        #expect(String(decoding: joined, as: UTF8.self) == expected)
        #expect(pieces.count == 7, "empty blocks and arrays are no pieces")
        var parts: [UInt8] = []
        pieces.forEachPart { parts.append(contentsOf: $0) }
        #expect(parts == joined)
        let pieceSizes = [5, declarations.utf8.count, ":KUBE-SERVICES - [0:0]\n".utf8.count, 3000, block.rules.count, 7]
        for chunkBytes in [1, 64, 1000, 2999, 3000, 4096, 1 << 20] {
            var chunks: [[UInt8]] = []
            pieces.forEachChunk(chunkBytes: chunkBytes) { chunks.append(Array($0)) }
            #expect(chunks.flatMap { $0 } == joined, "chunks of \(chunkBytes) bytes")
            // Chunks are as full as the pieces allow, or one piece too big for a chunk.
            #expect(chunks.allSatisfy { chunk in chunk.count <= chunkBytes || pieceSizes.contains(chunk.count) })
        }

        for fixture in RenderFixture.all {
            let cluster = try fixture.cluster()
            for mode in ProxyMode.allCases {
                for ruleset in try RulesetRenderer.render(mode: mode, cluster: cluster, options: fixture.options(mode, cluster: cluster)) {
                    var written: [UInt8] = []
                    ruleset.forEachChunk { written.append(contentsOf: $0) }
                    #expect(written == ruleset.bytes, "\(fixture.path) \(mode) \(ruleset.family)")
                }
            }
        }
    }
}

extension ChainBlockTests {
    /// `rule` starts each line with the prefix and the chain's name; a head, a line written
    /// in place, and lines far longer than the writer's first guess all read back whole.
    @Test func writerPrefixesRulesAndGrows() {
        var writer = ChainBlockWriter(rulesStartWith: "add rule ", table: "ip kube-proxy", reservingChains: 1, nameBytes: 1, ruleBytes: 1)
        #expect(writer.finish().isEmpty, "a writer with no chain writes an empty block")
        writer = ChainBlockWriter(rulesStartWith: "add rule ", table: "ip kube-proxy", reservingChains: 1, nameBytes: 1, ruleBytes: 1)
        let long = String(repeating: "x", count: 5000)
        writer.startChain("service-A")
        writer.rule("jump mark-for-masquerade")
        writer.rule(writing: { line in
            line.appendText("numgen random mod ")
            line.appendDecimal(2)
            line.append(Array(" vmap { 0 : goto a , 1 : goto b }".utf8)[...])
        })
        writer.startChain("endpoint-\(long)")
        writer.rule(head: "-A X", "-j \(long)")
        writer.rule(head: nil, "return")
        writer.rule("drop")
        let block = writer.finish()

        #expect(block.allNames == ["service-A", "endpoint-" + long])
        #expect(block.rules(at: 0).lines == [
            "add rule ip kube-proxy service-A jump mark-for-masquerade",
            "add rule ip kube-proxy service-A numgen random mod 2 vmap { 0 : goto a , 1 : goto b }",
        ])
        #expect(block.rules(at: 1).lines == ["-A X -j " + long, "add rule ip kube-proxy endpoint-\(long) return",
                                             "add rule ip kube-proxy endpoint-\(long) drop"])
        #expect(block.count == 2 && block.nameByteCount == 9 + 9 + 5000 && block.ruleByteCount == block.rules.count)
    }

    /// Every length from nothing to past the vector copies comes out byte for byte, at
    /// every alignment of source and target.
    @Test func bytesCopyExactlyAtEveryLength() {
        let source = (0..<400).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        source.withUnsafeBufferPointer { from in
            for count in 0...300 {
                for offset in [0, 1, 3] {
                    var target = [UInt8](repeating: 0, count: count + 8)
                    target.withUnsafeMutableBufferPointer { to in
                        copyBytes(from: from.baseAddress! + offset, count: count, to: to.baseAddress! + 4)
                    }
                    #expect(Array(target[4..<(4 + count)]) == Array(source[offset..<(offset + count)]), "\(count) bytes at +\(offset)")
                    #expect(target[..<4].allSatisfy { $0 == 0 } && target[(4 + count)...].allSatisfy { $0 == 0 }, "nothing outside \(count) bytes")
                }
            }
        }
    }
}

extension ChainBlock {
    /// `:NAME - [0:0]` for every chain, written out.
    fileprivate var declarationsText: [UInt8] {
        var text = [UInt8](repeating: 0, count: declarationsByteCount(":", " - [0:0]\n"))
        _ = text.withUnsafeMutableBufferPointer { writeDeclarations(":", " - [0:0]\n", into: $0.baseAddress!) }
        return text
    }
}
