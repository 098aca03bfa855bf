import Foundation

/// Pretty-printed JSON text with sorted keys and a final newline: every `--output json` of
/// the policy commands, so their layout stays the same.
func jsonText(_ object: Any) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self) + "\n"
}
