import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Operator state in a real etcd (Debian's etcd-server) shared by real nodes: one write through any
/// node, every node converges by itself. Skipped only where etcd is not installed (CI has it).
@Suite(.serialized, .enabled(if: EtcdServer.isInstalled, "etcd-server is not installed"))
struct FleetStoreTests {
    let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]

    func node(_ id: String, sim: Simulator, etcd: EtcdServer, timeout: Double = 2) async throws -> GatewayServer {
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
        config.nodeID = id
        config.store = .etcd(endpoints: [etcd.clientURL], fleet: "test", timeout: timeout)
        return try await TestFleet.gateway(config)
    }

    func state(_ gate: GatewayServer) -> OperatorState { gate.gateway.state.operatorState }

    /// Wait up to `seconds` for `condition`; how long it took, or nil.
    func within(_ seconds: Double, _ condition: () -> Bool) async throws -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if condition() { return Date().timeIntervalSince(start) }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition() ? seconds : nil
    }

    @Test func aWriteThroughOneNodeIsAppliedByTheOthersAndByANodeStartedLater() async throws {
        let etcd = try await EtcdServer.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let a = try await node("node-a", sim: sim, etcd: etcd)
        let b = try await node("node-b", sim: sim, etcd: etcd)
        let client = TestClient()
        let drained = try await client.request("POST", a.adminURL + "/admin/v1/providers/a/drain",
                                               body: AdminAPI.encode(ReasonBody(reason: "maintenance")), headers: op)
        #expect(drained.status == 200, "\(drained.text)")
        #expect(try AdminAPI.decode(Written.self, from: drained.body).revision == 1)
        let took = try await within(2) { state(b).drainedProviders == ["a"] }
        #expect(took != nil, "node-b did not apply the drain")
        // node-b now sends nothing to a.
        for _ in 0..<10 { #expect(try await client.chat(b.url, model: "chat").header("x-clawgate-provider") == "b") }
        // A stale If-Match is refused by the store's compare, on any node.
        let stale = try await client.request("POST", b.adminURL + "/admin/v1/providers/b/drain", headers: op.merging(["if-match": "0"]) { $1 })
        #expect(stale.status == 412 && (try? AdminAPI.decode(ErrorBody.self, from: stale.body).error.revision) == 1)
        // A write through b, based on what b applied, lands as revision 2 and reaches a.
        let weights = try await client.request("PUT", b.adminURL + "/admin/v1/routes/chat/weights",
                                               body: AdminAPI.encode(WeightsBody(weights: ["b": 80])), headers: op)
        #expect(weights.status == 200 && (try? AdminAPI.decode(Written.self, from: weights.body).revision) == 2, "\(weights.text)")
        #expect(try await within(2) { state(a).weights == ["chat": ["b": 80]] && state(a).revision == 2 } != nil)
        // The audit lives in the store: either node lists both writes, with who and why.
        let audit = try AdminAPI.decode(AuditPage.self, from: try await client.request("GET", a.adminURL + "/admin/v1/audit", headers: op).body)
        #expect(audit.items.map(\.action) == ["provider.drain", "route.weights"])
        #expect(audit.items.first?.reason == "maintenance" && audit.items.first?.actor == "ops")
        // A node started now starts with the fleet's state.
        let c = try await node("node-c", sim: sim, etcd: etcd)
        #expect(state(c).drainedProviders == ["a"] && state(c).revision == 2)
        // Node drains are per node id: draining node-a leaves the others serving.
        _ = try await client.request("POST", a.adminURL + "/admin/v1/node/drain", headers: op)
        #expect(try await within(2) { state(b).revision == 3 } != nil)
        #expect(a.gateway.isReady == false && b.gateway.isReady && c.gateway.isReady)
        // Every node registered itself under a lease, with the revision it applied.
        var fleet = FleetMembers(store: StoreStatus(), revision: 0, members: [])
        let deadline = Date().addingTimeInterval(5)
        repeat {
            fleet = try AdminAPI.decode(FleetMembers.self, from: try await client.request("GET", b.adminURL + "/admin/v1/fleet", headers: op).body)
            if fleet.members.count == 3, fleet.members.allSatisfy({ $0.appliedRevision == 3 }) { break }
            try await Task.sleep(for: .milliseconds(50))
        } while Date() < deadline
        #expect(fleet.store == StoreStatus(kind: .etcd, reachable: true) && fleet.revision == 3)
        #expect(fleet.members.map(\.id) == ["node-a", "node-b", "node-c"] && fleet.members.allSatisfy { $0.appliedRevision == 3 }, "\(fleet)")
        #expect(Set(fleet.members.map(\.url)) == [a.adminURL, b.adminURL, c.adminURL])
        #expect(a.gateway.snapshot().node.store == StoreStatus(kind: .etcd, reachable: true))
        await client.shutdown()
        for g in [a, b, c] { await g.stop() }
        await sim.stop()
        etcd.stop()
    }

    @Test func withTheStoreDownWritesAre503AndTrafficGoesOn() async throws {
        let etcd = try await EtcdServer.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let a = try await node("node-a", sim: sim, etcd: etcd, timeout: 0.5)
        let client = TestClient()
        etcd.signal(SIGSTOP)
        let refused = try await client.request("POST", a.adminURL + "/admin/v1/providers/a/drain", headers: op)
        #expect(refused.status == 503, "\(refused.text)")
        #expect(try AdminAPI.decode(ErrorBody.self, from: refused.body).error.code == "store_unavailable")
        #expect(state(a).drainedProviders.isEmpty, "no local write without the store")
        #expect(a.gateway.snapshot().node.store.reachable == false)
        for _ in 0..<5 { #expect(try await client.chat(a.url, model: "chat").status == 200) }
        #expect(try await client.request("GET", a.adminURL + "/admin/v1/snapshot", headers: op).status == 200)
        etcd.signal(SIGCONT)
        let again = try await client.request("POST", a.adminURL + "/admin/v1/providers/a/drain", headers: op)
        #expect(again.status == 200, "\(again.text)")
        await client.shutdown()
        await a.stop()
        await sim.stop()
        etcd.stop()
    }

    @Test func aWipedStoreIsReportedAndNotObeyed() async throws {
        let etcd = try await EtcdServer.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let a = try await node("node-a", sim: sim, etcd: etcd)
        let client = TestClient()
        for verb in ["drain", "undrain", "drain"] {
            #expect(try await client.request("POST", a.adminURL + "/admin/v1/providers/a/\(verb)", headers: op).status == 200)
        }
        #expect(state(a).revision == 3 && state(a).drainedProviders == ["a"])
        func wipeEvents() -> Int { a.gateway.state.events(since: 0).0.filter { $0.detail.contains("went back") }.count }
        #expect(wipeEvents() == 0)
        // Someone wipes the store and writes an empty state: its version starts again at 1.
        let key = Data("/clawgate/test/state".utf8).base64EncodedString()
        _ = try await client.request("POST", etcd.clientURL + "/v3/kv/deleterange", body: Data(#"{"key":"\#(key)"}"#.utf8))
        let empty = Data(#"{"revision":0,"drained_providers":[],"weights":{},"failovers":[],"node_drain":false}"#.utf8).base64EncodedString()
        _ = try await client.request("POST", etcd.clientURL + "/v3/kv/put", body: Data(#"{"key":"\#(key)","value":"\#(empty)"}"#.utf8))
        try await Task.sleep(for: .milliseconds(300))
        #expect(state(a).revision == 3 && state(a).drainedProviders == ["a"], "the node kept the newer state")
        #expect(wipeEvents() == 1, "the wipe is reported in the node's events")
        // A write now cannot silently build on the wiped store either.
        let refused = try await client.request("POST", a.adminURL + "/admin/v1/providers/b/drain", headers: op)
        #expect(refused.status == 409 || refused.status == 412, "\(refused.status) \(refused.text)")
        await client.shutdown()
        await a.stop()
        await sim.stop()
        etcd.stop()
    }

    /// After a wipe of the state key, an import moves past the revision the members say they
    /// applied (not to revision 1, which every node would refuse), and the nodes take it.
    @Test func anImportIntoAWipedStoreMovesPastEveryMembersRevision() async throws {
        let etcd = try await EtcdServer.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let a = try await node("node-a", sim: sim, etcd: etcd)
        let b = try await node("node-b", sim: sim, etcd: etcd)
        let client = TestClient()
        for verb in ["drain", "undrain", "drain"] {
            #expect(try await client.request("POST", a.adminURL + "/admin/v1/providers/a/\(verb)", headers: op).status == 200)
        }
        _ = try await within(3) { state(b).revision == 3 }
        // Both members have said they applied 3.
        let store = FleetStore(endpoints: [etcd.clientURL], fleet: "test", timeout: 2)
        var members: [Int] = []
        for _ in 0..<100 {
            members = (try? await store.members().map(\.appliedRevision)) ?? []
            if members.count == 2, members.allSatisfy({ $0 == 3 }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(members == [3, 3])
        let key = Data("/clawgate/test/state".utf8).base64EncodedString()
        _ = try await client.request("POST", etcd.clientURL + "/v3/kv/deleterange", body: Data(#"{"key":"\#(key)"}"#.utf8))
        var next = OperatorState()
        next.drainedProviders = ["b"]
        let imported = await StateBackup.importToStore(store, &next, ifMatch: nil) { before, after in
            AuditEntry(sequence: after.revision, time: 0, actor: "test", action: "state.import", target: "fleet", before: before.json, after: after.json,
                       reason: nil, revision: after.revision)
        }
        #expect(try imported.get() == 4)
        #expect(try await within(3) { state(a).revision == 4 && state(b).revision == 4 && state(b).drainedProviders == ["b"] } != nil)
        // And the store goes on from there: a write through b is revision 5 on both.
        #expect(try await client.request("POST", b.adminURL + "/admin/v1/providers/a/drain", headers: op).status == 200)
        #expect(try await within(3) { state(a).revision == 5 && state(a).drainedProviders == ["a", "b"] } != nil)
        await store.client.shutdown()
        await client.shutdown()
        await a.stop()
        await b.stop()
        await sim.stop()
        etcd.stop()
    }

    @Test func theLeaderKilledDuringWritesLosesNoAcknowledgedWriteAndNoClientRequest() async throws {
        let cluster = try await EtcdCluster.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        var nodes: [GatewayServer] = []
        for id in ["node-a", "node-b", "node-c"] {
            var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
            config.nodeID = id
            config.store = .etcd(endpoints: cluster.endpoints, fleet: "kill", timeout: 2)
            nodes.append(try await TestFleet.gateway(config))
        }
        let client = TestClient()
        let leader = try #require(await cluster.leader())
        // Client traffic through every node for the whole burst.
        let urls = nodes.map(\.url)
        let traffic = Task { @Sendable in
            var failures = 0
            for i in 0..<60 { if (try? await client.chat(urls[i % 3], model: "chat").status) != 200 { failures += 1 } }
            return failures
        }
        var acknowledged: [Int] = []
        for i in 0..<30 {
            if i == 5 { cluster.signal(leader, SIGKILL) }
            let answer = try await client.request("PUT", nodes[i % 3].adminURL + "/admin/v1/routes/chat/weights",
                                                  body: AdminAPI.encode(WeightsBody(weights: ["a": 10 + i])), headers: op)
            if answer.status == 200, let written = try? AdminAPI.decode(Written.self, from: answer.body) { acknowledged.append(written.revision) }
        }
        #expect(await traffic.value == 0, "client requests failed while the leader was killed")
        #expect(acknowledged.count >= 25, "acknowledged \(acknowledged.count) of 30")
        let last = try #require(acknowledged.max())
        // Every acknowledged write is on every node: they all reach the last acknowledged revision.
        #expect(try await within(3) { nodes.allSatisfy { state($0).revision >= last } } != nil)
        #expect(Set(nodes.map { state($0).weights }).count == 1)
        // A watch on a lagging member brings back writes a node already applied (its own): old news,
        // not a store that went back.
        for node in nodes {
            #expect(node.gateway.state.events(since: 0).0.filter { $0.detail.contains("went back") }.isEmpty, "\(node.gateway.config.nodeID)")
        }
        // Two members of three down: writes fail with a clear 503; traffic goes on.
        let survivors = cluster.members.filter { $0.name != leader.name }
        cluster.signal(survivors[0], SIGSTOP)
        let asked = Date()
        let refused = try await client.request("POST", nodes[0].adminURL + "/admin/v1/providers/b/drain", headers: op)
        let took = Date().timeIntervalSince(asked)
        #expect(refused.status == 503 && (try? AdminAPI.decode(ErrorBody.self, from: refused.body).error.code) == "store_unavailable")
        // Within the store's 2 s budget (etcd alone waits 7 s for a put without quorum): the dead
        // member refuses at once; a frozen one, or a live one still forwarding to a frozen leader,
        // costs what is left of the budget.
        #expect(took < 2.6, "the refusal took \(took) s")
        // The next write knows the frozen and dead members and asks the live one only: at once.
        let again = Date()
        let refusedAgain = try await client.request("POST", nodes[0].adminURL + "/admin/v1/providers/b/drain", headers: op)
        #expect(refusedAgain.status == 503 && Date().timeIntervalSince(again) < 0.5, "the second refusal took \(Date().timeIntervalSince(again)) s")
        for node in nodes { #expect(try await client.chat(node.url, model: "chat").status == 200) }
        await client.shutdown()
        for node in nodes { await node.stop() }
        await sim.stop()
        cluster.stop()
    }

    @Test func withNoStoreAndNoCacheANodeServesTheConfigurationOrRefusesWhenToldTo() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
        config.store = .etcd(endpoints: ["http://127.0.0.1:\(try LoopbackPort.free())"], fleet: "cold", timeout: 0.3)
        let serving = try await TestFleet.gateway(config)
        #expect(serving.gateway.snapshot().node.store == StoreStatus(kind: .etcd, reachable: false, error: serving.gateway.storeStatus.error))
        #expect(serving.gateway.state.operatorState.revision == 0)
        await serving.stop()
        config.refuseStartWithoutStore = true
        config.admin.stateDir = NSTemporaryDirectory() + "clawgate-cold-\(UUID().uuidString)"
        await #expect(throws: StoreStartError.self) { _ = try await TestFleet.gateway(config) }
        await sim.stop()
    }

    @Test func aWatchOnAFrozenMemberIsGivenUpAfterTheSilenceBoundAndTheNodeConverges() async throws {
        let cluster = try await EtcdCluster.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let leader = try #require(await cluster.leader())
        let followers = cluster.members.filter { $0.name != leader.name }
        // Node a reads and watches through a follower first; node b writes through the leader.
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
        config.nodeID = "node-a"
        config.store = .etcd(endpoints: followers.map(\.clientURL) + [leader.clientURL], fleet: "frozen", timeout: 1)
        config.storeWatchSilence = 1
        let a = try await TestFleet.gateway(config)
        config.nodeID = "node-b"
        config.store = .etcd(endpoints: [leader.clientURL], fleet: "frozen", timeout: 1)
        config.admin.stateDir = NSTemporaryDirectory() + "clawgate-test-\(UUID().uuidString)"
        let b = try await TestFleet.gateway(config)
        let client = TestClient()
        #expect(try await client.request("POST", b.adminURL + "/admin/v1/providers/a/drain", headers: op).status == 200)
        #expect(try await within(2) { state(a).revision == 1 } != nil, "the watch works while every member answers")
        // The member node a watches freezes: its connection stays open and says nothing.
        cluster.signal(followers[0], SIGSTOP)
        #expect(try await client.request("POST", b.adminURL + "/admin/v1/providers/b/drain", headers: op).status == 200)
        let took = try await within(5) { state(a).revision == 2 }
        #expect(took != nil, "node a never gave up its silent watch")
        cluster.signal(followers[0], SIGCONT)
        await client.shutdown()
        for g in [a, b] { await g.stop() }
        await sim.stop()
        cluster.stop()
    }

    @Test func aWatchFromACompactedRevisionIsCancelledAndSaysSo() async throws {
        let etcd = try await EtcdServer.start()
        let client = EtcdClient(endpoints: [etcd.clientURL], timeout: 2)
        let (_, before, _) = try await client.get("/k")
        for n in 1...3 { _ = try await client.swap(key: "/k", version: n - 1, puts: [("/k", Array("v\(n)".utf8))]) }
        let (kv, latest, _) = try await client.get("/k")
        #expect(kv?.version == 3 && latest > before)
        // Compact the history the watch would start from.
        _ = try await client.call("/v3/kv/compaction", ["revision": .string(String(latest)), "physical": true])
        var seen: [Int] = []
        var ended: String?
        do {
            for try await value in client.watch("/k", from: before + 1, silence: .seconds(10)) { seen.append(value.version) }
        } catch {
            ended = "\(error)"
        }
        #expect(seen.isEmpty && ended?.contains("compacted at \(latest)") == true, "\(seen) \(ended ?? "no error")")
        // From the revision after a fresh read, the same watch works.
        let fresh = try await client.get("/k").revision
        let watch = Task { () -> Int? in
            for try await value in client.watch("/k", from: fresh + 1, silence: .seconds(10)) { return value.version }
            return nil
        }
        try await Task.sleep(for: .milliseconds(200))
        _ = try await client.swap(key: "/k", version: 3, puts: [("/k", Array("v4".utf8))])
        #expect(try await watch.value == 4)
        await client.shutdown()
        etcd.stop()
    }

    @Test func aClientsDailySpendHoldsAcrossTwoNodesWithinAboutASecond() async throws {
        let etcd = try await EtcdServer.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("a")])
        var nodes: [GatewayServer] = []
        for id in ["node-a", "node-b"] {
            var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 100)]]], prices: ["a": (1000, 1000)])
            config.nodeID = id
            config.store = .etcd(endpoints: [etcd.clientURL], fleet: "spend", timeout: 2)
            config.clients = [.init(name: "bob", keyEnv: "CLAW_TEST_BOB_KEY", limits: .init(spendPerDay: 0.01))]
            nodes.append(try await TestFleet.gateway(config))
        }
        let client = TestClient()
        func chat(_ node: GatewayServer) async throws -> TestResponse {
            try await client.request("POST", node.url + "/v1/chat/completions", body: Data(#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#.utf8),
                                     headers: ["authorization": "Bearer \(TestFleet.bobKey)"])
        }
        // One request through node-a spends more than bob's day.
        #expect(try await chat(nodes[0]).status == 200)
        #expect(try await chat(nodes[0]).json?["error"]?["code"]?.stringValue == "client_spend_per_day")
        // node-b learns it through the store within about a second (bob never called it), and
        // then refuses bob's very first request there.
        let learned = try await within(3) { nodes[1].gateway.state.inner.withLock { $0.clients[0].othersSpend } > 0.01 }
        #expect(learned != nil && learned! < 2.5, "node-b learned bob's spend after \(learned.map { String($0) } ?? "never")")
        let first = try await chat(nodes[1])
        #expect(first.status == 429 && first.json?["error"]?["code"]?.stringValue == "client_spend_per_day", "\(first.text)")
        await client.shutdown()
        for node in nodes { await node.stop() }
        await sim.stop()
        etcd.stop()
    }

    @Test func aFaultSetThroughOneNodeAppliesOnAllThreeAndIsDroppedOnceWhenItEnds() async throws {
        let etcd = try await EtcdServer.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        var nodes: [GatewayServer] = []
        for id in ["node-a", "node-b", "node-c"] { nodes.append(try await node(id, sim: sim, etcd: etcd)) }
        let client = TestClient()
        let set = try await client.request("POST", nodes[0].adminURL + "/admin/v1/providers/a/fault",
                                           body: (["kind": "outage", "duration": 3, "reason": "fleet drill"] as JSONValue).encoded(), headers: op)
        #expect(set.status == 200, "\(set.text)")
        let everywhere = try await within(2) { nodes.allSatisfy { state($0).faults["a"]?.kind == .outage } }
        #expect(everywhere != nil, "every node applies the fault from the one write")
        // Through any node, a gets nothing and the client sees no error.
        for node in nodes {
            for _ in 0..<4 {
                let response = try await client.chat(node.url, model: "chat")
                #expect(response.status == 200 && response.header("x-clawgate-provider") == "b")
            }
        }
        #expect(sim.provider("a")!.counters.requests == 0)
        for node in nodes { #expect(node.gateway.state.events(since: 0).events.contains { $0.kind == .faultStarted && $0.subject == "a" }) }
        // It ends by itself on every node; the store holds one expiry, whichever node wrote it.
        let gone = try await within(4) { nodes.allSatisfy { state($0).faults.isEmpty } }
        #expect(gone != nil, "the fault did not end by itself on every node")
        try await Task.sleep(for: .milliseconds(600))
        let audit = try AdminAPI.decode(AuditPage.self, from: try await client.request("GET", nodes[2].adminURL + "/admin/v1/audit", headers: op).body)
        #expect(audit.items.map(\.action) == ["provider.fault", "provider.fault_expired"], "\(audit.items.map(\.action))")
        #expect(audit.items.last?.actor == "clawgate")
        for node in nodes {
            let ended = node.gateway.state.events(since: 0).events.filter { $0.kind == .faultEnded && $0.subject == "a" }
            #expect(ended.count == 1 && ended[0].detail.contains("its time was over"), "\(ended)")
        }
        await client.shutdown()
        for node in nodes { await node.stop() }
        await sim.stop()
        etcd.stop()
    }

    @Test func aBudgetIsHeldAgainstTheFleetsSumNotEachNodesOwn() async throws {
        let etcd = try await EtcdServer.start()
        let sim = try await TestFleet.simulator([TestFleet.provider("dear"), TestFleet.provider("cheap")])
        let clock = ManualClock()  // frozen: each node's cost per hour stays as its requests made it
        var nodes: [GatewayServer] = []
        for id in ["node-a", "node-b"] {
            var config = TestFleet.config(simulator: sim, routes: ["chat": [[("dear", 100)], [("cheap", 100)]]],
                                          prices: ["dear": (50_000, 50_000), "cheap": (0.1, 0.1)])
            config.nodeID = id
            config.store = .etcd(endpoints: [etcd.clientURL], fleet: "budget", timeout: 2)
            config.budgetInterval = 0.2
            nodes.append(try await TestFleet.gateway(config, clock: clock))
        }
        let client = TestClient()
        for node in nodes { #expect(try await client.chat(node.url, model: "chat").header("x-clawgate-provider") == "dear") }
        // Each node alone spends this much an hour; the budget sits between one node and two.
        let single = nodes[0].gateway.state.routeCosts(now: clock.now)[0]
        #expect(single > 0)
        let set = try await client.request("PUT", nodes[0].adminURL + "/admin/v1/routes/chat/budget",
                                           body: (["per_hour": .number(single * 1.5), "action": "shift"] as JSONValue).encoded(), headers: op)
        #expect(set.status == 200, "\(set.text)")
        let tripped = try await within(5) { nodes.allSatisfy { state($0).budgetGuards["chat"] != nil } }
        #expect(tripped != nil, "the fleet's sum passed the budget though no node's own did")
        for node in nodes {
            #expect(try await client.chat(node.url, model: "chat").header("x-clawgate-provider") == "cheap")
            #expect(node.gateway.snapshot().routes[0].budget?.scope == "fleet")
        }
        let audit = try AdminAPI.decode(AuditPage.self, from: try await client.request("GET", nodes[1].adminURL + "/admin/v1/audit", headers: op).body)
        #expect(audit.items.map(\.action).filter { $0 == "route.budget_exceeded" }.count == 1, "one node's write landed: \(audit.items.map(\.action))")
        await client.shutdown()
        for node in nodes { await node.stop() }
        await sim.stop()
        etcd.stop()
    }
}
