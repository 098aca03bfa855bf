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
