import Foundation
import NIOSSL
import SeawayKube
import SeawayTestSupport
import Testing

/// HTTPS with the API server's own CA and client-certificate authentication, the way a
/// kubeadm cluster's admin kubeconfig connects, with certificates made by openssl for the test.
@Suite(.serialized) struct TLSTests {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, in PEM.
    struct PKI {
        let directory: String
        func pem(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))) }

        init() throws {
            directory = NSTemporaryDirectory() + "seaway-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "subjectAltName=IP:127.0.0.1\n".write(toFile: directory + "/san.ext", atomically: true, encoding: .utf8)
            for args in [
                ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                 "-days", "1", "-subj", "/CN=seaway-test-ca"],
                ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                 "-subj", "/CN=127.0.0.1"],
                ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt",
                 "-days", "1", "-extfile", "san.ext"],
                ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "client.key", "-out", "client.csr",
                 "-subj", "/CN=seaway/O=system:masters"],
                ["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "1"],
            ] {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
                p.arguments = args
                p.currentDirectoryURL = URL(fileURLWithPath: directory)
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                p.waitUntilExit()
                guard p.terminationStatus == 0 else { throw KubeError("openssl \(args.joined(separator: " ")) failed") }
            }
        }

        /// The server requires a client certificate signed by the CA.
        func serverTLS() throws -> TLSConfiguration {
            var c = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(try pem("server.crt")).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: try pem("server.key"), format: .pem)))
            c.certificateVerification = .noHostnameVerification
            c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(try pem("ca.crt")))
            return c
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") }

    func informer(_ connection: APIServerConnection) async throws -> (KubeInformer, Task<Void, Never>, KubeClient) {
        let client = try KubeClient(connection)
        let informer = KubeInformer(client: client, resources: [.services], watchTimeoutSeconds: 30)
        return (informer, informer.start(), client)
    }

    @Test(.enabled(if: available, "SKIPPED LOUDLY: TLS tests need /usr/bin/openssl (scripts/setup installs it)"))
    func clientCertificatesThroughAKubeconfig() async throws {
        let pki = try PKI()
        defer { pki.remove() }
        let server = try FakeAPIServer(tls: try pki.serverTLS())
        defer { server.stop() }
        try InformerTests.seed(server)
        // A kubeconfig as kubeadm writes admin.conf: everything inline, base64.
        let kubeconfig = """
            apiVersion: v1
            kind: Config
            current-context: admin@test
            clusters: [{name: test, cluster: {server: "\(server.url)", certificate-authority-data: \(Data(try pki.pem("ca.crt")).base64EncodedString())}}]
            users: [{name: admin, user: {client-certificate-data: \(Data(try pki.pem("client.crt")).base64EncodedString()), client-key-data: \(Data(try pki.pem("client.key")).base64EncodedString())}}]
            contexts: [{name: admin@test, context: {cluster: test, user: admin}}]
            """
        try kubeconfig.write(toFile: pki.directory + "/admin.conf", atomically: true, encoding: .utf8)
        let connection = try APIServerConnection.kubeconfig(path: pki.directory + "/admin.conf", context: nil, environment: [:])
        let (ok, task, client) = try await informer(connection)
        #expect(await ok.waitUntilSynced(timeout: .seconds(60)), "\(String(describing: ok.status.lastError))")
        #expect(ok.snapshot()?.services.count == 5)
        task.cancel(); _ = await task.value; await client.shutdown()

        // Without the client certificate the server refuses the handshake.
        var anonymous = connection
        anonymous.clientCertificatePEM = nil
        anonymous.clientKeyPEM = nil
        let (refused, task2, client2) = try await informer(anonymous)
        #expect(await refused.failure(within: .seconds(60)) != nil)
        #expect(!refused.status.synced)
        task2.cancel(); _ = await task2.value; await client2.shutdown()

        // Not trusting the server's CA fails too; insecure-skip-tls-verify lets it through.
        var untrusted = connection
        untrusted.certificateAuthorityPEM = nil
        let (unverified, task3, client3) = try await informer(untrusted)
        #expect(await unverified.failure(within: .seconds(60)) != nil)
        #expect(!unverified.status.synced)
        task3.cancel(); _ = await task3.value; await client3.shutdown()
        untrusted.insecureSkipTLSVerify = true
        let (insecure, task4, client4) = try await informer(untrusted)
        #expect(await insecure.waitUntilSynced(timeout: .seconds(60)), "\(String(describing: insecure.status.lastError))")
        task4.cancel(); _ = await task4.value; await client4.shutdown()
    }
}
