import Testing
@testable import SeawayModel

/// YAMLDocuments reads libyaml's events into values: what Yams' parser used to give the
/// decoder (anchors, quoting, lines, one value per document), and its refusals.
struct YAMLDocumentsTests {
    private func documents(_ text: String) throws -> [YAMLValue] {
        var out: [YAMLValue] = []
        try YAMLDocuments.forEach(in: text) { out.append($0) }
        return out
    }

    private func syntaxError(_ text: String) -> YAMLDocuments.SyntaxError? {
        do {
            _ = try documents(text)
            return nil
        } catch {
            return error as? YAMLDocuments.SyntaxError
        }
    }

    @Test func valuesKeepTheirOrderQuotingAndLines() throws {
        let docs = try documents("a: 1\nb:\n  - x\n  - \"y\"\nc: {d: 'e'}\n")
        #expect(docs.count == 1)
        guard case let .mapping(pairs, line) = docs[0] else { Issue.record("not a mapping"); return }
        #expect(line == 1)
        #expect(pairs.map(\.key) == ["a", "b", "c"])
        guard case let .scalar(one, plain, oneLine) = pairs[0].value else { Issue.record("a"); return }
        #expect(one == "1" && plain && oneLine == 1)
        guard case let .sequence(items, itemsLine) = pairs[1].value, items.count == 2 else { Issue.record("b"); return }
        #expect(itemsLine == 3)
        guard case let .scalar(y, yPlain, yLine) = items[1] else { Issue.record("b[1]"); return }
        #expect(y == "y" && !yPlain && yLine == 4)
        guard case let .mapping(inner, _) = pairs[2].value, case let .scalar(e, ePlain, _) = inner[0].value else {
            Issue.record("c"); return
        }
        #expect(inner[0].key == "d" && e == "e" && !ePlain)
    }

    @Test func documentsComeOneByOneAndEmptyOnesAreNull() throws {
        let docs = try documents("---\na: 1\n---\n---\n- 2\n")
        #expect(docs.count == 3)
        guard case let .scalar(empty, plain, _) = docs[1] else { Issue.record("not a scalar"); return }
        #expect(empty.isEmpty && plain)
        #expect(try documents("# only a comment\n").isEmpty)
    }

    @Test func aliasesTakeTheirAnchorsValue() throws {
        let docs = try documents("base: &labels {app: web}\ncopy: *labels\n")
        guard case let .mapping(pairs, _) = docs[0], case let .mapping(copied, _) = pairs[1].value,
              case let .scalar(app, _, _) = copied[0].value else { Issue.record("no alias"); return }
        #expect(copied[0].key == "app" && app == "web")
        #expect(syntaxError("a: *nowhere\n") == .init(message: "found undefined alias", line: 1))
    }

    @Test func duplicateKeysAreRefusedWithTheirLine() {
        #expect(syntaxError("a: 1\nb: 2\na: 3\n") == .init(message: "duplicated key \"a\" in mapping", line: 3))
        // Past sixteen keys the check hashes instead of comparing pairs.
        let many = (0..<20).map { "k\($0): v\n" }.joined() + "k7: again\n"
        #expect(syntaxError(many) == .init(message: "duplicated key \"k7\" in mapping", line: 21))
        // The same key in two different mappings is fine.
        #expect(syntaxError("a: {x: 1}\nb: {x: 2}\n") == nil)
    }

    @Test func libyamlsErrorsKeepItsWordingAndLine() {
        let e = syntaxError("a: 1\nb: [1, 2\nc: 3\n")
        // libyaml notices the unclosed sequence on the line after it, as Yams reported it.
        #expect(e == .init(message: "while parsing a flow sequence did not find expected ',' or ']'", line: 3))
        // A reader error (a character YAML does not allow) has no line.
        #expect(syntaxError("a: \u{01}\n") == .init(message: "control characters are not allowed", line: nil))
    }

    @Test func deepNestingIsASyntaxErrorNotACrash() {
        let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(syntaxError(deep)?.message.contains("Maximum nesting level") == true)
    }

    @Test func singleRefusesASecondDocument() throws {
        #expect(try YAMLDocuments.single(in: "") == nil)
        #expect(try YAMLDocuments.single(in: "a: 1\n") != nil)
        #expect(throws: YAMLDocuments.SyntaxError.self) { try YAMLDocuments.single(in: "a: 1\n---\nb: 2\n") }
    }

    @Test func manifestErrorsCarryTheChunksLineOffset() throws {
        // Past the size ManifestDecoder splits at, the error's line is still the file's.
        let filler = (0..<20_000).map { "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n\($0)}\n" }.joined()
        let text = filler + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x, name: y}\n"
        var state = ClusterState()
        do {
            try ManifestDecoder().decode(text, file: "big.yaml", into: &state)
            Issue.record("no error")
        } catch let e as ManifestError {
            #expect(e.file == "big.yaml")
            #expect(e.line == 20_000 * 4 + 4)
            #expect(e.message == "invalid YAML: duplicated key \"name\" in mapping")
        }
    }
}

/// Damaged manifests fail with a ManifestError (or still decode); never a crash or a hang.
struct DamagedManifestTests {
    @Test func mutatedManifestsFailCleanly() throws {
        let original = Array("""
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: shop, labels: &l {app: web}}
            spec:
              selector: *l
              clusterIP: 10.96.0.10
              ports:
              - {name: http, port: 80, targetPort: 8080, protocol: TCP}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            endpoints:
            - addresses: ["10.244.1.5"]
              conditions: {ready: true}
            ports: [{name: http, port: 8080, protocol: TCP}]

            """.utf8)
        let alphabet = Array("{}[]:-,&*!|>'\"#\n ab1".utf8)
        var rng = SystemRandomNumberGenerator()
        var failed = 0, decoded = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
                default: bytes[at] = alphabet.randomElement(using: &rng)!
                }
            }
            var state = ClusterState()
            do {
                try ManifestDecoder().decode(String(decoding: bytes, as: UTF8.self), file: "m.yaml", into: &state)
                decoded += 1
            } catch let e as ManifestError {
                #expect(e.file == "m.yaml")
                failed += 1
            }
        }
        // Both outcomes happen: the mutations are neither all harmless nor all fatal.
        #expect(failed > 100 && decoded > 100)
    }
}
