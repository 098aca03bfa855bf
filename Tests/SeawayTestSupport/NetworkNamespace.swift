import Foundation

/// A throwaway network namespace for tests that touch the kernel ("create a new NetNS so we
/// don't modify the host", as the CNI plugins' tests say). Deleted on `close()`.
public final class ThrowawayNamespace: @unchecked Sendable {
    public let name: String

    /// Where `ip netns` mounts it: what CNI_NETNS names.
    public var path: String { "/var/run/netns/\(name)" }

    /// True when this process may create namespaces and `tools` exist. Kernel tests are
    /// disabled otherwise, with the reason printed in the test report (never a silent pass).
    public static func available(requiring tools: [String] = []) -> Bool {
        getuid() == 0 && (["/usr/sbin/ip"] + tools).allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public init(prefix: String = "seaway-test") throws {
        name = "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Command.run("/usr/sbin/ip", ["netns", "add", name])
        try exec(["ip", "link", "set", "lo", "up"])
    }

    public func close() {
        _ = try? Command.run("/usr/sbin/ip", ["netns", "del", name])
    }

    /// Runs `command` inside the namespace with `input` on stdin; with `check`, a non-zero
    /// exit throws.
    @discardableResult
    public func exec(_ command: [String], input: String = "", environment: [String: String]? = nil,
                     check: Bool = true) throws -> CommandResult {
        try Command.run("/usr/sbin/ip", ["netns", "exec", name] + command, input: input, environment: environment, check: check)
    }
}

public struct CommandResult: Sendable {
    public var status: Int32
    /// stdout, and stderr after it unless they were asked for apart.
    public var output: String
    public var stderr: String
}

public struct CommandFailed: Error, CustomStringConvertible {
    public var command: [String]
    public var result: CommandResult
    public var description: String { "\(command.joined(separator: " ")) exited \(result.status): \(result.output)\(result.stderr)" }
}

public enum Command {
    /// Runs `tool`; stdout and stderr are merged into `output` unless `separateStderr`.
    @discardableResult
    public static func run(_ tool: String, _ args: [String], input: String = "", environment: [String: String]? = nil,
                           separateStderr: Bool = false, check: Bool = true) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        if let environment { p.environment = environment }
        let stdin = Pipe(), out = Pipe(), err = separateStderr ? Pipe() : out
        p.standardInput = stdin
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Write on another thread: a large payload would otherwise fill the pipe and deadlock.
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        // stderr apart is read on its own thread, for the same reason.
        final class Collected: @unchecked Sendable { var data = Data() }
        let errors = Collected(), done = DispatchSemaphore(value: 0)
        if separateStderr {
            Thread {
                errors.data = err.fileHandleForReading.readDataToEndOfFile()
                done.signal()
            }.start()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if separateStderr { done.wait() }
        let result = CommandResult(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self),
                                   stderr: String(decoding: errors.data, as: UTF8.self))
        if check && result.status != 0 { throw CommandFailed(command: [tool] + args, result: result) }
        return result
    }
}
