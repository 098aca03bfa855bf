import CNftables
import Glibc

extension NFTablesNetlink {
    /// Lets this socket's release happen after the calling process has exited.
    ///
    /// Kernel quirk: releasing an nfnetlink socket after a commit waits for an RCU grace
    /// period (the NETLINK_URELEASE notifier, nft_rcv_nl_event, flushes the work that frees
    /// committed transactions; 5-15 ms on this machine), and exiting releases it just the
    /// same. A CNI plugin's caller waits for the plugin to exit, so the plugin gives the last
    /// reference to a forked child: the child closes every other descriptor (stdout too, so
    /// the runtime is not held), waits for the parent to exit (end of file on a pipe), and
    /// only then exits itself, releasing the socket with nobody waiting. Call it once, last.
    public func releaseAfterProcessExit() {
        let fd = mnl_socket_get_fd(socket)
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { return }
        let readEnd = pipeFDs[0], writeEnd = pipeFDs[1]
        // The write end must not leak into processes started later (IPAM): it is the
        // parent's life.
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        let pid = fork()
        if pid == 0 {
            // Only async-signal-safe calls from here: close, read, _exit.
            var other: Int32 = 0
            while other < 1024 {
                if other != fd && other != readEnd { close(other) }
                other += 1
            }
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) != 0 {}
            _exit(0)
        }
        close(readEnd)
        // If fork failed, nothing changes: the socket is released here as before.
    }
}
