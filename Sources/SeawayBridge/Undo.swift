import SeawayKernel

/// What an ADD has done so far, undone in reverse if it fails later (the reference's
/// `defer { if !success ... }` blocks, in one place).
final class Undo {
    private var steps: [(what: String, step: () throws -> Void)] = []

    func push(_ what: String, _ step: @escaping () throws -> Void) { steps.append((what, step)) }

    /// Runs every step, newest first. A step that fails cannot stop the others; it is
    /// reported on stderr, which the runtime logs (the ADD's own error is what it returns).
    func run() {
        for (what, step) in steps.reversed() {
            do { try step() } catch {
                ProcessIO.write("seaway-bridge: rolling back a failed ADD: could not \(what): \(error)\n", to: 2)
            }
        }
        steps.removeAll()
    }

    /// The ADD succeeded: keep everything.
    func discard() { steps.removeAll() }
}
