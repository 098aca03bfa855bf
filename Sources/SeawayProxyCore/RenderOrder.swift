extension Array where Element == ServicePortName {
    /// Where `name` is, in an array sorted in render order (binary search).
    public func renderIndex(of name: ServicePortName) -> Int? {
        let i = renderInsertionIndex(for: name)
        return i > 0 && self[i - 1] == name ? i - 1 : nil
    }

    /// The index after every element that sorts at or before `name`.
    public func renderInsertionIndex(for name: ServicePortName) -> Int {
        let key = (name.description, name.proto)
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if (self[mid].description, self[mid].proto) <= key { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
