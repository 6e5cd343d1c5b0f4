@testable import ClawGateKit
import ClawAdminAPI
import ClawShared
import ClawTesting
import Foundation
import Testing

/// Operator commands as values: applied by a pure function, with the events they imply.
@Suite struct OperatorCommandTests {
    static let config: GatewayConfig = {
        var c = GatewayConfig(nodeID: "n1", providers: ["a", "b", "c"].map { .init(id: $0, baseURL: "http://127.0.0.1:1") })
        c.routes = [.init(alias: "chat", tiers: [[.init(provider: "a", model: "m", weight: 50), .init(provider: "b", model: "m", weight: 50)],
                                                 [.init(provider: "c", model: "m", weight: 100)]])]
        return c
    }()

    func apply(_ command: OperatorCommand, to state: OperatorState = OperatorState()) -> Result<OperatorCommand.Change, AdminError> {
        Result { () throws(AdminError) in try command.apply(to: state, config: Self.config, now: 100, reason: "why") }
    }

    @Test func eachCommandChangesItsPartAndSaysWhatFollows() throws {
        let drained = try apply(.drainProvider("a")).get()
        #expect(drained.next.drainedProviders == ["a"] && drained.events.isEmpty)
        let failover = try apply(.failoverProvider("a", to: ["b"])).get()
        #expect(failover.next.failovers == [Failover(subject: "provider:a", provider: "a", to: ["b"], since: 100, reason: "why")])
        #expect(failover.events.map(\.kind) == [.failoverStarted] && failover.events[0].detail.contains("b"))
        let restored = try apply(.restoreProvider("a"), to: failover.next).get()
        #expect(restored.next.failovers.isEmpty && restored.events.map(\.kind) == [.failoverRestored])
        let tier = try apply(.failoverTier(route: "chat", tier: 0, to: ["c"])).get()
        #expect(tier.next.failovers.first?.subject == "tier:chat/0")
        let weights = try apply(.setWeights(route: "chat", weights: ["a": 10, "b": 50])).get()
        #expect(weights.next.weights == ["chat": ["a": 10]], "an override equal to the configuration is dropped")
        #expect(try apply(.drainNode).get().events.map(\.kind) == [.nodeDraining])
        #expect(try apply(.undrainNode).get().events.map(\.kind) == [.nodeServing])
    }

    @Test func replacingTheStateTakesTheFleetPartAndKeepsThisNodesDrain() throws {
        var mine = OperatorState()
        mine.revision = 7
        mine.nodeDrain = true
        mine.drainedProviders = ["c"]
        mine.weights = ["chat": ["a": 5]]
        let theirs = StateDocument(revision: 3, drainedProviders: ["a"], weights: ["chat": ["b": 80, "a": 50]],
                                   failovers: [Failover(subject: "tier:chat/0", route: "x", tier: 9, to: ["c"], since: 42, reason: "r")],
                                   nodeDrain: false)
        let change = try apply(.replaceState(theirs), to: mine).get()
        #expect(change.next.drainedProviders == ["a"])
        #expect(change.next.weights == ["chat": ["b": 80]], "an override equal to the configuration is dropped")
        #expect(change.next.failovers == [Failover(subject: "tier:chat/0", route: "chat", tier: 0, to: ["c"], since: 42, reason: "r")],
                "the route and tier follow the subject")
        #expect(change.next.nodeDrain && change.next.revision == 7, "this node's drain stays; the writer moves the revision on")
        // Anything this node does not know is refused, naming the field; nothing changes.
        func refused(_ d: StateDocument) -> String? { apply(.replaceState(d), to: mine).failure?.field }
        let empty = StateDocument(revision: 0, drainedProviders: [], weights: [:], failovers: [], nodeDrain: false)
        var bad = empty
        bad.drainedProviders = ["a", "zzz"]
        #expect(refused(bad) == "state.drained_providers[1]")
        bad = empty
        bad.weights = ["nope": ["a": 1]]
        #expect(refused(bad) == "state.weights.nope")
        bad.weights = ["chat": ["a": 0, "b": 0]]
        #expect(refused(bad) == "state.weights.chat")
        bad = empty
        bad.failovers = [Failover(subject: "provider:a", to: ["a"], since: 1)]
        #expect(refused(bad) == "state.failovers[0]")
        bad.failovers = [Failover(subject: "route:chat", to: [], since: 1)]
        #expect(refused(bad) == "state.failovers[0]")
        bad.failovers = [Failover(subject: "provider:a", to: [], since: 1), Failover(subject: "provider:a", to: ["b"], since: 1)]
        #expect(refused(bad) == "state.failovers[1]")
        bad.failovers = [Failover(subject: "tier:chat/5", to: [], since: 1)]
        #expect(refused(bad) == "state.failovers[0]")
    }

    @Test func wrongCommandsAreRefusedNamingWhat() {
        #expect(apply(.drainProvider("zzz")).failure?.status == .notFound)
        #expect(apply(.failoverProvider("a", to: ["a"])).failure?.field == "to[0]")
        #expect(apply(.failoverProvider("a", to: ["nope"])).failure?.message.contains("unknown provider 'nope'") == true)
        #expect(apply(.failoverTier(route: "chat", tier: 0, to: ["a"])).failure?.field == "to[0]")
        #expect(apply(.failoverTier(route: "chat", tier: 7, to: [])).failure?.status == .notFound)
        #expect(apply(.setWeights(route: "chat", weights: ["a": 0, "b": 0])).failure?.field == "weights")
        #expect(apply(.setWeights(route: "chat", weights: ["c": 2000])).failure?.field == "weights.c")
        #expect(apply(.setWeights(route: "nope", weights: ["a": 1])).failure?.status == .notFound)
    }

    @Test func otherMethodsGet405WithAllowFromTheSameTable() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a")])
        let gate = try await TestFleet.gateway(TestFleet.config(simulator: sim, routes: ["chat": [[("a", 100)]]]))
        let client = TestClient()
        let auth = ["authorization": "Bearer \(TestFleet.operatorToken)"]
        let delete = try await client.request("DELETE", gate.adminURL + "/admin/v1/snapshot", headers: auth)
        #expect(delete.status == 405 && delete.header("allow") == "GET")
        #expect(try AdminAPI.decode(ErrorBody.self, from: delete.body).error.code == "method_not_allowed")
        let get = try await client.request("GET", gate.adminURL + "/admin/v1/routes/chat/weights", headers: auth)
        #expect(get.status == 405 && get.header("allow") == "PUT")
        let noToken = try await client.request("DELETE", gate.adminURL + "/admin/v1/snapshot")
        #expect(noToken.status == 401 && noToken.header("www-authenticate") == "Bearer")
        let badTier = try await client.request("POST", gate.adminURL + "/admin/v1/routes/chat/tiers/x/restore", headers: auth)
        #expect(badTier.status == 404 && badTier.text.contains("no tier 'x'"))
        await client.shutdown()
        await gate.stop()
        await sim.stop()
    }
}

extension Result {
    var failure: Failure? { if case .failure(let f) = self { f } else { nil } }
}
