import Glibc
import SeawayNet

/// Kernel parameters under /proc/sys, for the calling thread's network namespace (the
/// kernel resolves /proc/sys/net by the opening thread's namespace, so call these inside
/// `NetworkNamespace.run` for another namespace). Keys use `/` so interface names with
/// dots (VLANs) work: `net/ipv6/conf/eth0.100/accept_dad`.
public enum Sysctl {
    static func path(_ key: String) -> String {
        "/proc/sys/" + (key.hasPrefix("/") ? String(key.dropFirst()) : key)
    }

    public static func read(_ key: String) throws(SystemError) -> String? {
        try FileSystem.readText(path(key))?.trimmingASCIIWhitespace()
    }

    public static func write(_ key: String, _ value: String) throws(SystemError) {
        let fd = open(path(key), O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .current("set \(key)") }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw .current("set \(key)=\(value)")
        }
    }

    /// Writes `value` unless the parameter already has it (the reference's `echo1`: avoids
    /// a write, and an error, where the value is already right and the file read-only).
    public static func ensure(_ key: String, _ value: String) throws(SystemError) {
        if try read(key) == value { return }
        try write(key, value)
    }
}
