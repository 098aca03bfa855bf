import SeawayProxyCore

/// What a service port renders to: whatever a mode needs, and the chains the port owns.
protocol ServicePortFragment: Sendable {
    var chains: ChainBlock { get }
}

/// Each service port's rendered fragment, in render order, kept between syncs. Both
/// incremental renderers build on it: it renders changed ports again and says where each
/// change happened, so they can update what they derive from the fragments.
struct FragmentStore<Fragment: ServicePortFragment>: Sendable {
    enum Change {
        case added(at: Int, Fragment)
        case replaced(at: Int, old: Fragment, new: Fragment)
        case removed(at: Int, old: Fragment)
    }

    private(set) var order: [ServicePortName]
    /// The fragment of each name in `order`, at the same index.
    private(set) var inOrder: [Fragment]
    /// Each fragment's chains, at the same index, in an array of their own: a whole ruleset
    /// takes it as it is. Collecting them from 10,000 fragments long out of the cache cost a
    /// few milliseconds on one core.
    private(set) var chains: [ChainBlock]

    /// Renders every port of `map` (on every core).
    init(_ map: ServiceMap, render: @Sendable (ProxyServicePort) -> Fragment) {
        (inOrder, chains) = map.ports.concurrentMapUnzipped { port in
            let fragment = render(port)
            let chains = fragment.chains
            return (consume fragment, chains)
        }
        order = map.ports.map(\.info.name)
    }

    /// Renders the `changed` ports of `state` again. Changes come in name order, each `at` the
    /// index it has once the changes before it are applied.
    mutating func update(_ state: ProxyState, changed: Set<ServicePortName>,
                         render: (ProxyServicePort) -> Fragment) -> [Change] {
        var changes: [Change] = []
        for name in changed.sorted() {
            let index = order.renderIndex(of: name)
            switch (state.ports[name], index) {
            case let (port?, index?):
                let new = render(port)
                changes.append(.replaced(at: index, old: inOrder[index], new: new))
                inOrder[index] = new
                chains[index] = new.chains
            case let (port?, nil):
                let new = render(port)
                let at = order.renderInsertionIndex(for: name)
                order.insert(name, at: at)
                inOrder.insert(new, at: at)
                chains.insert(new.chains, at: at)
                changes.append(.added(at: at, new))
            case let (nil, index?):
                order.remove(at: index)
                chains.remove(at: index)
                changes.append(.removed(at: index, old: inOrder.remove(at: index)))
            case (nil, nil):
                break
            }
        }
        return changes
    }
}
