import ClawShared
import Foundation
import ServiceLifecycle

/// With a fleet store and client keys, each node tells the others what each client spent today
/// (under a lease, every second) and counts theirs against the clients' daily spend limits, so a
/// fleet of three nodes does not allow three times the budget. The lag is about a second.
struct ClientSpendSync: Service {
    let gateway: Gateway
    static let every = 1.0

    func run() async throws {
        guard let store = gateway.fleetStore, let clients = gateway.clientAuth.clients, !clients.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        let names = clients.map(\.name)
        let mine = store.spendKey(gateway.config.nodeID)
        try await cancelWhenGracefulShutdown {
            var lease: String?
            while !Task.isCancelled {
                do throws(EtcdError) {
                    if let current = lease, try await !store.client.keepAlive(lease: current) { lease = nil }
                    if lease == nil { lease = try await store.client.grantLease(ttl: 10) }
                    let day = Int(Date().timeIntervalSince1970 / 86400)
                    let own = gateway.state.clientSpendToday()
                    let record: JSONValue = ["day": JSONValue(day), "spend": .object(Dictionary(uniqueKeysWithValues: zip(names, own.map { JSONValue($0) })))]
                    if let lease { try await store.client.put(mine, record.bytes(sorted: true), lease: lease) }
                    var others = [Double](repeating: 0, count: names.count)
                    for kv in try await store.client.list(prefix: store.spendPrefix, limit: 10_000) where kv.key != mine {
                        guard let json = try? JSONValue.parse(bytes: kv.value), json["day"]?.intValue == day else { continue }
                        for (i, name) in names.enumerated() { others[i] += json["spend"]?[name]?.doubleValue ?? 0 }
                    }
                    gateway.state.setOthersSpend(others)
                } catch {
                    // The last figures stand while the store does not answer.
                    lease = nil
                }
                try await Task.sleep(for: .milliseconds(Int(Self.every * 1000)))
            }
        }
    }
}

extension FleetStore {
    var spendPrefix: String { "/clawgate/\(fleet)/spend/" }
    func spendKey(_ node: String) -> String { spendPrefix + node }
}
