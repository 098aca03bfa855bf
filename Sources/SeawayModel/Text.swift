extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line breaks.
    public func trimmingASCIIWhitespace() -> String {
        let ws: Set<Character> = [" ", "\t", "\n", "\r"]
        var s = Substring(self)
        while let c = s.first, ws.contains(c) { s.removeFirst() }
        while let c = s.last, ws.contains(c) { s.removeLast() }
        return String(s)
    }
}
