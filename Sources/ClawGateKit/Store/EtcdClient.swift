import AsyncHTTPClient
import ClawShared
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Why a call to etcd did not give an answer: its outcome may be unknown (a timeout can still be
/// applied later, when quorum returns), so writers re-read to tell the truth.
public struct EtcdError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// etcd 3.4's HTTP/JSON gateway (`/v3/...`), with AsyncHTTPClient: no etcd client library for
/// Swift has transactions and watch revisions. Keys and values are base64; 64-bit integers come
/// back as JSON strings; fields at their default are left out (see DESIGN.md).
final class EtcdClient: Sendable {
    struct KeyValue: Sendable, Equatable {
        var key: String
        var value: [UInt8]
        /// 1, 2, 3... per key: the fleet state's revision.
        var version: Int
        var modRevision: Int
    }

    let endpoints: [String]
    let timeout: Double
    private let http: HTTPClient
    private let preferred = Mutex(0)

    init(endpoints: [String], timeout: Double) {
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.timeout = timeout
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(Int64(min(timeout, 2) * 1000)))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async { try? await http.shutdown() }

    static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
    static func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    static func unb64(_ text: String?) -> [UInt8] { text.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? [] }
    static func int(_ value: JSONValue?) -> Int { value?.stringValue.flatMap(Int.init) ?? value?.intValue ?? 0 }

    /// POST a JSON body to one endpoint after another (starting with the last that answered);
    /// `Grpc-Metadata-hasleader` makes a member without a leader fail at once instead of waiting.
    func call(_ path: String, _ body: JSONValue) async throws(EtcdError) -> JSONValue {
        var lastError = "no endpoint"
        let start = preferred.withLock { $0 }
        // One budget for the whole call, across endpoints: a member that hangs must not make a
        // refusal slow.
        let deadline = NIODeadline.now() + .milliseconds(Int64(timeout * 1000))
        for offset in endpoints.indices {
            guard NIODeadline.now() < deadline else { break }
            let index = (start + offset) % endpoints.count
            var request = HTTPClientRequest(url: endpoints[index] + path)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "grpc-metadata-hasleader", value: "true")
            request.body = .bytes(ByteBuffer(bytes: body.bytes()))
            do {
                // No single member gets more than half the budget: a dead one (whose host the HTTP
                // client backs off from) must leave time for the next.
                let attemptDeadline = min(deadline, NIODeadline.now() + .milliseconds(Int64(timeout * 500)))
                let response = try await http.execute(request, deadline: attemptDeadline)
                let bytes = try await response.body.collect(upTo: 4 << 20)
                let json = try JSONValue.parse(bytes: bytes.readableBytesView)
                guard response.status == .ok else {
                    lastError = "\(endpoints[index]): \(response.status.code) \(json["message"]?.stringValue ?? json["error"]?.stringValue ?? "")"
                    continue
                }
                preferred.withLock { $0 = index }
                return json
            } catch {
                lastError = "\(endpoints[index]): \(error)"
                // Start with the next member next time.
                preferred.withLock { if $0 == index { $0 = (index + 1) % endpoints.count } }
            }
        }
        throw EtcdError(lastError)
    }

    /// The key's value and version (nil when absent), and the store's revision at the read.
    func get(_ key: String) async throws(EtcdError) -> (kv: KeyValue?, revision: Int) {
        let answer = try await call("/v3/kv/range", ["key": .string(Self.b64(key))])
        return (answer["kvs"]?.arrayValue?.first.map(Self.keyValue), Self.int(answer["header"]?["revision"]))
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

    static func keyValue(_ kv: JSONValue) -> KeyValue {
        KeyValue(key: String(decoding: unb64(kv["key"]?.stringValue), as: UTF8.self), value: unb64(kv["value"]?.stringValue),
                 version: int(kv["version"]), modRevision: int(kv["mod_revision"]))
    }

    /// The first key after every key that starts with `prefix`.
    static func prefixEnd(_ prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        bytes[bytes.count - 1] += 1
        return bytes
    }

    /// Compare-and-swap: when `key`'s version is `version` (0: absent), put every pair and delete
    /// keys in `deleteRange`; otherwise nothing changes and the key's current value comes back.
    func swap(key: String, version: Int, puts: [(String, [UInt8])], deleteRange: (String, String)? = nil)
        async throws(EtcdError) -> (succeeded: Bool, current: KeyValue?) {
        var success: [JSONValue] = puts.map { ["request_put": ["key": .string(Self.b64($0.0)), "value": .string(Self.b64($0.1))]] }
        if let (from, to) = deleteRange {
            success.append(["request_delete_range": ["key": .string(Self.b64(from)), "range_end": .string(Self.b64(to))]])
        }
        let answer = try await call("/v3/kv/txn", [
            "compare": [["key": .string(Self.b64(key)), "target": "VERSION", "result": "EQUAL", "version": .string(String(version))]],
            "success": .array(success),
            "failure": [["request_range": ["key": .string(Self.b64(key))]]],
        ])
        if answer["succeeded"]?.boolValue == true { return (true, nil) }
        let kv = answer["responses"]?.arrayValue?.first?["response_range"]?["kvs"]?.arrayValue?.first.map(Self.keyValue)
        return (false, kv)
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
    /// cancels it (compaction) or sends an error; all of which end the sequence with an error.
    func watch(_ key: String, from revision: Int) -> AsyncThrowingStream<KeyValue, any Error> {
        let index = preferred.withLock { $0 }
        let url = endpoints[index % endpoints.count] + "/v3/watch"
        let http = self.http
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "content-type", value: "application/json")
                    request.body = .bytes(ByteBuffer(bytes: JSONValue.object([
                        "create_request": ["key": .string(Self.b64(key)), "start_revision": .string(String(revision))],
                    ]).bytes()))
                    let response = try await http.execute(request, timeout: .hours(24 * 365))
                    guard response.status == .ok else { throw EtcdError("watch: \(response.status.code)") }
                    var pending: [UInt8] = []
                    for try await chunk in response.body {
                        pending.append(contentsOf: chunk.readableBytesView)
                        while let newline = pending.firstIndex(of: 0x0A) {
                            let line = Array(pending[..<newline])
                            pending.removeFirst(newline + 1)
                            guard let json = try? JSONValue.parse(bytes: line) else { continue }
                            if let error = json["error"] { throw EtcdError("watch: \(error["message"]?.stringValue ?? "error")") }
                            let result = json["result"]
                            if result?["canceled"]?.boolValue == true {
                                throw EtcdError("watch cancelled (compacted at \(Self.int(result?["compact_revision"])))")
                            }
                            for event in result?["events"]?.arrayValue ?? [] where event["type"]?.stringValue != "DELETE" {
                                if let kv = event["kv"] { continuation.yield(Self.keyValue(kv)) }
                            }
                        }
                        // etcd ends with an error object and no newline when it dies.
                        if let json = try? JSONValue.parse(bytes: pending), let error = json["error"] {
                            throw EtcdError("watch: \(error["message"]?.stringValue ?? "error")")
                        }
                    }
                    throw EtcdError("watch: the stream ended")
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
