import SeawayProxyCore

extension Array where Element == EndpointInfo {
    /// Where each endpoint of `subset` sits in this list; both are sorted by `ip:port` and
    /// `subset` is drawn from this list (a service port's cluster or local endpoints among
    /// all its reachable ones).
    func indexes(of subset: [EndpointInfo]) -> [Int] {
        // The cluster or local list is usually all of them.
        if subset.count == count { return [Int](indices) }
        var out: [Int] = []
        out.reserveCapacity(subset.count)
        var j = 0
        for ep in subset {
            while !self[j].hasSameAddress(as: ep) { j += 1 }
            out.append(j)
        }
        return out
    }
}
