import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// The fleet store over TLS with etcd's own users (a real etcd with `--client-cert-auth` and
/// authentication on), and a change written straight into etcd: applied, flagged, acknowledged.
@Suite(.serialized, .enabled(if: EtcdServer.isInstalled, "etcd-server is not installed"))
struct FleetStoreSecurityTests {
    let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]
    static let password = "gate-password-0123"
    static let rootPassword = "root-password-0123"

    /// etcd speaking TLS only, asking for client certificates, with users: `clawgate` may read and
    /// write `/clawgate/` only. etcd 3.4 refuses a gateway request whose client certificate has a
    /// common name while authentication is on, so the client certificate here has none.
    struct Store {
        let certs: TestCertificates
        let client: TestCertificates.Pair
        let etcd: EtcdServer

        func stop() {
            etcd.stop()
            certs.remove()
        }
    }

    func secureStore() async throws -> Store {
        let certs = try TestCertificates.make()
        let server = try certs.issue("etcd", subject: "/CN=etcd", server: true)
        let client = try certs.issue("gate", subject: "/O=clawgate")
        let etcd = try await EtcdServer.start(tls: certs, server: server, client: client)
        try await etcd.enableAuth(rootPassword: Self.rootPassword, user: "clawgate", password: Self.password, prefix: "/clawgate/")
        return Store(certs: certs, client: client, etcd: etcd)
    }

    func node(_ id: String, sim: Simulator, store: Store, access: GatewayConfig.StoreAccess? = nil, password: String = password) async throws -> GatewayServer {
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
        config.nodeID = id
        config.store = .etcd(endpoints: [store.etcd.clientURL], fleet: "sec", timeout: 2)
        config.storeAccess = access ?? .init(caFile: store.certs.ca, certFile: store.client.cert, keyFile: store.client.key,
                                             username: "clawgate", passwordEnv: "CLAW_TEST_ETCD_PASSWORD")
        return try await TestFleet.gateway(config, environment: ["CLAW_TEST_ETCD_PASSWORD": password])
    }

    /// Run `body` over a secure store, a simulator and a client, then stop every node it put in
    /// `gates` and the rest, also when it throws (which is then rethrown).
    func withStore(_ body: (Store, Simulator, TestClient, inout [GatewayServer]) async throws -> Void) async throws {
        let store = try await secureStore()
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let client = TestClient()
        var gates: [GatewayServer] = []
        var failure: (any Error)?
        do { try await body(store, sim, client, &gates) } catch { failure = error }
        for gate in gates { await gate.stop() }
        await client.shutdown()
        await sim.stop()
        store.stop()
        if let failure { throw failure }
    }

    func within(_ seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test func nodesShareTheStoreOverTLSAsEtcdsUserAndAWrongPasswordOrNoCertificateGetsNothing() async throws {
        try await withStore { store, sim, client, gates in
            #expect(store.etcd.clientURL.hasPrefix("https://"))
            let a = try await node("node-a", sim: sim, store: store)
            gates.append(a)
            let b = try await node("node-b", sim: sim, store: store)
            gates.append(b)
            let drained = try await client.request("POST", a.adminURL + "/admin/v1/providers/a/drain", headers: op)
            #expect(drained.status == 200, "\(drained.text)")
            #expect(try await within(3) { b.gateway.state.operatorState.drainedProviders == ["a"] }, "node-b did not apply the drain through the watch")
            #expect(a.gateway.storeStatus.reachable && b.gateway.storeStatus.reachable)
            // The store holds it under etcd's access control: etcd's own user reads it, nobody else.
            let stored = try await store.etcd.call("/v3/kv/range", ["key": .string(Data("/clawgate/sec/state".utf8).base64EncodedString())],
                                                   user: ("clawgate", Self.password))
            #expect(stored["kvs"]?.arrayValue?.count == 1)
            await #expect(throws: (any Error).self) {
                _ = try await store.etcd.call("/v3/kv/range", ["key": .string(Data("/clawgate/sec/state".utf8).base64EncodedString())])
        }
        // A wrong password: the node starts with the configured routing, says why, and refuses writes.
        let wrong = try await node("node-c", sim: sim, store: store, password: "not-the-password")
        gates.append(wrong)
        let status = wrong.gateway.storeStatus
        #expect(!status.reachable && status.error?.contains("etcd refused user 'clawgate'") == true, "\(status)")
        #expect(wrong.gateway.state.operatorState.drainedProviders.isEmpty)
        let refused = try await client.request("POST", wrong.adminURL + "/admin/v1/providers/b/drain", headers: op)
        #expect(refused.status == 503)
        // No client certificate: the TLS handshake is refused, so the store is out of reach.
        let anonymous = try await node("node-d", sim: sim, store: store,
                                       access: .init(caFile: store.certs.ca, username: "clawgate", passwordEnv: "CLAW_TEST_ETCD_PASSWORD"))
        gates.append(anonymous)
        #expect(!anonymous.gateway.storeStatus.reachable, "\(anonymous.gateway.storeStatus)")
        // Not trusting etcd's CA: the same.
        let untrusting = try await node("node-e", sim: sim, store: store,
                                        access: .init(certFile: store.client.cert, keyFile: store.client.key, username: "clawgate",
                                                      passwordEnv: "CLAW_TEST_ETCD_PASSWORD"))
        gates.append(untrusting)
        #expect(!untrusting.gateway.storeStatus.reachable)
        }
    }

    @Test func aChangeWrittenStraightIntoEtcdIsAppliedFlaggedUntilAcknowledgedAndSurvivesARestart() async throws {
        try await withStore { store, sim, client, gates in
            let a = try await node("node-a", sim: sim, store: store)
            gates.append(a)
            var b = try await node("node-b", sim: sim, store: store)
            gates.append(b)
            #expect(try await client.request("POST", a.adminURL + "/admin/v1/providers/a/drain", headers: op).status == 200)
            #expect(try await within(3) { b.gateway.state.operatorState.revision == 1 })
            #expect(a.gateway.storeStatus.unaudited.isEmpty && b.gateway.storeStatus.unaudited.isEmpty, "a write through a node is audited")
            // Someone with etcd's root user changes the weights with a put of their own, as etcdctl would.
            let key = Data("/clawgate/sec/state".utf8).base64EncodedString()
            let root = ("root", Self.rootPassword)
            let current = try await store.etcd.call("/v3/kv/range", ["key": .string(key)], user: root)
            let value = try #require(current["kvs"]?.arrayValue?.first?["value"]?.stringValue, "no state in the store")
            let bytes = try #require(Data(base64Encoded: value))
            guard case .object(var document) = try JSONValue.parse(bytes) else { Issue.record("not an object"); return }
            document["weights"] = ["chat": ["b": 90]]
            _ = try await store.etcd.call("/v3/kv/put", ["key": .string(key), "value": .string(Data(JSONValue.object(document).bytes()).base64EncodedString())],
                                          user: root)
            // Applied by every node, and flagged on every node.
            for gate in [a, b] {
                #expect(try await within(3) { gate.gateway.state.operatorState.weights == ["chat": ["b": 90]] }, "\(gate.gateway.config.nodeID) did not apply it")
                #expect(try await within(3) { gate.gateway.storeStatus.unaudited == [2] }, "\(gate.gateway.storeStatus)")
                let events = gate.gateway.state.events(since: 0).events
                #expect(events.contains { $0.subject == "fleet" && $0.detail.contains("revision 2 of the fleet state was written straight into etcd") })
                let snapshot = try AdminAPI.decode(Snapshot.self, from: try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: op).body)
                #expect(snapshot.node.store.unaudited == [2])
        }
        // Flagged still after a restart: it is worked out from the store, not remembered by a node.
        await b.stop()
        gates.removeLast()
        b = try await node("node-b", sim: sim, store: store)
        gates.append(b)
        #expect(b.gateway.storeStatus.unaudited == [2], "\(b.gateway.storeStatus)")
        // A viewer may not acknowledge; an operator's acknowledgement is an audited write that every node sees.
        let viewer = try await client.request("POST", b.adminURL + "/admin/v1/store/acknowledge", headers: ["authorization": "Bearer \(TestFleet.viewerToken)"])
        #expect(viewer.status == 403)
        let acknowledged = try await client.request("POST", b.adminURL + "/admin/v1/store/acknowledge",
                                                    body: AdminAPI.encode(ReasonBody(reason: "a hotfix with etcdctl")), headers: op)
        #expect(acknowledged.status == 200, "\(acknowledged.text)")
        let written = try AdminAPI.decode(Written.self, from: acknowledged.body)
        #expect(written.changed && written.revision == 3)
        for gate in [a, b] { #expect(try await within(3) { gate.gateway.storeStatus.unaudited.isEmpty }, "\(gate.gateway.storeStatus)") }
        #expect(a.gateway.state.operatorState.weights == ["chat": ["b": 90]], "the change stays in effect")
        let audit = try AdminAPI.decode(AuditPage.self, from: try await client.request("GET", a.adminURL + "/admin/v1/audit", headers: op).body)
        #expect(audit.items.map(\.action) == ["provider.drain", "store.acknowledge"], "revision 2 has no record")
        #expect(audit.items.last?.reason == "a hotfix with etcdctl" && audit.items.last?.revision == 3)
        // Again: nothing to acknowledge, nothing written.
        let again = try AdminAPI.decode(Written.self, from: try await client.request("POST", a.adminURL + "/admin/v1/store/acknowledge", headers: op).body)
        #expect(!again.changed && again.revision == 3)
        // A second straight write is flagged again, alone.
        document["weights"] = ["chat": ["b": 70]]
        document["store_acknowledged"] = 2
        _ = try await store.etcd.call("/v3/kv/put", ["key": .string(key), "value": .string(Data(JSONValue.object(document).bytes()).base64EncodedString())],
                                      user: root)
        #expect(try await within(3) { a.gateway.storeStatus.unaudited == [4] }, "\(a.gateway.storeStatus)")
        }
    }

    @Test func aFileStoreHasNothingToAcknowledge() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]]) { _, gate, client in
            let answer = try await client.request("POST", gate.adminURL + "/admin/v1/store/acknowledge", headers: op)
            #expect(answer.status == 409 && answer.text.contains("no_fleet_store"), "\(answer.text)")
            #expect(gate.gateway.state.operatorState.revision == 0)
        }
    }
}
