/// The parts of `metadata` Seaway uses.
public struct ObjectMeta: Sendable, Hashable {
    public var name: String
    /// Defaults to `default` for namespaced kinds, as `kubectl apply` does.
    public var namespace: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// Where the object was read from; not part of the Kubernetes object.
    public var source: ManifestLocation?

    public init(name: String, namespace: String = "", labels: [String: String] = [:],
                annotations: [String: String] = [:], source: ManifestLocation? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.source = source
    }

    static func decode(_ f: Field, namespaced: Bool) throws -> ObjectMeta {
        guard let meta = f["metadata"] else { throw f.error("metadata is required") }
        try meta.requireMapping()
        guard let nameField = meta["name"] else {
            throw FieldError(path: meta.child("name"), line: meta.line, message: "name is required")
        }
        let name = try nameField.string()
        try validateDNSName(name, nameField, maxLength: 253)
        var namespace = ""
        if namespaced {
            if let ns = meta["namespace"] {
                namespace = try ns.string()
                try validateDNSLabel(namespace, ns)
            } else {
                namespace = "default"
            }
        }
        return ObjectMeta(
            name: name, namespace: namespace,
            labels: try meta["labels"]?.stringMap() ?? [:],
            annotations: try meta["annotations"]?.stringMap() ?? [:])
    }
}

/// RFC 1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric.
func isDNSLabel(_ s: String, maxLength: Int = 63) -> Bool {
    let u = Array(s.utf8)
    guard !u.isEmpty, u.count <= maxLength else { return false }
    func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
    guard alnum(u.first!), alnum(u.last!) else { return false }
    return u.allSatisfy { alnum($0) || $0 == 45 }
}

func validateDNSLabel(_ s: String, _ f: Field) throws {
    guard isDNSLabel(s) else {
        throw f.error("'\(s)' is not a valid DNS label (lowercase letters, digits and '-', at most 63)")
    }
}

func validateDNSName(_ s: String, _ f: Field, maxLength: Int) throws {
    let ok = !s.isEmpty && s.utf8.count <= maxLength && s.split(separator: ".", omittingEmptySubsequences: false)
        .allSatisfy { isDNSLabel(String($0)) }
    guard ok else { throw f.error("'\(s)' is not a valid name (RFC 1123 subdomain)") }
}
