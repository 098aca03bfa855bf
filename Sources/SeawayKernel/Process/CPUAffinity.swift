import CSeawayKernel
import Glibc

/// Which CPUs a thread may run on (sched_setaffinity), for a server that gives each worker a
/// CPU of its own, as NSD's `cpu-affinity` does: two workers left to the scheduler can end
/// up waiting for each other on one CPU while the other CPU runs something else.
public enum CPUAffinity {
    /// Room for CPUs 0-1023, glibc's cpu_set_t.
    private static let maskBytes = 128

    /// The CPUs the calling thread may use, ascending (a new thread starts with its
    /// process's set: what the cpuset or `taskset` allowed).
    public static func allowed() throws -> [Int] {
        var mask = [UInt8](repeating: 0, count: maskBytes)
        guard seaway_sched_getaffinity(0, maskBytes, &mask) == 0 else {
            throw SystemError.current("read the CPUs this process may use")
        }
        return (0..<(maskBytes * 8)).filter { mask[$0 / 8] & (1 << ($0 % 8)) != 0 }
    }

    /// Throws unless every CPU of `cpus` is one the calling thread may use: for checking a
    /// configuration before any thread starts.
    public static func checkUsable(_ cpus: [Int]) throws {
        let usable = try allowed()
        if let cpu = cpus.first(where: { !usable.contains($0) }) { throw CPUUnusable(cpu: cpu, usable: usable) }
    }

    /// Keeps the calling thread on `cpu` from now on.
    public static func pinCurrentThread(to cpu: Int) throws {
        guard (0..<(maskBytes * 8)).contains(cpu) else {
            throw SystemError("pin a thread to CPU \(cpu): CPUs go from 0 to \(maskBytes * 8 - 1)", errno: EINVAL)
        }
        var mask = [UInt8](repeating: 0, count: maskBytes)
        mask[cpu / 8] = 1 << (cpu % 8)
        guard seaway_sched_setaffinity(0, maskBytes, mask) == 0 else {
            throw SystemError.current("pin a thread to CPU \(cpu)")
        }
    }

    /// A CPU list as Linux writes them (`Cpus_allowed_list`, cpuset.cpus, `taskset -c`):
    /// numbers and ranges separated by commas, "0,2-3". In the order given, each CPU once.
    public static func parseList(_ text: String) throws(CPUListError) -> [Int] {
        var cpus: [Int] = []
        let limit = maskBytes * 8
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let part = item.trimmingSpaces()
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let first = Int(bounds[0]), first >= 0,
                  let last = bounds.count == 2 ? Int(bounds[1]) : first, last >= first, last < limit else {
                throw CPUListError(text: text, item: String(part))
            }
            for cpu in first...last where !cpus.contains(cpu) { cpus.append(cpu) }
        }
        return cpus
    }

    /// `cpus` (ascending) as a CPU list: runs of consecutive CPUs as ranges, "0-3,6".
    public static func formatList(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count, cpus[j + 1] == cpus[j] + 1 { j += 1 }
            parts.append(j == i ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

/// A CPU this process may not run on: outside its cpuset or `taskset` mask, or one the
/// machine does not have.
public struct CPUUnusable: Error, CustomStringConvertible {
    public let cpu: Int
    public let usable: [Int]

    public var description: String {
        "CPU \(cpu) is not one this process may use (it may use \(CPUAffinity.formatList(usable)))"
    }
}

/// A CPU list that is not one: the whole text and the item that is wrong.
public struct CPUListError: Error, CustomStringConvertible {
    public let text: String
    public let item: String

    public var description: String {
        "'\(text)' is not a CPU list: '\(item)' is neither a CPU number (0 to 1023) nor a range of them like 2-3"
    }
}

private extension Substring {
    func trimmingSpaces() -> Substring {
        var part = drop { $0 == " " }
        while part.last == " " { part = part.dropLast() }
        return part
    }
}
