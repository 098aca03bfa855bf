import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `seaway dns serve` process for a test: started on a kernel-chosen port, stopped at the end.
final class DNSServerProcess: @unchecked Sendable {
    let process = Process()
    private let stdinPipe = Pipe()
    private let lock = NSLock()
    private var stderrText = ""
    private(set) var port = 0
    private(set) var httpPort = 0
    /// The address dig asks.
    let host: String

    /// Starts `seaway dns serve --listen 127.0.0.1:0 ARGS` and waits until it listens (and,
    /// unless told not to, until it has loaded its manifests).
    init(_ args: [String], waitForLoad: Bool = true, http: Bool = false, host: String = "127.0.0.1") throws {
        self.host = host
        process.executableURL = binary
        process.arguments = ["dns", "serve", "--listen", host.contains(":") ? "[\(host)]:0" : "\(host):0"] + (http ? ["--http-listen", "127.0.0.1:0"] : []) + args
        process.currentDirectoryURL = root
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = stdinPipe
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.stderrText += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        try waitFor("listening on ")
        let line = stderr.split(separator: "\n").first { $0.contains("listening on ") }!
        // "seaway: dns: listening on 127.0.0.1:PORT (udp, tcp)[, http 127.0.0.1:PORT]"
        let ports = line.split(whereSeparator: { $0 == " " || $0 == "," }).compactMap { word -> Int? in
            guard let colon = word.lastIndex(of: ":") else { return nil }
            return Int(word[word.index(after: colon)...])
        }
        port = ports[0]
        if http { httpPort = ports[1] }
        if waitForLoad { try waitFor("dns: loaded") }
    }

    var stderr: String { lock.withLock { stderrText } }

    func waitFor(_ text: String, timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !stderr.contains(text) {
            guard process.isRunning else { throw ServerError.exited(stderr) }
            guard Date() < deadline else { throw ServerError.timeout(text, stderr) }
            usleep(20_000)
        }
    }

    /// Writes manifests to the server's stdin (for `-`) and closes it.
    func feed(_ text: String) throws {
        stdinPipe.fileHandleForWriting.write(Data(text.utf8))
        try stdinPipe.fileHandleForWriting.close()
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }

    /// `dig @HOST -p PORT ARGS`, its whole output.
    func dig(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/dig")
        p.arguments = ["@\(host)", "-p", String(port), "+time=2", "+tries=1"] + args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The answer section's records as fields: name, TTL, class, type, data...
    func answer(_ args: [String]) throws -> [[String]] {
        try dig(args + ["+noall", "+answer"]).split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
    }

    /// `dig +short`, as lines.
    func short(_ args: [String]) throws -> [String] {
        try dig(args + ["+short"]).split(separator: "\n").map(String.init)
    }

    enum ServerError: Error { case exited(String), timeout(String, String) }
}

/// dig, from bind9-dnsutils (scripts/setup installs it).
var digAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/dig") }

/// One UDP exchange with a raw socket: sends `bytes`, returns the reply or nil on timeout.
func udpExchange(port: Int, _ bytes: [UInt8], timeoutMilliseconds: Int = 300) -> [UInt8]? {
    guard let (fd, addr) = loopbackSocket(Int32(SOCK_DGRAM.rawValue), port: port, timeoutMicroseconds: timeoutMilliseconds * 1000) else { return nil }
    defer { close(fd) }
    guard sendTo(fd, addr, bytes) == bytes.count else { return nil }
    var buffer = [UInt8](repeating: 0, count: 65536)
    let n = recv(fd, &buffer, buffer.count, 0)
    return n > 0 ? Array(buffer[..<n]) : nil
}

/// Sends the packets from one socket in small bursts, collecting the replies to each burst
/// before the next (so neither side's socket buffer overflows). Returns the replies.
func udpBlast(port: Int, _ packets: [[UInt8]], burst: Int = 32) -> [[UInt8]] {
    guard let (fd, addr) = loopbackSocket(Int32(SOCK_DGRAM.rawValue), port: port, timeoutMicroseconds: 30_000) else { return [] }
    defer { close(fd) }
    var replies: [[UInt8]] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    for start in stride(from: 0, to: packets.count, by: burst) {
        for packet in packets[start..<min(start + burst, packets.count)] { _ = sendTo(fd, addr, packet) }
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            replies.append(Array(buffer[..<n]))
        }
    }
    return replies
}

/// One DNS exchange over TCP (length-prefixed), or nil.
func tcpExchange(port: Int, _ bytes: [UInt8]) -> [UInt8]? {
    guard let fd = connectTCP(port: port) else { return nil }
    defer { close(fd) }
    let framed = [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    guard send(fd, framed, framed.count, 0) == framed.count else { return nil }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while received.count < 2 || received.count < 2 + (Int(received[0]) << 8 | Int(received[1])) {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { return nil }
        received += buffer[..<n]
    }
    return Array(received[2...])
}

/// An HTTP/1.1 GET on 127.0.0.1: status code and body.
func httpGet(port: Int, _ path: String) -> (status: Int, body: String)? {
    guard let fd = connectTCP(port: port) else { return nil }
    defer { close(fd) }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    _ = send(fd, request, request.count, 0)
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        received += buffer[..<n]
    }
    let text = String(decoding: received, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, let code = Int(statusLine.split(separator: " ")[1]),
          let bodyStart = text.range(of: "\r\n\r\n") else { return nil }
    return (code, String(text[bodyStart.upperBound...]))
}

/// A socket of `type` with a receive timeout, and 127.0.0.1:`port` as its peer address.
private func loopbackSocket(_ type: Int32, port: Int, timeoutMicroseconds: Int) -> (fd: Int32, addr: sockaddr_in)? {
    let fd = socket(AF_INET, type, 0)
    guard fd >= 0 else { return nil }
    var tv = timeval(tv_sec: timeoutMicroseconds / 1_000_000, tv_usec: timeoutMicroseconds % 1_000_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return (fd, addr)
}

private func sendTo(_ fd: Int32, _ addr: sockaddr_in, _ bytes: [UInt8]) -> Int {
    var addr = addr
    return withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// A TCP connection to 127.0.0.1:`port`, or nil.
private func connectTCP(port: Int) -> Int32? {
    guard case (let fd, var addr)? = loopbackSocket(Int32(SOCK_STREAM.rawValue), port: port, timeoutMicroseconds: 2_000_000) else { return nil }
    let connected = withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { close(fd); return nil }
    return fd
}
