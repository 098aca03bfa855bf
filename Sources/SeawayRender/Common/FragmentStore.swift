import SeawayProxyCore

/// Each service port's rendered fragment, in render order, kept between syncs. Both
/// incremental renderers build on it: it renders changed ports again and says where each
/// change happened, so they can update what they derive from the fragments.
struct FragmentStore<Fragment: Sendable>: Sendable {
    enum Change {
        case added(at: Int, Fragment)
        case replaced(at: Int, old: Fragment, new: Fragment)
        case removed(at: Int, old: Fragment)
    }

    private(set) var order: [ServicePortName]
    /// The fragment of each name in `order`, at the same index.
    private(set) var inOrder: [Fragment]

    /// Renders every port of `map` (on every core).
    init(_ map: ServiceMap, render: @Sendable (ProxyServicePort) -> Fragment) {
        inOrder = map.ports.concurrentMap(render)
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
            case let (port?, nil):
                let new = render(port)
                let at = order.renderInsertionIndex(for: name)
                order.insert(name, at: at)
                inOrder.insert(new, at: at)
                changes.append(.added(at: at, new))
            case let (nil, index?):
                order.remove(at: index)
                changes.append(.removed(at: index, old: inOrder.remove(at: index)))
            case (nil, nil):
                break
            }
        }
        return changes
    }
}
