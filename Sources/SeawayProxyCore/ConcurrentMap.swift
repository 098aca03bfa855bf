import Dispatch
import Foundation

extension Array where Element: Sendable {
    /// `map` spread over the machine's cores, results in input order. Rendering is a pure
    /// function of each service port, so service ports render independently. Below
    /// `minimumCount` elements it is a plain `map` (for many cheap elements, handing them to
    /// threads costs more than it saves; a few big ones can pass a smaller minimum).
    public func concurrentMap<T: Sendable>(minimumCount: Int = 512, _ transform: @Sendable (Element) -> T) -> [T] {
        if count < minimumCount || ProcessInfo.processInfo.activeProcessorCount < 2 { return map(transform) }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = UncheckedBuffer(base: buffer.baseAddress!)
            concurrentForEach { i, element in (out.base + i).initialize(to: transform(element)) }
            initialized = count
        }
    }

    /// `concurrentMap` of a transform that makes two things, returned as two arrays: each
    /// result's parts are stored by the worker that made them, while they are in its cache
    /// (taking a part out of 10,000 results afterwards, on one core, was a cache miss each).
    public func concurrentMapUnzipped<T: Sendable, U: Sendable>(minimumCount: Int = 512,
                                                                _ transform: @Sendable (Element) -> (T, U)) -> ([T], [U]) {
        if count < minimumCount || ProcessInfo.processInfo.activeProcessorCount < 2 {
            var first: [T] = [], second: [U] = []
            first.reserveCapacity(count)
            second.reserveCapacity(count)
            for element in self {
                let (t, u) = transform(element)
                first.append(t)
                second.append(u)
            }
            return (first, second)
        }
        var second: [U] = []
        let first = [T](unsafeUninitializedCapacity: count) { firstBuffer, firstInitialized in
            second = [U](unsafeUninitializedCapacity: count) { secondBuffer, secondInitialized in
                let out = (UncheckedBuffer(base: firstBuffer.baseAddress!), UncheckedBuffer(base: secondBuffer.baseAddress!))
                concurrentForEach { i, element in
                    let (t, u) = transform(element)
                    (out.0.base + i).initialize(to: consume t)
                    (out.1.base + i).initialize(to: consume u)
                }
                secondInitialized = count
            }
            firstInitialized = count
        }
        return (first, second)
    }

    /// Calls `body` with every index and element, in chunks spread over the cores (four per
    /// core, so a core that finishes early takes another).
    private func concurrentForEach(_ body: @Sendable (Int, Element) -> Void) {
        let n = count
        let chunks = Swift.min(n, ProcessInfo.processInfo.activeProcessorCount * 4)
        withUnsafeBufferPointer { input in
            let source = UncheckedBuffer(base: UnsafeMutablePointer(mutating: input.baseAddress!))
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let lower = n * chunk / chunks, upper = n * (chunk + 1) / chunks
                for i in lower..<upper { body(i, source.base[i]) }
            }
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
