import NIOConcurrencyHelpers
import SeawayDNS

/// The zone every socket answers from, swapped whole when the cluster state (re)loads. Each
/// swap bumps `generation`, which tells per-socket answer caches to start over.
public final class ZoneStore: Sendable {
    public struct Current: Sendable {
        public var generation: Int
        public var responder: DNSResponder
    }

    private let box: NIOLockedValueBox<Current>

    /// Starts unsynced: names in the zones are SERVFAIL until `replace` is called.
    public init(options: KubernetesDNSOptions) {
        box = NIOLockedValueBox(Current(generation: 0, responder: DNSResponder(zone: .unsynced(options: options))))
    }

    public var current: Current { box.withLockedValue { $0 } }

    public var isLoaded: Bool { current.responder.zone.synced }

    /// Precompiles the new zone's answers on the caller's thread, then swaps it in.
    public func replace(_ zone: KubernetesZone) {
        let responder = DNSResponder(zone: zone)
        box.withLockedValue { $0 = Current(generation: $0.generation + 1, responder: responder) }
    }
}
