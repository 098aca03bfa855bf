import Glibc

/// The calling process's standard streams and environment, read the way a CNI plugin
/// needs them: all of stdin, one write to stdout, the environment as a dictionary.
public enum ProcessIO {
    public static func environment() -> [String: String] {
        var out: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let eq = text.firstIndex(of: "=") {
                out[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            entry += 1
        }
        return out
    }

    public static func readStandardInput() -> [UInt8] {
        readAll(from: STDIN_FILENO)
    }

    /// Reads `fd` to its end (EOF or an error).
    public static func readAll(from fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    public static func write(_ text: String, to fd: Int32 = STDOUT_FILENO) {
        writeAll(Array(text.utf8), to: fd)
    }

    public static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}
