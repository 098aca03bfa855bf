import Foundation
import SeawayKernel
import Testing

/// CPU lists as Linux writes them, and pinning a thread for real (checked against the
/// kernel's own account in /proc).
@Suite struct CPUAffinityTests {
    @Test func parsesCPUListsInTheirOrderEachCPUOnce() throws {
        #expect(try CPUAffinity.parseList("0") == [0])
        #expect(try CPUAffinity.parseList("0,2-3") == [0, 2, 3])
        #expect(try CPUAffinity.parseList(" 3 , 1-2 ,3") == [3, 1, 2])
        #expect(try CPUAffinity.parseList("1023") == [1023])
    }

    @Test func rejectsWhatIsNotACPUListNamingTheItem() {
        for (text, item) in [("", ""), ("a", "a"), ("3-1", "3-1"), ("-1", "-1"), ("1-", "1-"), ("0,,1", ""),
                             ("0,1024", "1024"), ("1-2-3", "1-2-3")] {
            #expect {
                try CPUAffinity.parseList(text)
            } throws: { error in
                (error as? CPUListError)?.item == item && "\(error)".contains("'\(text)' is not a CPU list")
            }
        }
    }

    @Test func formatsRunsAsRanges() {
        #expect(CPUAffinity.formatList([0, 1, 2, 3, 6]) == "0-3,6")
        #expect(CPUAffinity.formatList([5]) == "5")
        #expect(CPUAffinity.formatList([1, 3]) == "1,3")
        #expect(CPUAffinity.formatList([]) == "")
    }

    @Test func allowedIsWhatTheKernelSays() throws {
        #expect(try CPUAffinity.allowed() == CPUAffinity.parseList(cpusAllowedList()))
    }

    @Test(.enabled(if: ProcessInfo.processInfo.activeProcessorCount > 1, "one CPU: a pinned thread looks like any other"))
    func pinsOnlyTheCallingThread() throws {
        let before = try CPUAffinity.allowed()
        let cpu = try #require(before.last)
        let (pinned, kernelSays) = Heap.apart { () -> ([Int]?, String?) in
            do {
                try CPUAffinity.pinCurrentThread(to: cpu)
                return (try CPUAffinity.allowed(), try cpusAllowedList())
            } catch {
                return (nil, nil)
            }
        }
        #expect(pinned == [cpu])
        #expect(kernelSays == "\(cpu)")
        // The test's own thread is as it was.
        #expect(try CPUAffinity.allowed() == before)
    }

    @Test func refusesCPUsThisProcessMayNotUse() throws {
        let usable = try CPUAffinity.allowed()
        #expect(throws: Never.self) { try CPUAffinity.checkUsable(usable) }
        #expect {
            try CPUAffinity.checkUsable([usable[0], 1023])
        } throws: { error in
            (error as? CPUUnusable)?.cpu == 1023 && "\(error)".contains("it may use \(CPUAffinity.formatList(usable))")
        }
        #expect(throws: SystemError.self) { try CPUAffinity.pinCurrentThread(to: 5000) }
    }

    /// The calling thread's `Cpus_allowed_list` in /proc.
    private func cpusAllowedList() throws -> String {
        let status = try String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        return line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
    }
}
