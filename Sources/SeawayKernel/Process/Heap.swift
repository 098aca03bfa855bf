#if canImport(Glibc)
import Glibc
#endif

/// The C heap of a long-running process (the agent, the DNS server): big transient buffers
/// (a full sync's text and batch, a zone's precompiled answers) should not stay resident
/// once freed.
public enum Heap {
    /// Gives freed heap pages back to the system (glibc's malloc_trim).
    public static func returnFreedMemory() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }

    /// Runs `build` on a new thread and returns its result. What `build` allocates comes from
    /// that thread's malloc arena, away from the caller's: for a structure that outlives
    /// the data it is built from (a zone built from a parsed cluster). Made among the parse's
    /// garbage, its small objects would fill the holes between that garbage and keep those
    /// pages resident after the garbage is freed.
    ///
    /// `build` is `@Sendable` so that it is not isolated to the caller's actor: it runs on
    /// the new thread while the caller waits.
    public static func apart<T: Sendable>(_ build: @Sendable () -> T) -> T {
        var result: T?
        withoutActuallyEscaping(build) { build in
            let task = Unmanaged.passRetained(ApartTask { result = build() })
            var thread = pthread_t()
            guard pthread_create(&thread, nil, { raw in
                Unmanaged<ApartTask>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, task.toOpaque()) == 0 else {
                // No thread to be had: build here rather than not at all.
                task.takeRetainedValue().run()
                return
            }
            pthread_join(thread, nil)
        }
        return result!
    }

    /// Big buffers always get pages of their own, which go back to the system when freed;
    /// glibc's default raises this threshold after the first big free and then carves big
    /// buffers out of the heap, where they leave holes.
    public static func keepBigAllocationsApart() {
        #if canImport(Glibc)
        _ = mallopt(-3 /* M_MMAP_THRESHOLD */, 128 << 10)
        #endif
    }
}

#if canImport(Glibc)
// glibc's malloc_trim(3) and mallopt(3), which Swift's Glibc module does not expose (they
// are in <malloc.h>).
@_silgen_name("malloc_trim") private func malloc_trim(_ pad: Int) -> Int32
@_silgen_name("mallopt") private func mallopt(_ param: Int32, _ value: Int32) -> Int32
#endif

/// The work handed to the thread `Heap.apart` starts.
private final class ApartTask {
    let run: () -> Void

    init(_ run: @escaping () -> Void) { self.run = run }
}
