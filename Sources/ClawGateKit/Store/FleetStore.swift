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
        /// The store holds no operator state although this node applied one: wiped (or the key
        /// deleted). Reported in the snapshot's store error until a state is there again.
        var emptied = false
        /// Revisions of the fleet state written straight into etcd (with no audit record of a
        /// node's admin API beside them), not acknowledged yet.
        var unaudited: [Int] = []
        /// The place of the state `unaudited` was last worked out for (a slower, older check does
        /// not overwrite a newer one).
        var auditChecked: Place?
    }

    let health = Mutex(Health())

    /// Where a stored state sits in the store's history: which store (the cluster, and the
    /// revision that created the key) and the revision that wrote it. Only a later place in the
    /// same history is news; a different history (another cluster, or the key deleted and written
    /// again) is news too, and its version is then judged against what this node applied.
    struct Place: Sendable, Equatable {
        var cluster: String
        var created: Int
        var modified: Int

        init(_ kv: EtcdClient.KeyValue, cluster: String) {
            self.cluster = cluster
            created = kv.createRevision
            modified = kv.modRevision
        }
    }

    /// A stored state and where it sits.
    struct Stored: Sendable {
        var state: OperatorState
        var place: Place
        /// The state key's version: the state's revision is `state.revision - keyVersion` more
        /// (its `revision_base`, set by an import into a wiped store to move past every node).
        var keyVersion: Int
        var revisionBase: Int { state.revision - keyVersion }
    }

    /// The `revision_base` of the latest stored state read, watched or written: a write's
    /// compare is on the key's version, which is its revision less this.
    private let revisionBase = Mutex(0)

    /// The latest place this node has seen (read, watched or written).
    private let seen = Mutex<Place?>(nil)

    /// The cluster of the last read, for the places of the values its watch brings.
    var cluster: String { seen.withLock { $0?.cluster ?? "" } }

    /// When `place` is later than any this node has seen, it becomes the latest and `body` runs
    /// (under the same lock, so two states never go in effect out of order). A watch that brings
    /// this node's own write after the write's answer is not news, for example.
    @discardableResult
    func ifNews(_ place: Place, _ body: () -> Void) -> Bool {
        seen.withLock { latest in
            if let latest, latest.cluster == place.cluster, latest.created == place.created, place.modified <= latest.modified { return false }
            latest = place
            body()
            return true
        }
    }

    init(endpoints: [String], fleet: String, timeout: Double, access: EtcdAccess = EtcdAccess()) {
        client = EtcdClient(endpoints: endpoints, timeout: timeout, access: access)
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

    /// Decode a stored state; its revision is the key's version, plus the `revision_base` it
    /// carries (0 unless an import moved a wiped store past the nodes).
    func decode(_ kv: EtcdClient.KeyValue, cluster: String) -> Stored? {
        guard let json = try? JSONValue.parse(bytes: kv.value), var state = try? OperatorState(json: json) else { return nil }
        let base = max(0, json["revision_base"]?.intValue ?? 0)
        state.revision = base + kv.version
        revisionBase.withLock { $0 = base }
        return Stored(state: state, place: Place(kv, cluster: cluster), keyVersion: kv.version)
    }

    /// The stored state (nil when none was written yet) and the store's revision at the read.
    func read() async throws(EtcdError) -> (stored: Stored?, revision: Int) {
        let (kv, revision, cluster) = try await client.get(stateKey)
        guard let kv else { return (nil, revision) }
        guard let stored = decode(kv, cluster: cluster) else { throw EtcdError("\(stateKey) holds something that is not an operator state") }
        return (stored, revision)
    }

    /// Put `next` (revision = `version` + 1) and its audit record if the stored revision is still
    /// `version`; either way the stored state after it comes back (`next` with its place, or the
    /// one that was there).
    func swap(next: OperatorState, version: Int, audit: AuditEntry) async throws(EtcdError) -> (succeeded: Bool, current: Stored?) {
        let base = revisionBase.withLock { $0 }
        // A revision below the base cannot be the stored one: compare with a version that fails.
        return try await swap(next: next, keyVersion: version >= base ? version - base : -1, audit: audit)
    }

    /// Put `next` if the state key's version is still `keyVersion` (0: absent), with the
    /// `revision_base` that gives it `next.revision`.
    func swap(next: OperatorState, keyVersion: Int, audit: AuditEntry) async throws(EtcdError) -> (succeeded: Bool, current: Stored?) {
        guard case .object(var object) = next.json else { throw EtcdError("the state is not a JSON object") }
        let base = next.revision - (keyVersion + 1)
        if base > 0 { object["revision_base"] = JSONValue(base) }
        var bytes = JSONValue.object(object).bytes(sorted: true)
        bytes.append(0x0A)
        let version = keyVersion
        let old = next.revision - Self.auditLimit
        let cleanup = old > 0 ? (auditKey(0), auditKey(old)) : nil
        let (ok, current, cluster) = try await client.swap(key: stateKey, version: version,
                                                           puts: [(stateKey, bytes), (auditKey(next.revision), Array(AdminAPI.encode(audit)))],
                                                           deleteRange: cleanup)
        return (ok, current.flatMap { decode($0, cluster: cluster) })
    }

    /// The revisions of `stored`'s history since the last acknowledged one that no node's admin
    /// API wrote: every write through a node (or `clawgate state import`) puts its audit record in
    /// the same transaction as the state, so the record of revision N was modified at the same
    /// store revision as the state at N, and the records of earlier revisions during the key's
    /// life. A revision without such a record was put into etcd some other way (etcdctl, a script).
    /// Only the last `auditLimit` revisions are looked at (older records are deleted).
    func unaudited(_ stored: Stored) async throws(EtcdError) -> [Int] {
        let current = stored.state.revision
        // Revisions below the state's `revision_base` were before the key's life (a wiped store
        // restored by an import): there is nothing to check them against.
        let from = max(stored.state.storeAcknowledged, current - Self.auditLimit, stored.revisionBase, 0) + 1
        guard from <= current else { return [] }
        var audited = Set<Int>()
        for kv in try await client.keys(from: auditKey(from), to: auditKey(current + 1)) {
            guard let revision = Int(kv.key.dropFirst(auditPrefix.count)) else { continue }
            let sameWrite = revision == current ? kv.modRevision == stored.place.modified
                                                : kv.modRevision >= stored.place.created && kv.modRevision < stored.place.modified
            if sameWrite { audited.insert(revision) }
        }
        return (from...current).filter { !audited.contains($0) }
    }

    /// The newest audit records in the store, oldest first.
    func audit(limit: Int = FleetStore.auditLimit) async throws(EtcdError) -> [AuditEntry] {
        try await client.list(prefix: auditPrefix, limit: limit).compactMap { try? AdminAPI.decode(AuditEntry.self, from: $0.value) }
    }
}
