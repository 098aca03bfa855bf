import Glibc

/// A failed system call or kernel request: what was being done, on what, and the kernel's
/// own words for why (`strerror`, or netlink's extended-ACK message when it sent one).
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was attempted, e.g. `create veth vethab12cd34` or `open /var/lib/cni/networks/x/lock`.
    public var operation: String
    public var errno: Int32
    /// The kernel's extended-ACK text, when netlink gave one.
    public var kernelMessage: String?

    public init(_ operation: String, errno: Int32, kernelMessage: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.kernelMessage = kernelMessage
    }

    /// The error for the calling thread's current `errno`.
    public static func current(_ operation: String) -> SystemError {
        SystemError(operation, errno: Glibc.errno)
    }

    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        if let kernelMessage, !kernelMessage.isEmpty { return "\(operation): \(reason) (\(kernelMessage))" }
        return "\(operation): \(reason)"
    }
}
