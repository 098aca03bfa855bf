import Testing
@testable import SeawayModel

@Suite struct ParallelDecodeTests {
    /// Enough namespaces to be split into several chunks.
    private func bigStream(count: Int) -> String {
        (0..<count).map { "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-\($0)\n  labels: {padding: \"\(String(repeating: "x", count: 200))\"}\n" }.joined()
    }

    @Test func splitsOnlyAtDocumentMarkers() {
        let text = bigStream(count: 5000)
        let chunks = DocumentChunks.split(text)
        #expect(chunks.count > 1)
        #expect(chunks.map { $0.text(in: text) }.joined() == text)
        for c in chunks { #expect(c.text(in: text).hasPrefix("---\n")) }
        // Each chunk's offset is the number of lines before it.
        var lines = 0
        for c in chunks {
            #expect(c.lineOffset == lines)
            lines += c.text(in: text).utf8.filter { $0 == UInt8(ascii: "\n") }.count
        }
    }

    @Test func parallelDecodeKeepsOrderAndSources() throws {
        var state = ClusterState()
        try ManifestDecoder().decode(bigStream(count: 5000), file: "big.yaml", into: &state)
        #expect(state.namespaces.count == 5000)
        #expect(state.namespaces.map(\.metadata.name) == (0..<5000).map { "ns-\($0)" })
        // Document i starts at line 6*i + 2 (after its "---").
        #expect(state.namespaces[4321].metadata.source == ManifestLocation(file: "big.yaml", line: 6 * 4321 + 2))
    }

    @Test func errorsLateInALargeFileNameTheRightLine() throws {
        var text = bigStream(count: 5000)
        text += "---\napiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 0}]\n"
        var state = ClusterState()
        do {
            try ManifestDecoder().decode(text, file: "big.yaml", into: &state)
            Issue.record("expected an error")
        } catch let e as ManifestError {
            #expect(e.line == 6 * 5000 + 6)
            #expect(e.field == "spec.ports[0].port")
        }
        // A YAML syntax error late in the file, too.
        let broken = bigStream(count: 5000) + "---\nkind: [unclosed\n"
        #expect(throws: ManifestError.self) { try ManifestDecoder().decode(broken, file: "b.yaml", into: &state) }
        do {
            try ManifestDecoder().decode(broken, file: "b.yaml", into: &state)
        } catch let e as ManifestError {
            #expect((e.line ?? 0) >= 6 * 5000 + 2)
        }
    }
}
