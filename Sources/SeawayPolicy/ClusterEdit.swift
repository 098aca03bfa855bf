import SeawayModel

/// A change a what-if question asks about, applied to a `ClusterState` value.
public enum ClusterEdit: Sendable, Hashable {
    /// Objects to add; a Pod, Namespace or NetworkPolicy with the key of an existing one
    /// replaces it (an edited policy).
    case add(ClusterState)
    /// `networkpolicy/NS/NAME`, `pod/NS/NAME`, `namespace/NAME`, `adminnetworkpolicy/NAME` or
    /// `baselineadminnetworkpolicy/NAME`, `clusternetworkpolicy/NAME`.
    case remove(ObjectRef)
    /// Label changes in kubectl's notation: `key=value` sets, `key-` removes.
    case relabel(ObjectRef, set: [String: String], remove: [String])

    public struct ObjectRef: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable, Hashable {
            case networkPolicy = "networkpolicy"
            case pod
            case namespace
            case adminNetworkPolicy = "adminnetworkpolicy"
            case baselineAdminNetworkPolicy = "baselineadminnetworkpolicy"
            case clusterNetworkPolicy = "clusternetworkpolicy"

            /// Cluster-scoped kinds are named `kind/NAME`.
            var isClusterScoped: Bool { self != .networkPolicy && self != .pod }

            /// The API's name for an admin-policy kind (`AdminNetworkPolicy.kind`); nil for others.
            var adminPolicyKind: String? {
                switch self {
                case .adminNetworkPolicy: return "AdminNetworkPolicy"
                case .baselineAdminNetworkPolicy: return "BaselineAdminNetworkPolicy"
                case .clusterNetworkPolicy: return "ClusterNetworkPolicy"
                case .networkPolicy, .pod, .namespace: return nil
                }
            }
        }

        public var kind: Kind
        public var namespace: String
        public var name: String

        public var description: String {
            kind.isClusterScoped ? "\(kind.rawValue)/\(name)" : "\(kind.rawValue)/\(namespace)/\(name)"
        }

        /// Parses `KIND/NS/NAME` (`KIND/NAME` for namespaces). Kinds are case-insensitive and
        /// take kubectl's short names (`netpol`, `po`, `ns`).
        public init(parsing text: String) throws {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let kinds: [String: Kind] = [
                "networkpolicy": .networkPolicy, "networkpolicies": .networkPolicy, "netpol": .networkPolicy,
                "pod": .pod, "pods": .pod, "po": .pod,
                "namespace": .namespace, "namespaces": .namespace, "ns": .namespace,
                "adminnetworkpolicy": .adminNetworkPolicy, "adminnetworkpolicies": .adminNetworkPolicy, "anp": .adminNetworkPolicy,
                "baselineadminnetworkpolicy": .baselineAdminNetworkPolicy, "baselineadminnetworkpolicies": .baselineAdminNetworkPolicy,
                "banp": .baselineAdminNetworkPolicy,
                "clusternetworkpolicy": .clusterNetworkPolicy, "clusternetworkpolicies": .clusterNetworkPolicy,
                "cnp": .clusterNetworkPolicy,
            ]
            guard let first = parts.first, let kind = kinds[first.lowercased()] else {
                throw PolicyQueryError(message: "'\(text)': kind must be networkpolicy, pod, namespace, adminnetworkpolicy, baselineadminnetworkpolicy or clusternetworkpolicy")
            }
            let expected = kind.isClusterScoped ? 2 : 3
            guard parts.count == expected, !parts.dropFirst().contains(where: \.isEmpty) else {
                throw PolicyQueryError(message: "'\(text)': expected \(kind.isClusterScoped ? "\(kind.rawValue)/NAME" : "\(kind.rawValue)/NAMESPACE/NAME")")
            }
            self.kind = kind
            namespace = kind.isClusterScoped ? "" : parts[1]
            name = parts[expected - 1]
        }
    }
}

extension ClusterEdit {
    /// Parses `KIND/NS/NAME:key=value,key-` (kubectl label's notation after the colon).
    public static func relabel(parsing text: String) throws -> ClusterEdit {
        guard let colon = text.firstIndex(of: ":") else {
            throw PolicyQueryError(message: "--relabel '\(text)': expected KIND/NS/NAME:key=value,key-")
        }
        let ref = try ObjectRef(parsing: String(text[..<colon]))
        var set: [String: String] = [:]
        var remove: [String] = []
        for change in text[text.index(after: colon)...].split(separator: ",") {
            if change.hasSuffix("-"), !change.contains("=") {
                remove.append(String(change.dropLast()))
            } else if let eq = change.firstIndex(of: "=") {
                set[String(change[..<eq])] = String(change[change.index(after: eq)...])
            } else {
                throw PolicyQueryError(message: "--relabel '\(text)': '\(change)' is neither key=value nor key-")
            }
        }
        if set.isEmpty && remove.isEmpty {
            throw PolicyQueryError(message: "--relabel '\(text)': no label changes after ':'")
        }
        return .relabel(ref, set: set, remove: remove)
    }
}

