import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// Budgets on the console: `:budget`, the Routes pane's and the overview's bars, `--once`, and a
/// weight change's preview saying when it would take a route past its budget.
@Suite struct BudgetConsoleTests {
    /// Route chat over a ($3.60/h) and b ($36/h), 10 req/s each; its budget as given, on every node.
    func fleet(_ budget: BudgetStatus?, width: Int = 200, height: Int = 60, nodes: Int = 1) -> AppState {
        func snapshot(_ n: Int) -> Snapshot {
            let providers = ["a", "b"].map { id in
                Provider(id: id, state: .healthy, maxInFlight: 100,
                         weights: [.init(route: "chat", tier: 0, configuredWeight: 50, effectiveWeight: 50)],
                         stats: Stats(oneMinute: Window(requests: 600, requestsPerSecond: 10, latencyP50Seconds: 0.1, costPerHourDollars: id == "a" ? 3.6 : 36)))
            }
            return Snapshot(node: Node(id: "node-\(n + 1)", version: "0.1.0", state: .serving, revision: 1), providers: providers,
                            routes: [Route(alias: "chat", tiers: [["a", "b"].map { .init(provider: $0, model: "m", configuredWeight: 50, effectiveWeight: 50) }],
                                           stats: Stats(oneMinute: Window(requests: 1200, requestsPerSecond: 20)), budget: budget)],
                            failovers: [])
        }
        return polledState(nodes: nodes, width: width, height: height, snapshot)
    }

    static let over = BudgetStatus(perHour: 30, action: .shift, costPerHour: 39.6, scope: "fleet", source: "config",
                                   guardInForce: BudgetGuard(route: "chat", action: .shift, since: 990, perHour: 30, costPerHour: 39.6))

