import ClawAdminAPI
import ClawShared
import Foundation

/// `clawgate state export` / `import`: operator state saved and restored in a drill, for either
/// store. An import is a write like any other: it compares the revision (`--if-match`, else the
/// current one), moves it on by one and leaves an audit record.
public enum StateBackup {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public let stale: Bool
        init(_ description: String, stale: Bool = false) {
            self.description = description
            self.stale = stale
        }
    }

    /// The fleet store's TLS and user, as the node would use them.
    static func access(_ config: GatewayConfig, _ environment: [String: String]) throws(Failure) -> EtcdAccess {
        do {
            return try EtcdAccess.load(config.storeAccess, environment: environment)
        } catch {
            throw Failure(error.description)
        }
    }

    static func localStore(_ config: GatewayConfig, environment: [String: String]) -> StateStore {
        StateStore(directory: config.admin.stateDir ?? StateStore.defaultDirectory(nodeID: config.nodeID, environment: environment))
    }

    /// The operator state as JSON, with its revision.
    public static func export(_ config: GatewayConfig, environment: [String: String] = ProcessInfo.processInfo.environment) async throws(Failure) -> JSONValue {
        if case .etcd(let endpoints, let fleet, let timeout) = config.store {
            let store = FleetStore(endpoints: endpoints, fleet: fleet, timeout: timeout, access: try access(config, environment))
            let result: Result<JSONValue, Failure>
            do {
                result = .success(try await store.read().stored?.state.json ?? OperatorState().json)
            } catch {
                result = .failure(Failure("the fleet store did not answer: \(error.description)"))
            }
            await store.client.shutdown()
            return try result.get()
        }
        do {
            return try localStore(config, environment: environment).load()?.json ?? OperatorState().json
        } catch {
            throw Failure(error.description)
        }
    }

    /// Put `document` in effect as the next revision; the revision it got.
    public static func `import`(_ document: JSONValue, into config: GatewayConfig, ifMatch: Int?, actor: String,
                                environment: [String: String] = ProcessInfo.processInfo.environment) async throws(Failure) -> Int {
        var next: OperatorState
        do {
            next = try OperatorState(json: document)
        } catch {
            throw Failure("the file is not an operator state: \(error.description)")
        }
        let now = Date().timeIntervalSince1970
        let audit: @Sendable (OperatorState, OperatorState) -> AuditEntry = { before, after in
            AuditEntry(sequence: after.revision, time: now, actor: actor, action: "state.import", target: "fleet",
                       before: before.json, after: after.json, reason: "clawgate state import", revision: after.revision)
        }
        if case .etcd(let endpoints, let fleet, let timeout) = config.store {
            let store = FleetStore(endpoints: endpoints, fleet: fleet, timeout: timeout, access: try access(config, environment))
            // This host's cached copy counts among the revisions to move past (a node stopped now
            // is not among the store's members).
            let cached = ((try? localStore(config, environment: environment).load()) ?? nil)?.revision ?? 0
            let result = await importToStore(store, &next, ifMatch: ifMatch, atLeast: cached, audit: audit)
            await store.client.shutdown()
            return try result.get()
        }
        let store = localStore(config, environment: environment)
        do {
            try store.prepare()
            let current = try store.load() ?? OperatorState()
            if let ifMatch, ifMatch != current.revision {
                throw Failure("--if-match \(ifMatch) is stale: the state file is at revision \(current.revision)", stale: true)
            }
            next.revision = current.revision + 1
            try store.save(next)
            try store.append(audit(current, next))
            return next.revision
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure("\(error)")
        }
    }

    /// An import into the fleet store. Its revision moves past the store's and past every
    /// revision a node applied (the members' records, and `atLeast`), so after a wipe the nodes
    /// take it at once instead of refusing a store that went backwards.
    static func importToStore(_ store: FleetStore, _ next: inout OperatorState, ifMatch: Int?, atLeast: Int = 0,
                              audit: (OperatorState, OperatorState) -> AuditEntry) async -> Result<Int, Failure> {
            do {
                let stored = try await store.read().stored
                let current = stored?.state ?? OperatorState()
                if let ifMatch, ifMatch != current.revision {
                    throw Failure("--if-match \(ifMatch) is stale: the fleet store is at revision \(current.revision)", stale: true)
                }
                let applied = (try? await store.members().map(\.appliedRevision).max()) ?? nil
                next.revision = max(current.revision, applied ?? 0, atLeast) + 1
                // The store's own acknowledgement of direct writes stays: an older saved state must
                // not flag (or hide) revisions again.
                next.storeAcknowledged = current.storeAcknowledged
                next.operation = UUID().uuidString
                let (ok, now) = try await store.swap(next: next, keyVersion: stored?.keyVersion ?? 0, audit: audit(current, next))
                guard ok else { throw Failure("the fleet store changed under the import: it is at revision \(now?.state.revision ?? 0); run it again", stale: true) }
                return .success(next.revision)
            } catch let failure as Failure {
                return .failure(failure)
            } catch {
                return .failure(Failure("the fleet store did not answer: \(error)"))
            }
    }
}
