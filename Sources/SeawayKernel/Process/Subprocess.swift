import CSeawayKernel
import Glibc
import SeawayNet

/// Runs a program to completion: stdin from bytes, stdout captured, stderr passed through
/// (a CNI plugin's stderr is the runtime's log) or captured, exit status returned.
public enum Subprocess {
    public struct Outcome: Sendable {
        /// The exit status, or 128 + the signal for a program killed by one (as a shell says).
        public var status: Int32
        public var stdout: [UInt8]
        /// Empty unless asked for.
        public var stderr: [UInt8] = []

        public var stderrText: String { String(decoding: stderr, as: UTF8.self).trimmingASCIIWhitespace() }
    }

    public static func run(_ path: String, arguments: [String] = [], environment: [String: String],
                           input: [UInt8], captureStderr: Bool = false) throws(SystemError) -> Outcome {
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0], errorsFromChild: [Int32] = [-1, -1]
        guard pipe2(&toChild, O_CLOEXEC) == 0 else { throw .current("create a pipe for \(path)") }
        guard pipe2(&fromChild, O_CLOEXEC) == 0, !captureStderr || pipe2(&errorsFromChild, O_CLOEXEC) == 0 else {
            for fd in toChild + fromChild where fd > 0 { close(fd) }
            throw .current("create a pipe for \(path)")
        }
        // A child that exits before reading all its input must not kill us with SIGPIPE: ignore
        // it while we write (the write then fails with EPIPE), and give the child the default.
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], STDOUT_FILENO)
        if captureStderr { posix_spawn_file_actions_adddup2(&actions, errorsFromChild[1], STDERR_FILENO) }

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        close(toChild[0])
        close(fromChild[1])
        if captureStderr { close(errorsFromChild[1]) }
        guard rc == 0 else {
            close(toChild[1]); close(fromChild[0])
            if captureStderr { close(errorsFromChild[0]) }
            throw SystemError("run \(path)", errno: rc)
        }
        let (output, errors) = exchange(input: input, writeTo: toChild[1], readFrom: fromChild[0],
                                        errorsFrom: captureStderr ? errorsFromChild[0] : nil)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift cannot import as macros.
        let signal = status & 0x7f
        return Outcome(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal, stdout: output, stderr: errors)
    }

    /// Feeds `input` and collects stdout (and stderr) at the same time, so a child that
    /// writes before it has read everything never blocks on a full pipe.
    private static func exchange(input: [UInt8], writeTo inFD: Int32, readFrom outFD: Int32,
                                 errorsFrom errFD: Int32?) -> ([UInt8], [UInt8]) {
        var written = 0, output: [UInt8] = [], errors: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 16384)
        var writing = true, readingOut = true, readingErr = errFD != nil
        if input.isEmpty { close(inFD); writing = false }
        while readingOut || readingErr {
            var fds: [pollfd] = []
            if readingOut { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
            if readingErr, let errFD { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
            if writing { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for p in fds where p.revents != 0 {
                if p.fd == inFD {
                    let n = input.withUnsafeBytes { write(inFD, $0.baseAddress! + written, $0.count - written) }
                    if n > 0 { written += n }
                    if n < 0 && errno != EINTR && errno != EAGAIN || written == input.count {
                        close(inFD)
                        writing = false
                    }
                    continue
                }
                let n = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if p.fd == outFD { output.append(contentsOf: buffer[0..<n]) } else { errors.append(contentsOf: buffer[0..<n]) }
                } else if n == 0 || errno != EINTR {
                    if p.fd == outFD { readingOut = false } else { readingErr = false }
                }
            }
        }
        if writing { close(inFD) }
        close(outFD)
        if let errFD { close(errFD) }
        return (output, errors)
    }

    /// The first `name` that is an executable file in `directories` (CNI_PATH's lookup).
    public static func find(_ name: String, in directories: [String]) -> String? {
        guard !name.contains("/") else { return nil }
        return directories.lazy.map { FileSystem.join($0, name) }.first { access($0, X_OK) == 0 }
    }
}
