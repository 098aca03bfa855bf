import Foundation
import Testing

/// A throwaway network namespace for tests that touch the kernel ("create a new NetNS so we
/// don't modify the host", as the CNI plugins' tests say). Deleted on `close()`.
final class NetworkNamespace {
    let name: String

    /// True when this process may create namespaces and the tools exist. Kernel tests are
    /// disabled otherwise, with the reason printed in the test report.
    static var available: Bool {
        getuid() == 0 && ["/usr/sbin/ip", "/usr/sbin/nft", "/usr/sbin/iptables-restore", "/usr/sbin/nfacct", "/usr/sbin/ipset"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static let unavailableReason: Comment =
        "SKIPPED LOUDLY: kernel validation needs root and ip, nft, iptables-restore, nfacct and ipset (CI runs as root)"

    init() throws {
        name = "seaway-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Self.run("/usr/sbin/ip", ["netns", "add", name])
    }

    func close() {
        _ = try? Self.run("/usr/sbin/ip", ["netns", "del", name])
    }

    /// Runs `command` inside the namespace with `input` on stdin; with `check`, a non-zero
    /// exit throws.
    @discardableResult
    func exec(_ command: [String], input: String = "", check: Bool = true) throws -> CommandResult {
        try Self.run("/usr/sbin/ip", ["netns", "exec", name] + command, input: input, check: check)
    }

    struct CommandResult {
        var status: Int32
        var output: String
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var command: [String]
        var result: CommandResult
        var description: String { "\(command.joined(separator: " ")) exited \(result.status): \(result.output)" }
    }

    @discardableResult
    static func run(_ tool: String, _ args: [String], input: String = "", check: Bool = true) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let stdin = Pipe(), out = Pipe()
        p.standardInput = stdin
        p.standardOutput = out
        p.standardError = out
        try p.run()
        // Write on another thread: a large payload would otherwise fill the pipe and deadlock.
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let result = CommandResult(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
        if check && result.status != 0 { throw CommandFailed(command: [tool] + args, result: result) }
        return result
    }
}