extension ClusterState {
    /// The cluster after `edits`, in order. Removing or relabelling something that is not
    /// there is an error: a what-if about a typo would answer the wrong question.
    public func applying(_ edits: [ClusterEdit]) throws -> ClusterState {
        var state = self
        for edit in edits {
            switch edit {
            case let .add(objects):
                state.networkPolicies.replaceOrAppend(objects.networkPolicies)
                state.pods.replaceOrAppend(objects.pods)
                state.namespaces.replaceOrAppend(objects.namespaces)
                state.nodes.replaceOrAppend(objects.nodes)
                // Admin policies of different kinds may share a name: replace by kind and name.
                for policy in objects.adminPolicies {
                    if let i = state.adminPolicies.firstIndex(where: { $0.kind == policy.kind && $0.key == policy.key }) {
                        state.adminPolicies[i] = policy
                    } else {
                        state.adminPolicies.append(policy)
                    }
                }
            case let .remove(ref):
                let removed: Bool
                switch ref.kind {
                case .networkPolicy: removed = state.networkPolicies.remove(ref)
                case .pod: removed = state.pods.remove(ref)
                case .adminNetworkPolicy, .baselineAdminNetworkPolicy, .clusterNetworkPolicy:
                    let before = state.adminPolicies.count
                    state.adminPolicies.removeAll { $0.kind == ref.kind.adminPolicyKind && $0.metadata.matches(ref) }
                    removed = state.adminPolicies.count < before
                case .namespace:
                    removed = state.namespaces.remove(ref) || state.pods.contains { $0.metadata.namespace == ref.name }
                    // A namespace goes with everything in it.
                    state.pods.removeAll { $0.metadata.namespace == ref.name }
                    state.networkPolicies.removeAll { $0.metadata.namespace == ref.name }
                }
                if !removed { throw PolicyQueryError(message: "--remove \(ref): no such object in the manifests") }
            case let .relabel(ref, set, remove):
                func change(_ labels: inout [String: String]) {
                    for key in remove { labels[key] = nil }
                    labels.merge(set) { _, new in new }
                }
                switch ref.kind {
                case .pod:
                    guard let i = state.pods.firstIndex(where: { $0.metadata.matches(ref) }) else {
                        throw PolicyQueryError(message: "--relabel \(ref): no such pod in the manifests")
                    }
                    change(&state.pods[i].metadata.labels)
                case .namespace:
                    if let i = state.namespaces.firstIndex(where: { $0.metadata.matches(ref) }) {
                        change(&state.namespaces[i].metadata.labels)
                    } else if state.pods.contains(where: { $0.metadata.namespace == ref.name }) {
                        // Only implied by its pods so far: it exists, with no labels of its own.
                        var ns = Namespace(metadata: ObjectMeta(name: ref.name))
                        change(&ns.metadata.labels)
                        state.namespaces.append(ns)
                    } else {
                        throw PolicyQueryError(message: "--relabel \(ref): no such namespace in the manifests")
                    }
                case .networkPolicy, .adminNetworkPolicy, .baselineAdminNetworkPolicy, .clusterNetworkPolicy:
                    throw PolicyQueryError(message: "--relabel \(ref): only pods and namespaces can be relabelled")
                }
            }
        }
        return state
    }
}

extension ObjectMeta {
    fileprivate func matches(_ ref: ClusterEdit.ObjectRef) -> Bool {
        name == ref.name && (ref.kind.isClusterScoped || namespace == ref.namespace)
    }
}

extension Array where Element: KubernetesObject {
    /// Each of `objects` replaces the element with its key, or is appended.
    fileprivate mutating func replaceOrAppend(_ objects: [Element]) {
        for object in objects {
            if let i = firstIndex(where: { $0.key == object.key }) {
                self[i] = object
            } else {
                append(object)
            }
        }
    }

    /// Removes the object `ref` names; whether there was one.
    fileprivate mutating func remove(_ ref: ClusterEdit.ObjectRef) -> Bool {
        let before = count
        removeAll { $0.metadata.matches(ref) }
        return count < before
    }
}
