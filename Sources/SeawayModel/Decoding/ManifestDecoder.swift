import Dispatch
import Foundation

/// Decodes manifest text (multi-document YAML, JSON, or `kind: List`) into a ClusterState.
///
/// Pure: the caller supplies the text and the name to report in errors. Unknown kinds are
/// skipped and listed; a malformed object stops decoding with a `ManifestError` naming the
/// file, line, object and field.
public struct ManifestDecoder: Sendable {
    public init() {}

    /// Decodes `text` from `file` into `state`. Large texts are split at document
    /// boundaries and decoded on every core; the result is the same as a sequential decode.
    public func decode(_ text: String, file: String, into state: inout ClusterState) throws {
        let chunks = DocumentChunks.split(text)
        if chunks.count == 1 {
            try decodeChunk(text, file: file, lineOffset: 0, into: &state)
            return
        }
        let results = UnsafeResults(count: chunks.count)
        DispatchQueue.concurrentPerform(iterations: chunks.count) { i in
            var partial = ClusterState()
            do {
                try decodeChunk(chunks[i].text(in: text), file: file, lineOffset: chunks[i].lineOffset, into: &partial)
                results.set(i, .success(partial))
            } catch {
                results.set(i, .failure(error))
            }
        }
        // Merge in document order; report the first failing document, as a sequential decode would.
        for result in results.values {
            switch result {
            case let .success(partial): state.append(partial)
            case let .failure(error): throw error
            }
        }
    }

    private func decodeChunk(_ text: String, file: String, lineOffset: Int, into state: inout ClusterState) throws {
        do {
            try YAMLDocuments.forEach(in: text) { root in
                try decodeDocument(Field(node: root, path: ""), file: file, lineOffset: lineOffset, into: &state)
            }
        } catch let error as YAMLDocuments.SyntaxError {
            throw ManifestDecoder.syntaxError(error, file: file, lineOffset: lineOffset)
        }
    }

    /// `itemKind`: for the items of a typed list (`ServiceList` as the API server returns
    /// it, whose items carry no kind or apiVersion), the kind and apiVersion they have.
    private func decodeDocument(_ doc: Field, file: String, lineOffset: Int, into state: inout ClusterState,
                                itemKind: (kind: String, apiVersion: String)? = nil) throws {
        if doc.isNull { return }
        let docLine = (doc.line ?? 1) + lineOffset
        guard case .mapping = doc.node else {
            throw ManifestError(file: file, line: docLine, object: nil, field: nil,
                                message: "expected a Kubernetes object, found \(doc.kindName)")
        }
        let kind = (try? doc["kind"]?.string()) ?? itemKind?.kind
        guard let kind else {
            throw ManifestError(file: file, line: docLine, object: nil, field: "kind", message: "kind is required")
        }
        if kind == "List" || kind.hasSuffix("List") && doc["items"] != nil {
            let listVersion = (try? doc["apiVersion"]?.string()) ?? ""
            let items = kind == "List" ? nil : (String(kind.dropLast(4)), listVersion)
            for item in (try? doc["items"]?.list()) ?? [] {
                try decodeDocument(Field(node: item.node, path: ""), file: file, lineOffset: lineOffset, into: &state, itemKind: items)
            }
            return
        }
        let apiVersion = (try? doc["apiVersion"]?.string()) ?? itemKind?.apiVersion ?? ""
        let identity = ManifestDecoder.identity(of: doc, kind: kind)
        let source = ManifestLocation(file: file, line: docLine)
        do {
            switch (kind, apiVersion) {
            case ("Service", "v1"):
                var o = try Service.decode(doc); o.metadata.source = source; state.services.append(o)
            case ("EndpointSlice", "discovery.k8s.io/v1"):
                var o = try EndpointSlice.decode(doc); o.metadata.source = source; state.endpointSlices.append(o)
            case ("Endpoints", "v1"):
                var o = try Endpoints.decode(doc); o.metadata.source = source; state.endpoints.append(o)
            case ("Node", "v1"):
                var o = try ClusterNode.decode(doc); o.metadata.source = source; state.nodes.append(o)
            case ("Pod", "v1"):
                var o = try Pod.decode(doc); o.metadata.source = source; state.pods.append(o)
            case ("Namespace", "v1"):
                var o = try Namespace.decode(doc); o.metadata.source = source; state.namespaces.append(o)
            case ("ServiceCIDR", "networking.k8s.io/v1"), ("ServiceCIDR", "networking.k8s.io/v1beta1"):
                var o = try ServiceCIDR.decode(doc); o.metadata.source = source; state.serviceCIDRs.append(o)
            case ("NetworkPolicy", "networking.k8s.io/v1"):
                var o = try NetworkPolicy.decode(doc); o.metadata.source = source; state.networkPolicies.append(o)
            case ("AdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1"):
                var o = try AdminNetworkPolicy.decode(doc, tier: .admin); o.metadata.source = source; state.adminPolicies.append(o)
            case ("ClusterNetworkPolicy", "policy.networking.k8s.io/v1alpha2"):
                var o = try AdminNetworkPolicy.decodeClusterNetworkPolicy(doc); o.metadata.source = source; state.adminPolicies.append(o)
            case ("BaselineAdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1"):
                var o = try AdminNetworkPolicy.decode(doc, tier: .baseline); o.metadata.source = source; state.adminPolicies.append(o)
            default:
                state.skipped.append("\(identity) (\(apiVersion.isEmpty ? "no apiVersion" : apiVersion), \(source))")
            }
        } catch let e as FieldError {
            throw ManifestError(file: file, line: (e.line ?? doc.line ?? 1) + lineOffset, object: identity,
                                field: e.path, message: e.message)
        }
    }

    /// `Kind ns/name` (or `Kind name`), best effort, for error messages.
    static func identity(of doc: Field, kind: String) -> String {
        let name = (try? doc["metadata"]?["name"]?.string()) ?? "<unnamed>"
        if let ns = try? doc["metadata"]?["namespace"]?.string() { return "\(kind) \(ns)/\(name)" }
        return "\(kind) \(name)"
    }

    static func syntaxError(_ error: YAMLDocuments.SyntaxError, file: String, lineOffset: Int = 0) -> ManifestError {
        ManifestError(file: file, line: error.line.map { $0 + lineOffset }, object: nil, field: nil,
                      message: "invalid YAML: \(error.message)")
    }
}

/// Thread-safe slots for the chunk results of a parallel decode.
private final class UnsafeResults: @unchecked Sendable {
    private var slots: [Result<ClusterState, Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: Result<ClusterState, Error>) {
        lock.lock()
        slots[i] = r
        lock.unlock()
    }

    var values: [Result<ClusterState, Error>] { slots.map { $0! } }
}
