import ArgumentParser

@main
struct Seaway: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seaway",
        abstract: "Kubernetes service networking: kube-proxy rule rendering and more.",
        subcommands: [RenderCommand.self, DiffCommand.self])
}