    @Test func theBudgetCommandParsesPlansAndPreviews() throws {
        #expect(try Command.parse("budget chat 20").get() == .budget(route: "chat", perHour: 20, action: nil))
        #expect(try Command.parse("budget chat off").get() == .budget(route: "chat", perHour: 0, action: nil))
        #expect(try Command.parse(":budget chat $12.5 refuse").get() == .budget(route: "chat", perHour: 12.5, action: .refuse))
        for (line, why) in [("budget chat", "usage: budget ROUTE"), ("budget chat -3", "is not dollars per hour"), ("budget chat 5 stop", "is not shift or refuse")] {
            guard case .failure(let e) = Command.parse(line) else { Issue.record("\(line) was taken"); continue }
            #expect(e.description.contains(why), "\(e.description)")
        }
        let state = fleet(Self.over)
        let plan = try Command.budget(route: "chat", perHour: 50, action: .refuse).plan(fleet: state.fleet, reason: "launch", now: 1000).get()
        #expect(plan.calls.map(\.method) == ["PUT"] && plan.calls[0].path == "/admin/v1/routes/chat/budget")
        #expect(plan.calls[0].body == (try JSONValue.parse(bytes: AdminAPI.encode(BudgetBody(perHour: 50, action: "refuse", reason: "launch")))))
        #expect(plan.summary.hasPrefix("Hold route chat to $50/h (refuse)"), "\(plan.summary)")
        guard case .failure = Command.budget(route: "nope", perHour: 5, action: nil).plan(fleet: state.fleet, reason: nil, now: 1000) else {
            Issue.record("an unknown route was planned"); return
        }
        let preview = try #require(Preview.of(.budget(route: "chat", perHour: 50, action: .refuse), fleet: state.fleet, now: 1000))
        #expect(preview.lines.first == "route chat budget: $30.0/h (shift, from the configuration) -> $50.0/h (refuse); it spends $39.6/h now (the last 5 minutes, over the fleet)",
                "\(preview.lines)")
        #expect(preview.lines.contains { $0.contains("guard in force since") && $0.contains("is lifted now") })
        let stillOver = try #require(Preview.of(.budget(route: "chat", perHour: 35, action: nil), fleet: state.fleet, now: 1000))
        #expect(stillOver.lines.contains { $0.contains("past the new budget too, so the next evaluation trips it again") }, "\(stillOver.lines)")
    }

    @Test func aWeightChangeThatWouldPassABudgetSaysSo() throws {
        let under = BudgetStatus(perHour: 45, action: .refuse, costPerHour: 39.6, scope: "node", source: "config")
        let p = try #require(Preview.of(.weight(route: "chat", weights: [("a", 0)]), fleet: fleet(under).fleet, now: 1000))
        #expect(p.warnings.contains("route chat would spend about $72.0/h, past its budget of $45.0/h: its guard would refuse its requests (429)"), "\(p.lines)")
        let back = try #require(Preview.of(.weight(route: "chat", weights: [("b", 0)]), fleet: fleet(Self.over).fleet, now: 1000))
        #expect(back.notes.contains("route chat would spend about $7.20/h, under its budget of $30.0/h again"), "\(back.lines)")
    }

    @Test func theRoutesPaneAndTheOverviewShowEachBudgetAsABar() {
        var state = fleet(BudgetStatus(perHour: 80, action: .shift, costPerHour: 20, scope: "node", source: "config"), nodes: 2)
        Reducer.reduce(&state, .selectPane(.routes))
        let screen = View.render(state)
        #expect(screen.line(2).contains("BUDGET $/H"), "\(screen.line(2))")
        let row = screen.lines.first { $0.hasPrefix("chat") } ?? ""
        #expect(row.contains("█████░░░░░ $40.0/$80.0"), "two nodes' $20/h each add up: \(row)")
        var over = fleet(Self.over, nodes: 2)
        Reducer.reduce(&over, .selectPane(.routes))
        let overRow = View.render(over).lines.first { $0.hasPrefix("chat") } ?? ""
        #expect(overRow.contains("██████████ $39.6/$30.0 OVER shift"), "the fleet's sum, once: \(overRow)")
        var overview = fleet(Self.over)
        Reducer.reduce(&overview, .selectPane(.overview))
        let text = View.render(overview).text
        #expect(text.contains("budgets $/h:  chat ████████ $39.6/$30.0 OVER shift"), "\(text)")
        #expect(text.contains("route chat past its budget of $30.0/h: traffic on its cheapest serving tier"), "the guard is a change in force")
        #expect(!View.render(fleet(nil)).text.contains("budgets $/h"), "no budget, no line")
    }

    @Test func onceGivesEachRoutesBudgetAndItsGuard() throws {
        let state = fleet(Self.over)
        let json = SnapshotReport.json(state.fleet, now: 1000)
        let route = try #require(json["routes"]?.arrayValue?.first)
        #expect(route["budget"]?["per_hour"]?.doubleValue == 30 && route["budget"]?["cost_per_hour"]?.doubleValue == 39.6)
        #expect(route["budget"]?["guard"]?["action"]?.stringValue == "shift" && route["budget"]?["guard_nodes"]?.intValue == 1)
        #expect(json["operator_changes"]?.arrayValue?.contains { $0["kind"]?.stringValue == "budget_guard" } == true)
        let text = SnapshotReport.text(state.fleet, now: 1000)
        #expect(text.contains("budget route chat: $39.6/h of $30.0/h (shift, config) OVER since \(Format.iso8601(990)) on 1/1 nodes"), "\(text)")
    }

    @Test func syncCopiesTheOperatorsBudgetsAndTheGuards() throws {
        var state = fleet(Self.over, nodes: 2)
        let document = StateDocument(revision: 1, drainedProviders: [], weights: [:], failovers: [], nodeDrain: false,
                                     budgets: ["chat": RouteBudget(perHour: 0, action: .shift)], budgetGuards: ["chat": Self.over.guardInForce!])
        let snapshot = state.fleet.nodes[0].snapshot!
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil,
                                                                     operatorState: document)], at: 999.5)))
        let plan = try Command.sync("node-1").plan(fleet: state.fleet, reason: nil, now: 1000).get()
        let sent = plan.calls[0].body["state"]
        #expect(sent?["budgets"]?["chat"]?["per_hour"]?.doubleValue == 0 && sent?["budget_guards"]?["chat"]?["action"]?.stringValue == "shift", "\(plan.calls[0].body)")
    }
}
