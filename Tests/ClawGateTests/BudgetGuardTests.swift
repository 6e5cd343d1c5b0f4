import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// The budget guard on a live node: a route pushed past its budget by clawsim's answers and the
/// price table shifts to its cheapest serving tier within one evaluation, or refuses with 429, and
/// lifts when the cost stays under 90 % for 5 minutes (the node's clock moved by the test) or when
/// an operator says so.
@Suite(.serialized) struct BudgetGuardTests {
    let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]

    /// Route chat: tier 0 `dear` (priced so one request costs about a dollar), tier 1 `cheap`.
    func withBudget(_ action: BudgetAction, clock: ManualClock, _ body: (Simulator, GatewayServer, TestClient) async throws -> Void) async throws {
        try await TestFleet.withFleet([TestFleet.provider("dear"), TestFleet.provider("cheap")], routes: ["chat": [[("dear", 100)], [("cheap", 100)]]],
                                      prices: ["dear": (50_000, 50_000), "cheap": (0.1, 0.1)], clock: clock,
                                      configure: { config in
                                          config.routes[0].budget = RouteBudget(perHour: 100, action: action)
                                          config.budgetInterval = 300  // the test evaluates itself
                                      }, body)
    }

    func served(_ client: TestClient, _ gate: GatewayServer, _ n: Int) async throws -> [String] {
        var out: [String] = []
        for _ in 0..<n { out.append(try await client.chat(gate.url, model: "chat").header("x-clawgate-provider") ?? "none") }
        return out
    }

    func audit(_ client: TestClient, _ gate: GatewayServer) async throws -> [AuditEntry] {
        try AdminAPI.decode(AuditPage.self, from: try await client.request("GET", gate.adminURL + "/admin/v1/audit", headers: op).body).items
    }

    func events(_ gate: GatewayServer, _ kind: EventKind) -> [Event] { gate.gateway.state.events(since: 0).events.filter { $0.kind == kind } }

    @Test func pastItsBudgetTheRouteShiftsToItsCheapestServingTierAndLiftsWhenTrafficStops() async throws {
        let clock = ManualClock()
        try await withBudget(.shift, clock: clock) { sim, gate, client in
            #expect(try await served(client, gate, 3) == ["dear", "dear", "dear"])
            await gate.gateway.evaluateBudgets()
            let guarded = try #require(gate.gateway.state.operatorState.budgetGuards["chat"], "one evaluation trips the guard")
            #expect(guarded.action == .shift && guarded.perHour == 100 && guarded.costPerHour > 100)
            #expect(try await served(client, gate, 5) == Array(repeating: "cheap", count: 5), "the cheapest tier that serves takes the traffic")
            let snapshot = gate.gateway.snapshot()
            #expect(snapshot.routes[0].budget?.guardInForce?.action == .shift && snapshot.routes[0].budget?.scope == "node")
            let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
            #expect(metrics.contains(#"clawgate_route_over_budget{route="chat",action="shift"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("budget") })")
            #expect(metrics.contains(#"clawgate_route_budget_dollars_per_hour{route="chat"} 100"#))
            #expect(events(gate, .budgetExceeded).first?.detail.contains("past its budget of $100.00/h: its traffic goes to its cheapest tier") == true)
            // Evaluated again while still past it: nothing new.
            await gate.gateway.evaluateBudgets()
            #expect(try await audit(client, gate).map(\.action) == ["route.budget_exceeded"])
            // Traffic stops: the 5-minute window empties, then 5 minutes under 90 % lift the guard.
            clock.advance(by: 301)
            await gate.gateway.evaluateBudgets()
            #expect(gate.gateway.state.operatorState.budgetGuards["chat"] != nil, "under 90 % just now: not yet")
            clock.advance(by: 301)
            await gate.gateway.evaluateBudgets()
            #expect(gate.gateway.state.operatorState.budgetGuards["chat"] == nil, "5 minutes under 90 %: lifted")
            #expect(try await served(client, gate, 2) == ["dear", "dear"])
            let entries = try await audit(client, gate)
            #expect(entries.map(\.action) == ["route.budget_exceeded", "route.budget_lifted"] && entries.allSatisfy { $0.actor == "clawgate" })
            #expect(events(gate, .budgetLifted).first?.detail.contains("under 90 % of its budget of $100.00/h for 5 minutes") == true)
            _ = sim
        }
    }

    @Test func refuseAnswers429WithRetryAfterAndSendsNothing() async throws {
        let clock = ManualClock()
        try await withBudget(.refuse, clock: clock) { sim, gate, client in
            _ = try await served(client, gate, 2)
            await gate.gateway.evaluateBudgets()
            let before = sim.provider("dear")!.counters.requests + sim.provider("cheap")!.counters.requests
            let refused = try await client.chat(gate.url, model: "chat")
            #expect(refused.status == 429 && refused.header("retry-after") == "60")
            #expect(refused.json?["error"]?["code"]?.stringValue == "budget_exceeded", "\(refused.text)")
            #expect(sim.provider("dear")!.counters.requests + sim.provider("cheap")!.counters.requests == before, "no provider request")
            let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
            #expect(metrics.contains(#"outcome="budget_exceeded",fault="limit""#))
        }
    }

    @Test func anOperatorLiftsOrChangesTheBudgetAndBadInputChangesNothing() async throws {
        let clock = ManualClock()
        try await withBudget(.shift, clock: clock) { _, gate, client in
            _ = try await served(client, gate, 2)
            await gate.gateway.evaluateBudgets()
            #expect(gate.gateway.state.operatorState.budgetGuards["chat"] != nil)
            let revision = gate.gateway.state.operatorState.revision
            for (body, field) in [(["per_hour": -1] as JSONValue, "per_hour"), (["action": "shift"], "per_hour"), (["per_hour": 5, "action": "nope"], "action"),
                                  (["per_hour": 5, "until": 1], "until")] {
                let bad = try await client.request("PUT", gate.adminURL + "/admin/v1/routes/chat/budget", body: body.encoded(), headers: op)
                #expect(bad.status == 400 && (try? AdminAPI.decode(ErrorBody.self, from: bad.body).error.field) == field, "\(body): \(bad.text)")
            }
            #expect(try await client.request("PUT", gate.adminURL + "/admin/v1/routes/nope/budget", body: (["per_hour": 5] as JSONValue).encoded(), headers: op).status == 404)
            #expect(gate.gateway.state.operatorState.revision == revision, "nothing changed")
            // Off: the guard lifts at once and stays lifted.
            let off = try await client.request("PUT", gate.adminURL + "/admin/v1/routes/chat/budget",
                                               body: (["per_hour": 0, "reason": "launch day"] as JSONValue).encoded(), headers: op)
            #expect(off.status == 200, "\(off.text)")
            #expect(gate.gateway.state.operatorState.budgetGuards.isEmpty && gate.gateway.snapshot().routes[0].budget == nil)
            await gate.gateway.evaluateBudgets()
            #expect(gate.gateway.state.operatorState.budgetGuards.isEmpty, "no budget, no guard")
            #expect(events(gate, .budgetLifted).last?.detail == "the budget was turned off by an operator")
            // A higher budget: the route is under it.
            #expect(try await client.request("PUT", gate.adminURL + "/admin/v1/routes/chat/budget",
                                             body: (["per_hour": 1_000_000] as JSONValue).encoded(), headers: op).status == 200)
            await gate.gateway.evaluateBudgets()
            #expect(gate.gateway.state.operatorState.budgetGuards.isEmpty && gate.gateway.snapshot().routes[0].budget?.source == "operator")
            #expect(try await audit(client, gate).map(\.action) == ["route.budget_exceeded", "route.budget", "route.budget"])
        }
    }

    @Test func theConfigurationSaysWhatIsWrongWithABudget() {
        func problems(_ budget: String) -> [String] {
            do {
                _ = try GatewayConfig.parse(yaml: ConfigTests.good.replacingOccurrences(of: "  - alias: chat\n", with: "  - alias: chat\n    budget: \(budget)\n"))
                return []
            } catch {
                return error.problems.map(\.description)
            }
        }
        #expect(problems("{per_hour: 10, action: refuse}") == [])
        #expect(problems("{per_hour: 0}").contains { $0.hasPrefix("routes[0].budget.per_hour: must be above 0") })
        #expect(problems("{action: shift}").contains { $0.hasPrefix("routes[0].budget.per_hour: required") })
        #expect(problems("{per_hour: 10, action: stop}").contains { $0.hasPrefix("routes[0].budget.action: must be shift or refuse") })
        let config = try? GatewayConfig.parse(yaml: ConfigTests.good.replacingOccurrences(of: "  - alias: chat\n", with: "  - alias: chat\n    budget: {per_hour: 10}\n"))
        #expect(config?.routes[0].budget == RouteBudget(perHour: 10, action: .shift))
    }

    @Test func theCheapestTierGoesFirstAndAnUnpricedOneIsNeverTakenForCheap() {
        var config = GatewayConfig(nodeID: "n", providers: ["a", "b", "c"].map { .init(id: $0, baseURL: "http://127.0.0.1:1") })
        config.providers[0].price = .init(inputPer1M: 10, outputPer1M: 10)
        config.providers[0].priced = true
        config.providers[1].price = .init(inputPer1M: 1, outputPer1M: 1)
        config.providers[1].priced = true
        config.routes = [.init(alias: "r", tiers: [[.init(provider: "a", model: "m", weight: 1)], [.init(provider: "c", model: "m", weight: 1)],
                                                   [.init(provider: "b", model: "m", weight: 1)]])]
        var state = OperatorState()
        state.budgetGuards["r"] = BudgetGuard(route: "r", action: .shift, since: 0, perHour: 1, costPerHour: 2)
        let routes = state.effectiveRoutes(config: config, providerIndex: ["a": 0, "b": 1, "c": 2])
        #expect(routes[0].order == [2, 0, 1], "b's tier, then a's, then the unpriced c's")
        state.budgetGuards["r"]?.action = .refuse
        #expect(state.effectiveRoutes(config: config, providerIndex: ["a": 0, "b": 1, "c": 2])[0].order == nil)
    }
}
