import Dispatch
import Foundation

extension Array where Element: Sendable {
    /// `map` spread over the machine's cores, results in input order. Rendering is a pure
    /// function of each service port, so service ports render independently. Below
    /// `minimumCount` elements it is a plain `map` (for many cheap elements, handing them to
    /// threads costs more than it saves; a few big ones can pass a smaller minimum).
    public func concurrentMap<T: Sendable>(minimumCount: Int = 512, _ transform: @Sendable (Element) -> T) -> [T] {
        let n = count
        let workers = ProcessInfo.processInfo.activeProcessorCount
        if n < minimumCount || workers < 2 { return map(transform) }
        let chunks = Swift.min(n, workers * 4)
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            let out = UncheckedBuffer(base: buffer.baseAddress!)
            self.withUnsafeBufferPointer { input in
                let source = UncheckedBuffer(base: UnsafeMutablePointer(mutating: input.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    let lower = n * chunk / chunks, upper = n * (chunk + 1) / chunks
                    for i in lower..<upper { (out.base + i).initialize(to: transform(source.base[i])) }
                }
            }
            initialized = n
        }
    }
}

/// Runs `first` and `second` at the same time, a core each where there are two, and returns
/// both results: for two independent steps that each run on one core.
public func concurrently<A: Sendable, B: Sendable>(_ first: @Sendable () -> A, _ second: @Sendable () -> B) -> (A, B) {
    if ProcessInfo.processInfo.activeProcessorCount < 2 { return (first(), second()) }
    var a: A?
    var b: B?
    withUnsafeMutablePointer(to: &a) { a in
        withUnsafeMutablePointer(to: &b) { b in
            let results = (UncheckedBuffer(base: a), UncheckedBuffer(base: b))
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                if i == 0 { results.0.base.pointee = first() } else { results.1.base.pointee = second() }
            }
        }
    }
    return (a!, b!)
}

/// A pointer handed to worker threads that write disjoint ranges.
private struct UncheckedBuffer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}
