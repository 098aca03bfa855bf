/// A CNI error as the specification prints it: `{"cniVersion", "code", "msg", "details"}`
/// on stdout with a non-zero exit.
public struct CNIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The specification's well-known codes (0-99); 100 and up are the plugin's own.
    public struct Code: RawRepresentable, Sendable, Hashable {
        public var rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        public static let incompatibleVersion = Code(rawValue: 1)
        public static let unsupportedField = Code(rawValue: 2)
        public static let unknownContainer = Code(rawValue: 3)
        public static let invalidEnvironment = Code(rawValue: 4)
        public static let ioFailure = Code(rawValue: 5)
        public static let decodingFailure = Code(rawValue: 6)
        public static let invalidConfig = Code(rawValue: 7)
        public static let tryAgainLater = Code(rawValue: 11)
        /// STATUS: the plugin cannot serve ADDs.
        public static let notAvailable = Code(rawValue: 50)
        /// STATUS: not available, and existing attachments may be affected too.
        public static let notAvailableLimited = Code(rawValue: 51)
        /// What the reference plugins use for everything else (an allocation that failed).
        public static let generic = Code(rawValue: 999)
    }

    public var code: Code
    public var msg: String
    public var details: String?

    public init(_ code: Code, _ msg: String, details: String? = nil) {
        self.code = code
        self.msg = msg
        self.details = details
    }

    public var description: String { details.map { "\(msg): \($0)" } ?? msg }

    /// The error document for `version` (the request's, else the newest we speak).
    public func json(version: String) -> JSONValue {
        var fields: [(String, JSONValue)] = [("cniVersion", .string(version)), ("code", .number(Double(code.rawValue))), ("msg", .string(msg))]
        if let details { fields.append(("details", .string(details))) }
        return .object(fields)
    }
}
