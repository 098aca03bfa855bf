/// What an ADD has done so far, undone in reverse if it fails later (the reference's
/// `defer { if !success ... }` blocks, in one place).
final class Undo {
    private var steps: [(String, () -> Void)] = []

    func push(_ what: String, _ step: @escaping () -> Void) { steps.append((what, step)) }

    /// Runs every step, newest first; a step that fails cannot stop the others.
    func run() {
        for (_, step) in steps.reversed() { step() }
        steps.removeAll()
    }

    /// The ADD succeeded: keep everything.
    func discard() { steps.removeAll() }
}
