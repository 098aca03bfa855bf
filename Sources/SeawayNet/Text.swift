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

extension UnsafeMutableBufferPointer where Element == UInt8 {
    /// Writes `n` in decimal from the start and returns how many bytes (20 hold any `Int`):
    /// addresses and rule text are written this way, without a `String` per number.
    @inlinable
    public func writeDecimal(_ n: Int) -> Int {
        // Small numbers first: a vmap's endpoint indexes, probabilities' divisors, most ports.
        if n >= 0 && n < 100 {
            if n < 10 {
                self[0] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: n)
                return 1
            }
            self[0] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: n / 10)
            self[1] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: n % 10)
            return 2
        }
        var value = n.magnitude
        let start = n < 0 ? 1 : 0
        if n < 0 { self[0] = UInt8(ascii: "-") }
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var i = start + digits - 1
        while i >= start {
            self[i] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: value % 10)
            value /= 10
            i -= 1
        }
        return start + digits
    }
}
