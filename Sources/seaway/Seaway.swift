import ArgumentParser

@main
struct Seaway: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seaway",
        abstract: "Kubernetes service networking: kube-proxy rule rendering, NetworkPolicy queries and cluster DNS.",
        subcommands: [RenderCommand.self, DiffCommand.self, ApplyCommand.self, CleanupCommand.self, ProxyCommand.self, PolicyCommand.self, DNSCommand.self, TraceCommand.self, SnapshotCommand.self])
}
