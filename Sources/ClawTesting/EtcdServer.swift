import AsyncHTTPClient
import ClawShared
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real single-member etcd (Debian's `etcd-server`) on free loopback ports with a temporary data
/// folder, for the fleet-store tests. Tests that need it are skipped only where it is not installed.
public final class EtcdServer: @unchecked Sendable {
    public let clientURL: String
    private let process: Process
    private let dataDir: String

    public static let binary: String? = ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    public static var isInstalled: Bool { binary != nil }

    private init(clientURL: String, process: Process, dataDir: String) {
        self.clientURL = clientURL
        self.process = process
        self.dataDir = dataDir
    }

    /// Start one member and wait until it answers `/health`.
    public static func start() async throws -> EtcdServer {
        guard let binary else { throw EtcdServerError("etcd is not installed (Debian package etcd-server)") }
        let client = try LoopbackPort.free()
        let peer = try LoopbackPort.free()
        let dataDir = NSTemporaryDirectory() + "clawgate-etcd-\(UUID().uuidString)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--name", "t", "--data-dir", dataDir,
            "--listen-client-urls", "http://127.0.0.1:\(client)", "--advertise-client-urls", "http://127.0.0.1:\(client)",
            "--listen-peer-urls", "http://127.0.0.1:\(peer)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)",
            "--initial-cluster", "t=http://127.0.0.1:\(peer)", "--heartbeat-interval", "10", "--election-timeout", "100",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = EtcdServer(clientURL: "http://127.0.0.1:\(client)", process: process, dataDir: dataDir)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var healthy = false
        let deadline = Date().addingTimeInterval(10)
        while !healthy, Date() < deadline {
            if let response = try? await http.execute(HTTPClientRequest(url: server.clientURL + "/health"), timeout: .seconds(1)),
               let body = try? await response.body.collect(upTo: 4096), String(buffer: body).contains("true") {
                healthy = true
            } else {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        try? await http.shutdown()
        guard healthy else {
            server.stop()
            throw EtcdServerError("etcd did not become healthy at \(server.clientURL)")
        }
        return server
    }

    /// SIGSTOP or SIGCONT the member (a store that hangs, then returns).
    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dataDir)
    }
}

public struct EtcdServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
