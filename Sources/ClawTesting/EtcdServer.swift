import AsyncHTTPClient
import ClawShared
import NIOCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real single-member etcd (Debian's `etcd-server`) on free loopback ports with a temporary data
/// folder, for the fleet-store tests. Tests that need it are skipped only where it is not installed.
public final class EtcdServer: Sendable {
    private let cluster: EtcdCluster
    public var clientURL: String { cluster.endpoints[0] }

    public static let binary: String? = ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    public static var isInstalled: Bool { binary != nil }

    private init(cluster: EtcdCluster) { self.cluster = cluster }

    /// Start one member and wait until it answers `/health`.
    public static func start() async throws -> EtcdServer { EtcdServer(cluster: try await EtcdCluster.start(size: 1)) }

    /// SIGSTOP or SIGCONT the member (a store that hangs, then returns).
    public func signal(_ number: Int32) { cluster.signal(cluster.members[0], number) }

    public func stop() { cluster.stop() }
}

public struct EtcdServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A real etcd cluster on loopback (3 members for failure tests: leader killed, quorum lost).
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

    /// Start `size` members and wait until every one answers `/health`.
    public static func start(size: Int = 3) async throws -> EtcdCluster {
        guard let binary = EtcdServer.binary else { throw EtcdServerError("etcd is not installed (Debian package etcd-server)") }
        let dataDir = NSTemporaryDirectory() + "clawgate-etcd-cluster-\(UUID().uuidString)"
        let ports = try (0..<size).map { _ in (try LoopbackPort.free(), try LoopbackPort.free()) }
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
                var ok = false
                if let response = try? await http.execute(HTTPClientRequest(url: m.clientURL + "/health"), timeout: .seconds(1)),
                   let body = try? await response.body.collect(upTo: 4096) {
                    ok = String(buffer: body).contains("true")
                }
                all = all && ok
            }
            healthy = all
            if !healthy { try? await Task.sleep(for: .milliseconds(50)) }
        }
        try? await http.shutdown()
        guard healthy else {
            cluster_.stop()
            throw EtcdServerError("etcd did not become healthy at \(cluster_.endpoints.joined(separator: ", "))")
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
