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

    /// Start one member that speaks only TLS to its clients and asks for their certificates
    /// (`--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`), with `server` as its
    /// certificate and `client` as the one this helper shows.
    public static func start(tls certificates: TestCertificates, server: TestCertificates.Pair, client: TestCertificates.Pair) async throws -> EtcdServer {
        EtcdServer(cluster: try await EtcdCluster.start(size: 1, tls: .init(certificates: certificates, server: server, client: client)))
    }

    /// Turn etcd's authentication on: a `root` user (role root, password `rootPassword`) and
    /// `user` with read and write on the keys under `prefix` only.
    public func enableAuth(rootPassword: String, user: String, password: String, prefix: String) async throws {
        try await cluster.enableAuth(rootPassword: rootPassword, user: user, password: password, prefix: prefix)
    }

    /// One call to etcd's HTTP API as `user` (nil: no user), the way etcdctl or a script would:
    /// straight into the store, not through a node. Its JSON answer.
    public func call(_ path: String, _ body: JSONValue, user: (String, String)? = nil) async throws -> JSONValue {
        try await cluster.call(path, body, user: user)
    }

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

    /// Client-side TLS: the member's certificate and the one this helper shows it.
    public struct TLS: Sendable {
        public var certificates: TestCertificates
        public var server: TestCertificates.Pair
        public var client: TestCertificates.Pair
        public init(certificates: TestCertificates, server: TestCertificates.Pair, client: TestCertificates.Pair) {
            self.certificates = certificates
            self.server = server
            self.client = client
        }
    }

    public let members: [Member]
    private let dataDir: String
    private let tls: TLS?

    public var endpoints: [String] { members.map(\.clientURL) }

    private init(members: [Member], dataDir: String, tls: TLS?) {
        self.members = members
        self.dataDir = dataDir
        self.tls = tls
    }

    /// An HTTP client that reaches the members (trusting their CA and showing the client certificate with TLS).
    func httpClient() throws -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        if let tls { configuration.tlsConfiguration = try tls.certificates.clientConfiguration(client: tls.client) }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// POST to the first running member, as `user` when given (authenticating first).
    func call(_ path: String, _ body: JSONValue, user: (String, String)? = nil) async throws -> JSONValue {
        let http = try httpClient()
        do {
            let answer = try await call(path, body, user: user, http: http)
            try? await http.shutdown()
            return answer
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    private func call(_ path: String, _ body: JSONValue, user: (String, String)?, http: HTTPClient) async throws -> JSONValue {
        guard let member = members.first(where: { $0.process.isRunning }) else { throw EtcdServerError("no etcd member runs") }
        func post(_ path: String, _ body: JSONValue, token: String?) async throws -> JSONValue {
            var request = HTTPClientRequest(url: member.clientURL + path)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            if let token { request.headers.add(name: "authorization", value: token) }
            request.body = .bytes(ByteBuffer(bytes: body.bytes()))
            let response = try await http.execute(request, timeout: .seconds(5))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok, let json = try? JSONValue.parse(bytes: bytes.readableBytesView) else {
                throw EtcdServerError("etcd \(path): \(response.status.code) \(String(buffer: bytes))")
            }
            return json
        }
        var token: String?
        if let (name, password) = user {
            token = try await post("/v3/auth/authenticate", ["name": .string(name), "password": .string(password)], token: nil)["token"]?.stringValue
        }
        return try await post(path, body, token: token)
    }

    func enableAuth(rootPassword: String, user: String, password: String, prefix: String) async throws {
        func b64(_ text: String) -> JSONValue { .string(Data(text.utf8).base64EncodedString()) }
        var end = Array(prefix.utf8)
        end[end.count - 1] += 1
        _ = try await call("/v3/auth/user/add", ["name": "root", "password": .string(rootPassword)])
        _ = try await call("/v3/auth/role/add", ["name": "root"])
        _ = try await call("/v3/auth/user/grant", ["user": "root", "role": "root"])
        _ = try await call("/v3/auth/user/add", ["name": .string(user), "password": .string(password)])
        _ = try await call("/v3/auth/role/add", ["name": .string(user)])
        _ = try await call("/v3/auth/role/grant", ["name": .string(user), "perm": ["permType": "READWRITE", "key": b64(prefix),
                                                                                   "range_end": .string(Data(end).base64EncodedString())]])
        _ = try await call("/v3/auth/user/grant", ["user": .string(user), "role": .string(user)])
        _ = try await call("/v3/auth/enable", [:])
    }

    /// Start `size` members and wait until every one answers `/health`.
    public static func start(size: Int = 3, tls: TLS? = nil) async throws -> EtcdCluster {
        guard let binary = EtcdServer.binary else { throw EtcdServerError("etcd is not installed (Debian package etcd-server)") }
        let dataDir = NSTemporaryDirectory() + "clawgate-etcd-cluster-\(UUID().uuidString)"
        let ports = try (0..<size).map { _ in (try LoopbackPort.free(), try LoopbackPort.free()) }
        let cluster = ports.indices.map { "m\($0)=http://127.0.0.1:\(ports[$0].1)" }.joined(separator: ",")
        var members: [Member] = []
        let scheme = tls == nil ? "http" : "https"
        for (index, (client, peer)) in ports.enumerated() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--name", "m\(index)", "--data-dir", "\(dataDir)/m\(index)",
                "--listen-client-urls", "\(scheme)://127.0.0.1:\(client)", "--advertise-client-urls", "\(scheme)://127.0.0.1:\(client)",
                "--listen-peer-urls", "http://127.0.0.1:\(peer)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)",
                "--initial-cluster", cluster, "--heartbeat-interval", "10", "--election-timeout", "100",
            ]
            if let tls {
                process.arguments! += ["--cert-file", tls.server.cert, "--key-file", tls.server.key, "--trusted-ca-file", tls.certificates.ca,
                                       "--client-cert-auth"]
            }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            members.append(Member(name: "m\(index)", clientURL: "\(scheme)://127.0.0.1:\(client)", process: process))
        }
        let cluster_ = EtcdCluster(members: members, dataDir: dataDir, tls: tls)
        let http = try cluster_.httpClient()
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
