import AsyncHTTPClient
import ClawShared
import NIOCore
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

/// A real 3-member etcd cluster on loopback, for failure tests (leader killed, quorum lost).
public final class EtcdCluster: @unchecked Sendable {
    public struct Member: Sendable {
        public let name: String
        public let clientURL: String
        let process: Process
    }

    public let members: [Member]
    private let dataDir: String

    public var endpoints: [String] { members.map(\.clientURL) }

    private init(members: [Member], dataDir: String) {
        self.members = members
        self.dataDir = dataDir
    }

    public static func start() async throws -> EtcdCluster {
        guard let binary = EtcdServer.binary else { throw EtcdServerError("etcd is not installed (Debian package etcd-server)") }
        let dataDir = NSTemporaryDirectory() + "clawgate-etcd-cluster-\(UUID().uuidString)"
        let ports = try (0..<3).map { _ in (try LoopbackPort.free(), try LoopbackPort.free()) }
        let cluster = ports.indices.map { "m\($0)=http://127.0.0.1:\(ports[$0].1)" }.joined(separator: ",")
        var members: [Member] = []
        for (index, (client, peer)) in ports.enumerated() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--name", "m\(index)", "--data-dir", "\(dataDir)/m\(index)",
                "--listen-client-urls", "http://127.0.0.1:\(client)", "--advertise-client-urls", "http://127.0.0.1:\(client)",
                "--listen-peer-urls", "http://127.0.0.1:\(peer)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)",
                "--initial-cluster", cluster, "--heartbeat-interval", "10", "--election-timeout", "100",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            members.append(Member(name: "m\(index)", clientURL: "http://127.0.0.1:\(client)", process: process))
        }
        let cluster_ = EtcdCluster(members: members, dataDir: dataDir)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var healthy = false
        let deadline = Date().addingTimeInterval(15)
        while !healthy, Date() < deadline {
            var all = true
            for m in members {
                let ok = (try? await http.execute(HTTPClientRequest(url: m.clientURL + "/health"), timeout: .seconds(1)))
                    .map { $0.status == .ok } ?? false
                all = all && ok
            }
            healthy = all
            if !healthy { try? await Task.sleep(for: .milliseconds(50)) }
        }
        try? await http.shutdown()
        guard healthy else {
            cluster_.stop()
            throw EtcdServerError("the etcd cluster did not become healthy")
        }
        return cluster_
    }

    /// The member that leads now, as the members report it.
    public func leader() async -> Member? {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var found: Member?
        for m in members where m.process.isRunning {
            var request = HTTPClientRequest(url: m.clientURL + "/v3/maintenance/status")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: "{}"))
            if let response = try? await http.execute(request, timeout: .seconds(2)),
               let body = try? await response.body.collect(upTo: 1 << 16),
               let json = try? JSONValue.parse(bytes: body.readableBytesView),
               let leader = json["leader"]?.stringValue, leader == json["header"]?["member_id"]?.stringValue {
                found = m
                break
            }
        }
        try? await http.shutdown()
        return found
    }

    public func signal(_ member: Member, _ number: Int32) { kill(member.process.processIdentifier, number) }

    public func stop() {
        for m in members where m.process.isRunning {
            kill(m.process.processIdentifier, SIGCONT)
            m.process.terminate()
            m.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dataDir)
    }
}
