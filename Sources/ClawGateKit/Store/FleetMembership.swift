import ClawAdminAPI
import ClawShared
import Foundation
import ServiceLifecycle

/// Each node registers itself in the fleet store under a lease: its URL, version and the state
/// revision it has applied. The key goes with the lease when the node stops renewing it, so the
/// list is the live fleet. `GET /admin/v1/fleet` reads it.
struct FleetMembership: Service {
    let gateway: Gateway
    static let ttl = 10
    static let renewEvery = 2.0

    func run() async throws {
        guard let store = gateway.fleetStore else {
            try? await gracefulShutdown()
            return
        }
        try await cancelWhenGracefulShutdown {
            var lease: String?
            var said: (revision: Int, at: Date)?
            while !Task.isCancelled {
                do throws(EtcdError) {
                    if let current = lease, try await !store.client.keepAlive(lease: current) { lease = nil }
                    if lease == nil {
                        lease = try await store.client.grantLease(ttl: Self.ttl)
                        said = nil
                    }
                    let revision = gateway.state.operatorState.revision
                    // Said again when the applied revision moves, and now and then to keep the age fresh.
                    if said == nil || said!.revision != revision || Date().timeIntervalSince(said!.at) > Double(Self.ttl) / 2,
                       let lease, let url = gateway.advertisedURL.withLock({ $0 }) {
                        try await store.client.put(store.memberKey(gateway.config.nodeID), gateway.memberRecord(url: url, revision: revision), lease: lease)
                        said = (revision, Date())
                    }
                } catch {
                    lease = nil
                }
                // Quick to report a newly applied revision; the lease renewal itself needs far less.
                for _ in 0..<Int(Self.renewEvery / 0.05) where !Task.isCancelled && gateway.state.operatorState.revision == (said?.revision ?? -1) {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }
}

extension FleetStore {
    var membersPrefix: String { "/clawgate/\(fleet)/members/" }
    func memberKey(_ node: String) -> String { membersPrefix + node }

    func members() async throws(EtcdError) -> [FleetMembers.Member] {
        let now = Date().timeIntervalSince1970
        return try await client.list(prefix: membersPrefix, limit: 10_000).compactMap { kv in
            guard let json = try? JSONValue.parse(bytes: kv.value), let id = json["id"]?.stringValue, let url = json["url"]?.stringValue else { return nil }
            return FleetMembers.Member(id: id, url: url, version: json["version"]?.stringValue ?? "", appliedRevision: json["applied_revision"]?.intValue ?? 0,
                                       ageSeconds: max(0, ((now - (json["updated_at"]?.doubleValue ?? now)) * 1000).rounded() / 1000))
        }
    }
}

extension Gateway {
    func memberRecord(url: String, revision: Int) -> [UInt8] {
        JSONValue.object([
            "id": .string(config.nodeID), "url": .string(url), "version": .string(Gateway.version),
            "applied_revision": JSONValue(revision), "updated_at": .number(Date().timeIntervalSince1970),
        ]).bytes(sorted: true)
    }

    /// The fleet as the store knows it; with a file store, or a store that does not answer, this node alone.
    func fleetMembers() async -> FleetMembers {
        let revision = state.operatorState.revision
        let me = FleetMembers.Member(id: config.nodeID, url: advertisedURL.withLock { $0 } ?? "", version: Gateway.version,
                                     appliedRevision: revision, ageSeconds: 0)
        guard let fleetStore else { return FleetMembers(store: storeStatus, revision: revision, members: [me]) }
        do throws(EtcdError) {
            let members = try await fleetStore.members()
            let storeRevision = try await fleetStore.read().stored?.state.revision ?? 0
            fleetStore.noteReachable(true)
            return FleetMembers(store: storeStatus, revision: storeRevision, members: members)
        } catch {
            fleetStore.noteReachable(false, error: error.description)
            return FleetMembers(store: storeStatus, revision: revision, members: [me])
        }
    }
}
