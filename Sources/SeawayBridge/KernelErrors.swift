import SeawayCNI
import SeawayKernel

extension SystemError {
    /// A kernel failure as the CNI error a runtime logs: what failed, and why. The spec has
    /// no code for it; 999 is what the reference plugins use.
    var cni: CNIError { CNIError(.generic, description) }
}

/// Runs a kernel step, turning its SystemError into the CNI error.
@inline(__always)
func kernel<T>(_ body: () throws(SystemError) -> T) throws(CNIError) -> T {
    do { return try body() } catch { throw error.cni }
}
