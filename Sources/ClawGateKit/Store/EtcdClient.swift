import AsyncHTTPClient
import ClawShared
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Why a call to etcd did not give an answer: its outcome may be unknown (a timeout can still be
/// applied later, when quorum returns), so writers re-read to tell the truth.
public struct EtcdError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// Whether the request may have reached etcd and so may still take effect. False when no
    /// member could be connected to or every member that answered refused it before proposing
    /// it ("no leader"): then a write certainly did not happen and needs no re-read.
    public let mayHaveApplied: Bool
    init(_ description: String, mayHaveApplied: Bool = true) {
        self.description = description
        self.mayHaveApplied = mayHaveApplied
    }
}

/// etcd 3.4's HTTP/JSON gateway (`/v3/...`), with AsyncHTTPClient: no etcd client library for
/// Swift has transactions and watch revisions. Keys and values are base64; 64-bit integers come
/// back as JSON strings; fields at their default are left out (see DESIGN.md).
final class EtcdClient: Sendable {
    struct KeyValue: Sendable, Equatable {
        var key: String
        var value: [UInt8]
        /// 1, 2, 3... per key (0: the key was deleted); with the state's `revision_base`, its revision.
        var version: Int
        var modRevision: Int
        /// The store revision that created the key: a key deleted and written again has a new one.
        var createRevision: Int
    }

    let endpoints: [String]
    let timeout: Double
    let access: EtcdAccess
    private let http: HTTPClient
    private let preferred = Mutex(0)
    /// etcd's auth token per member (with `store.username`): got from `/v3/auth/authenticate`, sent
    /// as `Authorization`, and got again when a member says it is invalid (tokens expire).
    private let tokens = Mutex([Int: String]())
    /// Members that just failed at the transport level (refused, hung), until when: tried after
    /// the others, and not at all once another member has answered, so that a dead or frozen
    /// member does not make every call wait for it.
    private let suspects = Mutex([Int: NIODeadline]())
    static let suspectFor = TimeAmount.seconds(5)

    init(endpoints: [String], timeout: Double, access: EtcdAccess = EtcdAccess()) {
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.timeout = timeout
        self.access = access
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = access.tls
        configuration.timeout = .init(connect: .milliseconds(Int64(min(timeout, 2) * 1000)))
        // A refused connection fails at once, so the call moves on to the next member instead of
        // the pool retrying a dead one until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async { try? await http.shutdown() }

    static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
    static func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    static func unb64(_ text: String?) -> [UInt8] { text.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? [] }
    static func int(_ value: JSONValue?) -> Int { value?.stringValue.flatMap(Int.init) ?? value?.intValue ?? 0 }

    /// The members in the order to try them: from the last that answered, healthy ones first.
    func order() -> (healthy: [Int], suspect: [Int]) {
        let start = preferred.withLock { $0 }
        let now = NIODeadline.now()
        let until = suspects.withLock { s -> [Int: NIODeadline] in
            s = s.filter { $0.value > now }
            return s
        }
        let all = endpoints.indices.map { (start + $0) % endpoints.count }
        return (all.filter { until[$0] == nil }, all.filter { until[$0] != nil })
    }

    /// Whether an HTTP client error means the request never left this node (no connection was made).
    static func neverSent(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return error == .connectTimeout || error == .getConnectionFromPoolTimeout
        }
        if error is NIOConnectionError { return true }
        // A TLS handshake that failed (an untrusted certificate, say) sent no request.
        if let error = error as? NIOSSLError, case .handshakeFailed = error { return true }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        return false
    }

    /// A member's refusal that comes before anything is proposed, so a write certainly did not
    /// happen: no leader, or etcd's user or permissions.
    static func refusedBeforeApplying(_ message: String) -> Bool {
        ["no leader", "invalid auth token", "user name is empty", "authentication failed", "permission denied"].contains { message.contains($0) }
    }

    /// etcd refused the configured user (wrong name or password): the member answered.
    struct AuthRefused: Error, CustomStringConvertible {
        let description: String
    }

