import ClawAdminAPI
import ClawShared
import Foundation
import Synchronization

/// The fleet's one copy of the operator state, in etcd. A write is one transaction that compares
/// the state's version and puts the new state with its audit record; every node reads the state,
/// then watches it and applies each new version (see `FleetSync`).
final class FleetStore: Sendable {
    let client: EtcdClient
    let fleet: String
    /// Audit records kept in the store.
    static let auditLimit = 1000

    struct Health: Sendable, Equatable {
        var reachable = false
        var lastError: String?
        /// The store's state version this node has applied.
        var applied = 0
    }

    let health = Mutex(Health())

    init(endpoints: [String], fleet: String, timeout: Double) {
        client = EtcdClient(endpoints: endpoints, timeout: timeout)
        self.fleet = fleet
    }

    var stateKey: String { "/clawgate/\(fleet)/state" }
    var auditPrefix: String { "/clawgate/\(fleet)/audit/" }
    func auditKey(_ revision: Int) -> String { auditPrefix + String(format: "%012d", revision) }

    func noteReachable(_ ok: Bool, error: String? = nil) {
        health.withLock {
            $0.reachable = ok
            $0.lastError = ok ? nil : error
        }
    }

    /// Decode a stored state; its revision is the key's version.
    static func decode(_ kv: EtcdClient.KeyValue) -> OperatorState? {
        guard var state = try? OperatorState(json: try JSONValue.parse(bytes: kv.value)) else { return nil }
        state.revision = kv.version
        return state
    }

    /// The stored state (nil when none was written yet) and the store's revision at the read.
    func read() async throws(EtcdError) -> (state: OperatorState?, revision: Int) {
        let (kv, revision) = try await client.get(stateKey)
        guard let kv else { return (nil, revision) }
        guard let state = Self.decode(kv) else { throw EtcdError("\(stateKey) holds something that is not an operator state") }
        return (state, revision)
    }

    /// Put `next` (revision = `version` + 1) and its audit record if the stored version is still
    /// `version`; else the stored state comes back.
    func swap(next: OperatorState, version: Int, audit: AuditEntry) async throws(EtcdError) -> (succeeded: Bool, current: OperatorState?) {
        var bytes = next.json.bytes(sorted: true)
        bytes.append(0x0A)
        let old = next.revision - Self.auditLimit
        let cleanup = old > 0 ? (auditKey(0), auditKey(old)) : nil
        let (ok, current) = try await client.swap(key: stateKey, version: version,
                                                  puts: [(stateKey, bytes), (auditKey(next.revision), Array(AdminAPI.encode(audit)))],
                                                  deleteRange: cleanup)
        return (ok, current.flatMap(Self.decode))
    }

    /// The newest audit records in the store, oldest first.
    func audit(limit: Int = FleetStore.auditLimit) async throws(EtcdError) -> [AuditEntry] {
        try await client.list(prefix: auditPrefix, limit: limit).compactMap { try? AdminAPI.decode(AuditEntry.self, from: $0.value) }
    }
}
