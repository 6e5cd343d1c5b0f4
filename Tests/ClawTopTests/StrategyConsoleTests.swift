import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// Routing strategies in the console: the command, and the Routes pane's score and wanted share.
@Suite struct StrategyConsoleTests {
    @Test func strategyIsACommandForEveryNode() throws {
        let state = sampleState(width: 120, height: 30)
        let plan = try Command.parse(":strategy chat latency").get().plan(fleet: state.fleet, reason: "herding", now: 0).get()
        #expect(plan.calls.count == 1 && plan.calls[0].method == "PUT" && plan.calls[0].path == "/admin/v1/routes/chat/strategy")
        #expect(try AdminAPI.decode(StrategyBody.self, from: plan.calls[0].body.bytes()) == StrategyBody(strategy: "latency", reason: "herding"))
        #expect(plan.summary == "Route chat chooses by latency on 1 node")
        #expect(Command.parse("strategy chat fastest").failureText == "strategy: 'fastest' is not one of weighted, least_outstanding, latency, cost")
        #expect(Command.parse("strategy chat").failureText?.hasPrefix("usage: strategy ALIAS") == true)
        #expect(Command.strategy(route: "nope", name: "cost").plan(fleet: state.fleet, reason: nil, now: 0).failureText?.hasPrefix("no route 'nope'") == true)
    }

    @Test func theRoutesPaneShowsTheStrategyScoresAndWantedShares() {
        var snapshot = sampleSnapshot()
        snapshot.routes[0].strategy = "latency"
        snapshot.routes[0].tiers[0][0].wantedShare = 0.9
        snapshot.routes[0].tiers[0][0].actualShare = 0.88
        snapshot.routes[0].decision = Decision(strategy: "latency", tier: 0, winner: "fast", reason: "r", time: 999, candidates: [
            .init(provider: "fast", weight: 70, inFlight: 1, latencySeconds: 0.02, priceDollars: nil, score: 0.000571, compared: true),
            .init(provider: "slow", weight: 30, inFlight: 0, latencySeconds: 0.2, priceDollars: nil, score: 0.006667, compared: true),
        ])
        var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1"], staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: 120, height: 30))
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)], at: 999)))
        Reducer.reduce(&state, .selectPane(.routes))
        let screen = View.render(state)
        let fast = screen.lines.first { $0.contains("fast") } ?? ""
        #expect(fast.contains("latency") && fast.contains("0.000571") && fast.contains("90%") && fast.contains("88%"), "\(fast)")
        #expect(screen.lines.first { $0.contains("slow") }?.contains("0.006667") == true)
    }
}

/// Client commands in the console: block, unblock and limits, against the clients the nodes report.
@Suite struct ClientCommandTests {
    @Test func blockUnblockAndLimitAreWritesToEveryNode() throws {
        var state = sampleState(width: 120, height: 30)
        state.fleet.nodes[0].snapshot?.clients = [ClientStatus(name: "web")]
        let block = try Command.parse(":block web").get().plan(fleet: state.fleet, reason: "runaway", now: 0).get()
        #expect(block.calls.map(\.path) == ["/admin/v1/clients/web/block"] && block.calls[0].body["reason"]?.stringValue == "runaway")
        #expect(block.summary == "Block client web: its requests are refused with 403 on 1 node")
        let limit = try Command.parse("limit web rpm=60 spend_per_day=2.5").get().plan(fleet: state.fleet, reason: nil, now: 0).get()
        #expect(limit.calls[0].method == "PUT" && limit.calls[0].body["limits"] == ["rpm": 60, "spend_per_day": 2.5])
        #expect(Command.parse("limit web rpm=0").failureText == "limit: '0' for rpm is not a whole number >= 1")
        #expect(Command.parse("limit web burst=3").failureText?.hasPrefix("limit: 'burst=3' is not") == true)
        #expect(Command.blockClient("nobody").plan(fleet: state.fleet, reason: nil, now: 0).failureText == "no client 'nobody'; known: web")
        #expect(Command.parse("unblock web").map(\.text) == .success("unblock web"))
    }
}

@Suite struct ClientsPaneTests {
    @Test func theClientsPaneSortsBySpendMarksBlockedAndBBlocksWithAPreview() throws {
        var state = sampleState(width: 120, height: 30)
        state.fleet.nodes[0].snapshot?.clients = [
            ClientStatus(name: "web", limits: .init(rpm: 100), requests1m: 90, tokens1m: 5000, spendPerHourDollars: 3.1, spendTodayDollars: 1.5),
            ClientStatus(name: "batch", blocked: true, limits: .init(spendPerDay: 10), requests1m: 600, tokens1m: 90000, spendPerHourDollars: 12, spendTodayDollars: 9.5),
        ]
        Reducer.reduce(&state, .selectPane(.clients))
        let screen = View.render(state)
        let batch = try #require(screen.lines.first { $0.hasPrefix("batch") })
        #expect(batch.contains("BLOCKED") && batch.contains("95% of spend/day"), "\(batch)")
        #expect(screen.lines.firstIndex { $0.hasPrefix("batch") }! < screen.lines.firstIndex { $0.hasPrefix("web") }!, "the biggest spender first")
        #expect(screen.lines.first { $0.hasPrefix("web") }?.contains("90% of rpm") == true)
        Reducer.reduce(&state, .moveSelection(1))
        Reducer.handle(&state, .character("b"))
        guard case .confirm(let dialog) = state.mode else { Issue.record("no dialog"); return }
        #expect(dialog.plan.command == .blockClient("web"))
        #expect(View.render(state).text.contains("stops about 1.5 req/s and $3.10/h"), "\(View.render(state).text)")
        Reducer.handle(&state, .escape)
        Reducer.reduce(&state, .selectPane(.providers))
        Reducer.handle(&state, .character("b"))
        #expect(state.message?.text.hasPrefix("b blocks a client") == true)
    }
}