    /// The member's auth token (nil without `store.username`), authenticating when there is none.
    func authToken(_ index: Int, deadline: NIODeadline) async throws -> String? {
        guard let username = access.username, let password = access.password else { return nil }
        if let token = tokens.withLock({ $0[index] }) { return token }
        var request = HTTPClientRequest(url: endpoints[index] + "/v3/auth/authenticate")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: JSONValue.object(["name": .string(username), "password": .string(password)]).bytes()))
        let response = try await http.execute(request, deadline: deadline)
        let bytes = try await response.body.collect(upTo: 1 << 16)
        let json = try? JSONValue.parse(bytes: bytes.readableBytesView)
        guard response.status == .ok, let token = json?["token"]?.stringValue else {
            let message = json?["message"]?.stringValue ?? String(buffer: bytes)
            throw AuthRefused(description: "etcd refused user '\(username)' (store.username, store.password_env): \(response.status.code) \(message)")
        }
        tokens.withLock { $0[index] = token }
        return token
    }

    /// Forget a member's token (it said it is invalid): the next call authenticates again.
    func dropToken(_ index: Int) {
        _ = tokens.withLock { $0.removeValue(forKey: index) }
    }

    /// One POST to one member, with its auth token; a token the member no longer knows is got
    /// again once.
    private func post(_ index: Int, _ path: String, _ body: JSONValue, deadline: NIODeadline) async throws -> (HTTPResponseStatus, JSONValue) {
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: endpoints[index] + path)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "grpc-metadata-hasleader", value: "true")
            let token = try await authToken(index, deadline: deadline)
            if let token { request.headers.add(name: "authorization", value: token) }
            request.body = .bytes(ByteBuffer(bytes: body.bytes()))
            let response = try await http.execute(request, deadline: deadline)
            let bytes = try await response.body.collect(upTo: 4 << 20)
            let json = try JSONValue.parse(bytes: bytes.readableBytesView)
            if token != nil, attempt == 0, response.status == .unauthorized || (json["message"]?.stringValue ?? "").contains("invalid auth token") {
                dropToken(index)
                continue
            }
            return (response.status, json)
        }
        throw EtcdError("\(endpoints[index]): the auth token was refused twice", mayHaveApplied: false)
    }

    /// POST a JSON body to one endpoint after another (healthy members first, starting with the
    /// last that answered); `Grpc-Metadata-hasleader` makes a member without a leader fail at once
    /// instead of waiting. The error says whether the request may still take effect.
    func call(_ path: String, _ body: JSONValue) async throws(EtcdError) -> JSONValue {
        var lastError = "no endpoint"
        var mayHaveApplied = false
        var answered = false
        let (healthy, suspect) = order()
        // One budget for the whole call, across endpoints: a member that hangs must not make a
        // refusal slow.
        let deadline = NIODeadline.now() + .milliseconds(Int64(timeout * 1000))
        for index in healthy + suspect {
            guard NIODeadline.now() < deadline else { break }
            // A member that failed just now is tried only when no other member answered at all.
            if answered, !healthy.contains(index) { break }
            do {
                // No single member gets more than half the budget: a dead one (whose host the HTTP
                // client backs off from) must leave time for the next.
                let attemptDeadline = min(deadline, NIODeadline.now() + .milliseconds(Int64(timeout * 500)))
                let (status, json) = try await post(index, path, body, deadline: attemptDeadline)
                answered = true
                guard status == .ok else {
                    let message = json["message"]?.stringValue ?? json["error"]?.stringValue ?? ""
                    lastError = "\(endpoints[index]): \(status.code) \(message)"
                    // "no leader" and refusals of the user are refused before they are proposed;
                    // anything else (a timeout, a leader change) may still be applied.
                    if !Self.refusedBeforeApplying(message) { mayHaveApplied = true }
                    continue
                }
                preferred.withLock { $0 = index }
                return json
            } catch let refused as AuthRefused {
                answered = true
                lastError = "\(endpoints[index]): \(refused.description)"
            } catch let error as EtcdError {
                answered = true
                lastError = error.description
            } catch {
                lastError = "\(endpoints[index]): \(error)"
                if !Self.neverSent(error) { mayHaveApplied = true }
                suspects.withLock { $0[index] = .now() + Self.suspectFor }
                // Start with the next member next time.
                preferred.withLock { if $0 == index { $0 = (index + 1) % endpoints.count } }
            }
        }
        throw EtcdError(lastError, mayHaveApplied: mayHaveApplied)
    }

    /// The key's value and version (nil when absent), the store's revision at the read, and the
    /// cluster that answered.
    func get(_ key: String) async throws(EtcdError) -> (kv: KeyValue?, revision: Int, cluster: String) {
        let answer = try await call("/v3/kv/range", ["key": .string(Self.b64(key))])
        return (answer["kvs"]?.arrayValue?.first.map(Self.keyValue), Self.int(answer["header"]?["revision"]), Self.cluster(answer))
    }

    static func cluster(_ answer: JSONValue) -> String {
        answer["header"]?["cluster_id"]?.stringValue ?? answer["header"]?["cluster_id"]?.intValue.map(String.init) ?? ""
    }

    /// Keys under `prefix`, newest `limit` of them, in key order.
    func list(prefix: String, limit: Int) async throws(EtcdError) -> [KeyValue] {
        let end = Self.prefixEnd(prefix)
        let answer = try await call("/v3/kv/range", [
            "key": .string(Self.b64(prefix)), "range_end": .string(Self.b64(end)),
            "sort_order": "DESCEND", "sort_target": "KEY", "limit": .string(String(limit)),
        ])
        return (answer["kvs"]?.arrayValue ?? []).map(Self.keyValue).reversed()
    }

    /// The keys from `from` up to (not including) `to`, without their values, in key order.
    func keys(from: String, to: String) async throws(EtcdError) -> [KeyValue] {
        let answer = try await call("/v3/kv/range", [
            "key": .string(Self.b64(from)), "range_end": .string(Self.b64(to)), "keys_only": true,
        ])
        return (answer["kvs"]?.arrayValue ?? []).map(Self.keyValue)
    }

    static func keyValue(_ kv: JSONValue) -> KeyValue {
        KeyValue(key: String(decoding: unb64(kv["key"]?.stringValue), as: UTF8.self), value: unb64(kv["value"]?.stringValue),
                 version: int(kv["version"]), modRevision: int(kv["mod_revision"]), createRevision: int(kv["create_revision"]))
    }

    /// The first key after every key that starts with `prefix`.
    static func prefixEnd(_ prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        bytes[bytes.count - 1] += 1
        return bytes
    }

    /// Compare-and-swap: when `key`'s version is `version` (0: absent), put every pair and delete
    /// keys in `deleteRange`; either way the key's value after the transaction comes back (the one
    /// written, or the current one when the compare failed), with the cluster that answered.
    func swap(key: String, version: Int, puts: [(String, [UInt8])], deleteRange: (String, String)? = nil)
        async throws(EtcdError) -> (succeeded: Bool, current: KeyValue?, cluster: String) {
        var success: [JSONValue] = puts.map { ["request_put": ["key": .string(Self.b64($0.0)), "value": .string(Self.b64($0.1))]] }
        if let (from, to) = deleteRange {
            success.append(["request_delete_range": ["key": .string(Self.b64(from)), "range_end": .string(Self.b64(to))]])
        }
        let range: JSONValue = ["request_range": ["key": .string(Self.b64(key))]]
        success.append(range)
        let answer = try await call("/v3/kv/txn", [
            "compare": [["key": .string(Self.b64(key)), "target": "VERSION", "result": "EQUAL", "version": .string(String(version))]],
            "success": .array(success),
            "failure": [range],
        ])
        let kv = answer["responses"]?.arrayValue?.last?["response_range"]?["kvs"]?.arrayValue?.first.map(Self.keyValue)
        return (answer["succeeded"]?.boolValue == true, kv, Self.cluster(answer))
    }

    /// A lease of `ttl` seconds; its id.
    func grantLease(ttl: Int) async throws(EtcdError) -> String {
        let answer = try await call("/v3/lease/grant", ["TTL": .string(String(ttl))])
        guard let id = answer["ID"]?.stringValue ?? answer["ID"]?.intValue.map(String.init) else { throw EtcdError("lease grant: no ID") }
        return id
    }

    /// Renew a lease; false when it is gone (expired or revoked: grant a new one).
    func keepAlive(lease: String) async throws(EtcdError) -> Bool {
        let answer = try await call("/v3/lease/keepalive", ["ID": .string(lease)])
        return Self.int(answer["result"]?["TTL"]) > 0
    }

    /// Put `value` under `key`, attached to `lease` (the key goes when the lease does).
    func put(_ key: String, _ value: [UInt8], lease: String) async throws(EtcdError) {
        _ = try await call("/v3/kv/put", ["key": .string(Self.b64(key)), "value": .string(Self.b64(value)), "lease": .string(lease)])
    }

    /// Watch `key` from `revision`: each new value as it is put, until the stream ends, etcd
    /// cancels it (compaction), sends an error, or stays silent for longer than `silence` (a member
    /// that froze keeps the connection open and says nothing); all of which end the sequence with
    /// an error, after which the caller reads again.
    func watch(_ key: String, from revision: Int, silence: Duration) -> AsyncThrowingStream<KeyValue, any Error> {
        let (healthy, suspect) = order()
        let index = (healthy + suspect)[0]
        let url = endpoints[index] + "/v3/watch"
        let http = self.http
        let timeout = self.timeout
        return AsyncThrowingStream { continuation in
            let task = Task {
                let heard = LastHeard()
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            var request = HTTPClientRequest(url: url)
                            request.method = .POST
                            request.headers.add(name: "content-type", value: "application/json")
                            if let token = try await self.authToken(index, deadline: .now() + .milliseconds(Int64(timeout * 1000))) {
                                request.headers.add(name: "authorization", value: token)
                            }
                            request.body = .bytes(ByteBuffer(bytes: JSONValue.object([
                                "create_request": ["key": .string(Self.b64(key)), "start_revision": .string(String(revision)),
                                                   "progress_notify": true],
                            ]).bytes()))
                            let response = try await http.execute(request, timeout: .hours(24 * 365))
                            guard response.status == .ok else { throw EtcdError("watch: \(response.status.code)") }
                            var pending: [UInt8] = []
                            for try await chunk in response.body {
                                heard.time.withLock { $0 = .now }
                                pending.append(contentsOf: chunk.readableBytesView)
                                while let newline = pending.firstIndex(of: 0x0A) {
                                    let line = Array(pending[..<newline])
                                    pending.removeFirst(newline + 1)
                                    for kv in try Self.watchLine(line) { continuation.yield(kv) }
                                }
                                // etcd ends with an error object and no newline when it dies.
                                if let json = try? JSONValue.parse(bytes: pending), let error = json["error"] {
                                    throw EtcdError("watch: \(error["message"]?.stringValue ?? "error")")
                                }
                            }
                            throw EtcdError("watch: the stream ended")
                        }
                        group.addTask {
                            while true {
                                try await Task.sleep(for: silence / 4)
                                let quiet = ContinuousClock.now - heard.time.withLock { $0 }
                                if quiet > silence { throw EtcdError("watch: silent for \(quiet.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))") }
                            }
                        }
                        try await group.next()
                        group.cancelAll()
                    }
                } catch {
                    // A watch etcd cancelled for its token: the next read and watch authenticate again.
                    if "\(error)".contains("auth token") { self.dropToken(index) }
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The values in one line of a watch stream; an error or a cancellation (compaction) throws.
    static func watchLine(_ line: [UInt8]) throws(EtcdError) -> [KeyValue] {
        guard let json = try? JSONValue.parse(bytes: line) else { return [] }
        if let error = json["error"] { throw EtcdError("watch: \(error["message"]?.stringValue ?? "error")") }
        let result = json["result"]
        if result?["canceled"]?.boolValue == true {
            // A compaction says where it compacted; a refusal of the user says why.
            if let reason = result?["cancel_reason"]?.stringValue, !reason.isEmpty { throw EtcdError("watch cancelled: \(reason)") }
            throw EtcdError("watch cancelled (compacted at \(Self.int(result?["compact_revision"])))")
        }
        // A deleted key comes as its key with version 0 and no value.
        return (result?["events"]?.arrayValue ?? []).compactMap { event in
            guard var kv = event["kv"].map(Self.keyValue) else { return nil }
            if event["type"]?.stringValue == "DELETE" { (kv.version, kv.value) = (0, []) }
            return kv
        }
    }
}

/// When a watch stream last said something.
private final class LastHeard: Sendable {
    let time = Mutex(ContinuousClock.now)
}
