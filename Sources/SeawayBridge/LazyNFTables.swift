import SeawayKernel
import SeawayNetlink

/// An nftables socket opened on first use and kept for the rest of the operation, then
/// released after the plugin exits: releasing it after a commit costs a grace period (see
/// NFTablesNetlink.releaseAfterProcessExit), which the runtime need not wait for.
final class LazyNFTables {
    private var opened: NFTablesNetlink?

    /// The plugin is about to return: hand the socket's release to after its exit.
    func finish() { opened?.releaseAfterProcessExit() }

    func socket() throws(SystemError) -> NFTablesNetlink {
        if let opened { return opened }
        let s = try NFTablesNetlink()
        opened = s
        return s
    }
}
