import Glibc

/// Watches a directory tree with inotify for files written, moved or deleted (what editors,
/// `kubectl get -o yaml >` and ConfigMap volume updates do). Directories created later are
/// watched too. Events are only counted: the caller reloads what it watches.
public final class DirectoryWatcher {
    private let fd: Int32
    private var watched: [Int32: String] = [:]

    private static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF)

    public init(_ root: String) throws(SystemError) {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw .current("inotify_init1") }
        do {
            try watchTree(root)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    private func watchTree(_ directory: String) throws(SystemError) {
        let wd = inotify_add_watch(fd, directory, DirectoryWatcher.mask)
        guard wd >= 0 else { throw .current("watch \(directory)") }
        watched[wd] = directory
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." || name.hasPrefix(".") && name != "..data" { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) { try watchTree(directory + "/" + name) }
        }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and returns how many events arrived
    /// (0 on timeout), after draining everything queued.
    public func wait(timeoutMilliseconds: Int32) throws(SystemError) -> Int {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return 0 }
            throw .current("poll inotify")
        }
        guard ready > 0 else { return 0 }
        return try drain()
    }

    private func drain() throws(SystemError) -> Int {
        var events = 0
        var buffer = [UInt8](repeating: 0, count: 16384)
        var newDirectories: [String] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { break }
                throw .current("read inotify events")
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { raw in
                var offset = 0
                while offset + MemoryLayout<inotify_event>.size <= n {
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    events += 1
                    if event.mask & UInt32(IN_ISDIR) != 0, event.mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0,
                       let parent = watched[event.wd], event.len > 0 {
                        let nameBytes = raw[(offset + MemoryLayout<inotify_event>.size)..<(offset + MemoryLayout<inotify_event>.size + Int(event.len))]
                        newDirectories.append(parent + "/" + String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self))
                    }
                    offset += MemoryLayout<inotify_event>.size + Int(event.len)
                }
            }
        }
        for d in newDirectories { try? watchTree(d) }
        return events
    }
}
