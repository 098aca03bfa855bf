import SeawayCNI
import SeawayKernel
import SeawayNet

/// host-local's on-disk reservations, in its format so either plugin can take over a live
/// node: `<dataDir>/<network>/<ip>` holding `<container id>\r\n<ifname>` (or, from old
/// versions, the container id alone), `last_reserved_ip.<range set index>` holding the last
/// address handed out, and a `lock` file every operation holds (flock) so parallel ADDs on
/// a node do not collide.
final class HostLocalStore {
    struct Reservation: Equatable {
        var ip: IPAddress
        var containerID: String
        /// Empty for the old one-line format.
        var ifname: String
    }

    let directory: String
    private let lock: FileLock

    static let lastReservedPrefix = "last_reserved_ip."
    static let lineBreak = "\r\n"
    /// Reservations are written under this prefix and linked into place; a file with it is
    /// what a killed ADD left behind, never a reservation.
    static let temporaryPrefix = ".reserving-"

    /// Creates the directory if needed and waits for the lock (held until `close`).
    init(dataDirectory: String, network: String) throws(CNIError) {
        directory = FileSystem.join(dataDirectory, network)
        do {
            try FileSystem.makeDirectories(directory, mode: 0o755)
            // host-local's own mode for the lock file, so the directories look the same.
            lock = try FileLock(path: FileSystem.join(directory, "lock"), mode: 0o750)
        } catch {
            throw CNIError(.ioFailure, "host-local store: \(error)")
        }
    }

    func close() { lock.unlock() }

    private func path(_ name: String) -> String { FileSystem.join(directory, name) }

    /// Claims `ip` for the attachment: false if someone holds it. The reservation is
    /// written to a temporary name and linked into place, so a crash never leaves a
    /// half-written one (host-local writes in place and can leave an empty file).
    func reserve(_ ip: IPAddress, containerID: String, ifname: String, rangeSet: Int) throws(CNIError) -> Bool {
        let name = ip.description
        let temporary = path(HostLocalStore.temporaryPrefix + name)
        let content = containerID.trimmingASCIIWhitespace() + HostLocalStore.lineBreak + ifname
        do {
            try FileSystem.write(content.utf8, to: temporary)
            defer { try? FileSystem.remove(temporary) }
            guard try FileSystem.link(temporary, as: path(name)) else { return false }
            try FileSystem.write(name.utf8, to: path(HostLocalStore.lastReservedPrefix + String(rangeSet)))
            return true
        } catch {
            throw CNIError(.ioFailure, "host-local store: \(error)")
        }
    }

    func lastReserved(rangeSet: Int) -> IPAddress? {
        guard let text = try? FileSystem.readText(path(HostLocalStore.lastReservedPrefix + String(rangeSet))) else { return nil }
        return IPAddress(strict: text.trimmingASCIIWhitespace())
    }

    /// Every reservation, in address order.
    func reservations() -> [Reservation] {
        var out: [Reservation] = []
        for name in (try? FileSystem.list(directory)) ?? [] {
            guard let ip = IPAddress(strict: name), let text = try? FileSystem.readText(path(name)) else { continue }
            out.append(HostLocalStore.reservation(ip, text))
        }
        return out.sorted { $0.ip < $1.ip }
    }

    static func reservation(_ ip: IPAddress, _ text: String) -> Reservation {
        let content = text.trimmingASCIIWhitespace()
        guard let br = content.firstRange(of: lineBreak) else { return Reservation(ip: ip, containerID: content, ifname: "") }
        return Reservation(ip: ip, containerID: String(content[..<br.lowerBound]), ifname: String(content[br.upperBound...]))
    }

    /// The attachment's addresses, in either format (host-local's `GetByID`).
    func addresses(containerID: String, ifname: String) -> [IPAddress] {
        let id = containerID.trimmingASCIIWhitespace()
        return reservations().filter { $0.containerID == id && ($0.ifname == ifname || $0.ifname.isEmpty) }.map(\.ip)
    }

    /// Releases the attachment as host-local does: its `id\r\nifname` files, or, only when
    /// there are none, files of the old format that name the container alone. None is fine.
    func release(containerID: String, ifname: String) {
        let id = containerID.trimmingASCIIWhitespace()
        let all = reservations().filter { $0.containerID == id }
        let current = all.filter { $0.ifname == ifname }
        for r in current.isEmpty ? all.filter({ $0.ifname.isEmpty }) : current { release(r.ip) }
    }

    func release(_ ip: IPAddress) { try? FileSystem.remove(path(ip.description)) }

    /// Temporary files of ADDs killed mid-way. Only called under the lock, so no ADD is
    /// writing one right now.
    func removeLeftovers() {
        for name in (try? FileSystem.list(directory)) ?? [] where name.hasPrefix(HostLocalStore.temporaryPrefix) {
            try? FileSystem.remove(path(name))
        }
    }
}
