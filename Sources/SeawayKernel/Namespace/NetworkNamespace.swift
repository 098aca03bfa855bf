import CSeawayKernel
import Glibc

/// A network namespace, held open by file descriptor (a path under /var/run/netns, or
/// /proc/PID/ns/net, as CNI_NETNS names it).
///
/// Work inside it runs on a thread created for the purpose that enters the namespace with
/// `setns` and ends after the work: namespace membership is per thread, and a thread that
/// never leaves cannot leak the namespace into unrelated code. Never call `run` across an
/// `await`: async tasks hop threads.
public final class NetworkNamespace: @unchecked Sendable {
    public let path: String
    /// Open for the life of the object; also what IFLA_NET_NS_FD takes.
    public let descriptor: Int32

    /// NSFS_MAGIC: what statfs reports for a namespace file.
    private static let namespaceFilesystem = 0x6e73_6673

    /// Opens the namespace at `path`; ENOENT when it does not exist, EINVAL when the path is
    /// not a namespace.
    public init(path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .current("open network namespace \(path)") }
        var fs = statfs()
        guard fstatfs(fd, &fs) == 0, fs.f_type == NetworkNamespace.namespaceFilesystem
                || fs.f_type == 0x0162_0ba0 /* PROC_SUPER_MAGIC: /proc/PID/ns/net on old kernels */ else {
            close(fd)
            throw SystemError("open network namespace \(path): not a namespace", errno: EINVAL)
        }
        self.path = path
        descriptor = fd
    }

    /// The calling thread's own namespace.
    public static func current() throws(SystemError) -> NetworkNamespace {
        try NetworkNamespace(path: "/proc/thread-self/ns/net")
    }

    deinit { close(descriptor) }

    /// Runs `body` on a new thread inside this namespace and returns its result.
    public func run<T>(_ body: () throws(SystemError) -> T) throws(SystemError) -> T {
        var result: Result<T, SystemError>? = nil
        try withoutActuallyEscaping({ () -> Void in
            do throws(SystemError) { result = .success(try body()) } catch { result = .failure(error) }
        }) { (work) throws(SystemError) in
            try NamespaceThread(descriptor: descriptor, path: path, work: work).run()
        }
        return try result!.get()
    }
}

/// One piece of work for a namespace thread, type-erased (a generic job here crashed the
/// compiler's region analysis in Swift 6.3.1). The caller blocks in pthread_join until the
/// thread is done, so nothing here is touched from two threads at once.
private final class NamespaceThread: @unchecked Sendable {
    let descriptor: Int32
    let path: String
    let work: () -> Void
    var enterError: SystemError?

    init(descriptor: Int32, path: String, work: @escaping () -> Void) {
        self.descriptor = descriptor
        self.path = path
        self.work = work
    }

    func run() throws(SystemError) {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let job = Unmanaged<NamespaceThread>.fromOpaque(context!).takeRetainedValue()
            if setns(job.descriptor, seaway_CLONE_NEWNET) == 0 {
                job.work()
            } else {
                job.enterError = .current("enter network namespace \(job.path)")
            }
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<NamespaceThread>.fromOpaque(context).release()
            throw SystemError("start a thread for network namespace \(path)", errno: rc)
        }
        pthread_join(thread, nil)
        if let enterError { throw enterError }
    }
}
