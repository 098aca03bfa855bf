import Dispatch
import NIOConcurrencyHelpers
import SeawayDNS
import SeawayKernel
import SeawayModel
import Synchronization

/// The zone every socket answers from, swapped whole when the cluster state (re)loads. Each
/// swap bumps `generation`, which tells per-socket answer caches to start over.
public final class ZoneStore: Sendable {
    /// One loaded zone, never changed after it is made. A class: handing it to a socket costs
    /// one reference count, where copying the responder's parts cost one per part.
    public final class Snapshot: Sendable {
        public let generation: Int
        public let responder: DNSResponder

        init(generation: Int, responder: DNSResponder) {
            self.generation = generation
            self.responder = responder
        }

        /// `responder.precompiledReply`, called where the responder lives: reached from the
        /// outside, the responder was copied out of the snapshot first (a retain and a release
        /// of each of its parts, once per query).
        func precompiledReply(to packet: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer)
            -> (length: Int, type: DNSType, rcode: DNSResponseCode)? {
            responder.precompiledReply(to: packet, into: out)
        }

        /// A replaced zone is freed when the last socket moves on to the new one (at its next
        /// query); its pages go back to the system a moment later, off the socket's thread.
        deinit {
            guard responder.zone.synced else { return }
            DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .milliseconds(100)) {
                Heap.returnFreedMemory()
            }
        }
    }

    private let box: NIOLockedValueBox<Snapshot>
    /// `box`'s generation, readable without the lock: a socket keeps its snapshot and takes
    /// the lock only when this has moved on, not once per query.
    private let published = Atomic<Int>(0)

    /// Starts unsynced: names in the zones are SERVFAIL until `replace` is called.
    public init(options: KubernetesDNSOptions) {
        box = NIOLockedValueBox(Snapshot(generation: 0, responder: DNSResponder(zone: .unsynced(options: options))))
    }

    public var current: Snapshot { box.withLockedValue { $0 } }

    /// The generation `current` has now.
    public var generation: Int { published.load(ordering: .acquiring) }

    public var isLoaded: Bool { current.responder.zone.synced }

    /// The zone of `cluster`, built on a thread of its own (`Heap.apart`): it stays resident
    /// long after the cluster state and the parser's garbage are freed, and should not be
    /// scattered among them (at 10,000 services that kept some 20 MB more resident).
    public static func zone(options: KubernetesDNSOptions, cluster: ClusterState) -> KubernetesZone {
        Heap.apart { KubernetesZone(options: options, cluster: cluster) }
    }

    /// Precompiles `zone`'s answers (on a thread of its own too), then swaps it in. Call it
    /// once the cluster state the zone came from is gone: its freed pages go back first, so
    /// that the two are not resident at once, and precompiling's go back after.
    public func replace(_ zone: KubernetesZone) {
        Heap.returnFreedMemory()
        let responder = Heap.apart { DNSResponder(zone: zone) }
        box.withLockedValue {
            $0 = Snapshot(generation: $0.generation + 1, responder: responder)
            published.store($0.generation, ordering: .releasing)
        }
        Heap.returnFreedMemory()
    }
}
