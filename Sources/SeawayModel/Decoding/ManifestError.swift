/// Where an object came from: the file (or `<stdin>`) and the line its document starts on.
public struct ManifestLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// Bad input: says which file, line, object and field, and what is wrong with it.
///
/// Printed as `file:line: Kind ns/name: field.path: message`, the shape compilers use, so
/// editors and CI logs link straight to the offending line.
public struct ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    /// `Kind namespace/name`, when the object could be identified.
    public var object: String?
    /// A JSONPath-like field path such as `spec.ports[0].port`.
    public var field: String?
    public var message: String

    public init(file: String, line: Int?, object: String?, field: String?, message: String) {
        self.file = file
        self.line = line
        self.object = object
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ":"
        if let object { text += " \(object):" }
        if let field, !field.isEmpty { text += " \(field):" }
        return text + " " + message
    }
}

/// A problem inside one object, before the decoder knows the file and object name.
struct FieldError: Error {
    var path: String
    var line: Int?
    var message: String
}
