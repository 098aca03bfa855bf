import Foundation

/// Our CNI plugin binaries (built next to the test bundle by `swift build --build-tests`)
/// and the reference plugins (Debian's containernetworking-plugins).
public enum PluginBinaries {
    public static let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    public static var bridge: String { directory + "/seaway-bridge" }
    public static var ipam: String { directory + "/seaway-ipam" }

    public static let referenceDirectory = "/usr/lib/cni"
    public static var referenceAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: referenceDirectory + "/bridge")
            && FileManager.default.isExecutableFile(atPath: referenceDirectory + "/host-local")
    }

    /// Root, iproute2, the netfilter tools and the reference plugins: what the bridge
    /// comparison tests need.
    public static var comparisonAvailable: Bool {
        ThrowawayNamespace.available(requiring: ["/usr/sbin/sysctl", "/usr/sbin/iptables-save", "/usr/sbin/nft"]) && referenceAvailable
    }

    public static let comparisonUnavailable =
        "SKIPPED LOUDLY: CNI kernel tests need root, iproute2, nft, iptables and /usr/lib/cni (scripts/setup installs them; CI runs as root)"
}
