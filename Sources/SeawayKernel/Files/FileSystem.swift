import Glibc

/// The few file operations the plugins need, as plain system calls (no Foundation: see
/// `JSONParser` for why start-up time matters to a CNI plugin).
public enum FileSystem {
    /// The file's bytes; nil when it does not exist.
    public static func read(_ path: String) throws(SystemError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .current("open \(path)")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .current("read \(path)")
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// The file as UTF-8 text; nil when it does not exist.
    public static func readText(_ path: String) throws(SystemError) -> String? {
        try read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes `bytes` to `path`, creating or truncating it.
    public static func write(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644) throws(SystemError) {
        try write(bytes, to: path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
    }

    /// Creates `path` with `bytes` only if it does not exist yet: false when it does.
    public static func createExclusively(_ bytes: some Collection<UInt8>, at path: String, mode: mode_t = 0o644) throws(SystemError) -> Bool {
        do {
            try write(bytes, to: path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode)
            return true
        } catch where error.errno == EEXIST {
            return false
        }
    }

    private static func write(_ bytes: some Collection<UInt8>, to path: String, flags: Int32, mode: mode_t) throws(SystemError) {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .current("open \(path)") }
        let data = Array(bytes)
        var written = 0
        while written < data.count {
            let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = SystemError.current("write \(path)")
                close(fd)
                throw error
            }
            written += n
        }
        guard close(fd) == 0 else { throw .current("close \(path)") }
    }

    /// A second name for an existing file; false when `newPath` exists already. Linking a
    /// finished file into place is how a reservation appears whole or not at all.
    public static func link(_ existing: String, as newPath: String) throws(SystemError) -> Bool {
        if Glibc.link(existing, newPath) == 0 { return true }
        if errno == EEXIST { return false }
        throw .current("link \(newPath)")
    }

    /// Removes `path`; a missing file is not an error.
    public static func remove(_ path: String) throws(SystemError) {
        if unlink(path) != 0 && errno != ENOENT { throw .current("remove \(path)") }
    }

    /// The names in a directory (without `.` and `..`), sorted; empty when it does not exist.
    public static func list(_ directory: String) throws(SystemError) -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw .current("open directory \(directory)")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode) != 0 && errno != EEXIST { throw .current("create directory \(prefix)") }
            prefix += "/"
        }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// `directory/name`.
    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

/// An exclusive `flock` on a file, held until `unlock` (or the process ends: a crashed
/// plugin never leaves the lock held, which is why flock and not a lock file's existence).
public final class FileLock {
    private var descriptor: Int32

    /// Opens (creating) `path` and waits for the lock.
    public init(path: String, mode: mode_t = 0o600) throws(SystemError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .current("open \(path)") }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let error = SystemError.current("lock \(path)")
                close(fd)
                throw error
            }
        }
        descriptor = fd
    }

    public func unlock() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { unlock() }
}
