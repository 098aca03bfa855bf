extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line breaks. Works on scalars, not
    /// Characters: `"\r\n"` is one Character in Swift, so a Character set would miss it.
    public func trimmingASCIIWhitespace() -> String {
        func isSpace(_ s: Unicode.Scalar) -> Bool { s == " " || s == "\t" || s == "\n" || s == "\r" }
        let scalars = Substring(self).unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
