import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// The admin API's snapshot of a node with a healthy and an ejected provider.
func sampleSnapshot() -> Snapshot {
    Snapshot(
        node: Node(id: "node-1", version: "0.1.0", state: .serving, revision: 3, inFlight: 2, uptimeSeconds: 3725),
        providers: [
            Provider(id: "fast", state: .healthy, inFlight: 1, costTodayDollars: 12.5,
                     weights: [.init(route: "chat", tier: 0, configuredWeight: 70, effectiveWeight: 70)],
                     stats: Stats(oneMinute: Window(requests: 600, errors: 6, requestsPerSecond: 10, errorRatio: 0.01, latencyP50Seconds: 0.12,
                                                    latencyP95Seconds: 0.3, latencyP99Seconds: 0.45, ttftP50Seconds: 0.08, costPerHourDollars: 1.5))),
            Provider(id: "slow", state: .ejected, circuit: Circuit(state: .open, reason: "5 consecutive failures"),
                     weights: [.init(route: "chat", tier: 0, configuredWeight: 30, effectiveWeight: 0)],
                     stats: Stats(oneMinute: Window(requests: 10, errors: 10, requestsPerSecond: 0.2, errorRatio: 1, costPerHourDollars: 0.5))),
        ],
        routes: [Route(alias: "chat", tiers: [[.init(provider: "fast", model: "m", configuredWeight: 70, effectiveWeight: 70),
                                               .init(provider: "slow", model: "m", configuredWeight: 30, effectiveWeight: 0)]],
                       stats: Stats(oneMinute: Window(requests: 610, errors: 16, requestsPerSecond: 10.2, latencyP99Seconds: 0.45)))],
        failovers: [])
}

/// A snapshot as the node would send it, for the `raw` of a poll.
func raw(_ snapshot: Snapshot) -> JSONValueBox {
    JSONValueBox(try! JSONValue.parse(bytes: AdminAPI.encode(snapshot)))
}

/// A fleet of `nodes` nodes (at 127.0.0.1:1, :2 ...), each polled once at t=999 with `snapshot(i)`,
/// seen at t=1000 on a `width` x `height` screen.
func polledState(nodes: Int, width: Int, height: Int, _ snapshot: (Int) -> Snapshot) -> AppState {
    var state = AppState(fleet: Fleet(urls: (0..<nodes).map { "http://127.0.0.1:\($0 + 1)" }, staleAfter: 6))
    state.now = 1000
    Reducer.reduce(&state, .resize(width: width, height: height))
    Reducer.reduce(&state, .pollBatch(PollBatch(nodes: (0..<nodes).map { i in
        let s = snapshot(i)
        return NodePoll(index: i, snapshot: s, raw: raw(s), events: [], error: nil)
    }, at: 999)))
    return state
}

/// A fleet of two nodes, one answering with a real-shaped snapshot and one unreachable.
func sampleState(width: Int, height: Int) -> AppState {
    let snapshot = sampleSnapshot()
    var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1", "http://127.0.0.1:2"], staleAfter: 6))
    state.now = 1000
    Reducer.reduce(&state, .resize(width: width, height: height))
    Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [
        NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot),
                 events: [Event(sequence: 1, time: 999, node: "node-1", kind: .circuitOpened, subject: "slow", detail: "5 consecutive failures")],
                 error: nil),
        NodePoll(index: 1, snapshot: nil, raw: nil, events: [], error: "connection refused"),
    ], at: 999)))
    return state
}

@Suite struct ViewTests {
    @Test func providersPaneAt80x24() {
        let screen = View.render(sampleState(width: 80, height: 24))
        #expect(screen.width == 80 && screen.height == 24)
        let lines = screen.lines
        #expect(lines.allSatisfy { $0.count == 80 })
        #expect(lines[0].contains("nodes 1/2") && lines[0].contains("prov 1/2") && lines[0].contains("$1.50"))
        #expect(lines[1].contains("1 Providers") && lines[1].contains(" 5 6 7"), "narrow: the other panes by digit")
        #expect(lines[2].hasPrefix("PROVIDER") && lines[2].contains("P99"))
        #expect(lines[3].hasPrefix("fast") && lines[3].contains("healthy") && lines[3].contains("450ms"))
        #expect(lines[4].hasPrefix("slow") && lines[4].contains("ejected") && lines[4].contains("100%"))
        #expect(screen[0, 3].role == .selected)  // the first row is selected
        #expect(screen[16, 4].role == .crit)     // "ejected" in red
        #expect(lines[23].contains("? help") && lines[23].contains("q quit"))
    }

    @Test func widerScreensShowMoreColumns() {
        let narrow = View.render(sampleState(width: 80, height: 24)).line(2)
        var wideState = sampleState(width: 200, height: 60)
        #expect(wideState.pane == .overview, "the overview is the first pane where there is room for it")
        Reducer.reduce(&wideState, .selectPane(.providers))
        let wide = View.render(wideState)
        #expect(wide.line(2).contains("TTFT") && wide.line(2).contains("P95"))
        #expect(!narrow.contains("TTFT"))
        #expect(wide.lines.count == 60)
    }

    @Test func tinyScreensSayWhatTheyNeed() {
        let one = View.render(sampleState(width: 1, height: 1))
        #expect(one.lines == ["T"])
        let small = View.render(sampleState(width: 30, height: 8))
        #expect(small.text.contains("need 40x10") && small.text.contains("have 30x8"))
        #expect(View.render(sampleState(width: 0, height: 0)).lines.isEmpty)
    }

    @Test func nodesPaneShowsUnreachableAndTheError() {
        var state = sampleState(width: 80, height: 24)
        Reducer.reduce(&state, .selectPane(.nodes))
        Reducer.reduce(&state, .moveSelection(1))
        let screen = View.render(state)
        #expect(screen.line(3).hasPrefix("node-1") && screen.line(3).contains("serving"))
        #expect(screen.line(4).contains("unreachable"))
        #expect(screen.text.contains("http://127.0.0.1:2: connection refused"))
    }

    @Test func routesEventsAndHelp() {
        var state = sampleState(width: 100, height: 30)
        Reducer.reduce(&state, .selectPane(.routes))
        var screen = View.render(state)
        #expect(screen.line(3).contains("fast") && screen.line(3).contains("█"))
        state.ascii = true
        screen = View.render(state)
        #expect(screen.line(3).contains("#") && !screen.text.contains("█"))
        Reducer.reduce(&state, .selectPane(.cost))
        let cost = View.render(state).text
        #expect(cost.contains("TODAY") && cost.contains("$12.5") && cost.contains("$12.5 today"))
        Reducer.reduce(&state, .selectPane(.events))
        #expect(View.render(state).line(3).contains("circuit_opened"))
        #expect(View.render(state).line(3).hasPrefix("00:16:39"))  // time 999, UTC
        Reducer.reduce(&state, .toggleHelp)
        #expect(View.render(state).text.contains("Keys (Esc or ? closes)"))
        Reducer.reduce(&state, .escape)
        #expect(!View.render(state).text.contains("Keys (Esc"))
    }
}

@Suite struct ReducerTests {
    @Test func keysMapToActions() {
        #expect(KeyMap.action(for: .character("q")) == .quit)
        #expect(KeyMap.action(for: .tab) == .nextPane)
        #expect(KeyMap.action(for: .character("j")) == .moveSelection(1))
        #expect(KeyMap.action(for: .up) == .moveSelection(-1))
        #expect(KeyMap.action(for: .character("3")) == .selectPane(.routes))
        #expect(KeyMap.action(for: .character("0")) == .selectPane(.overview))
        #expect(KeyMap.action(for: .character("Z")) == nil)
    }

    @Test func panesCycleAndSelectionStaysInRange() {
        var state = sampleState(width: 80, height: 24)
        Reducer.reduce(&state, .previousPane)
        #expect(state.pane == .overview)
        Reducer.reduce(&state, .previousPane)
        #expect(state.pane == .requests)
        Reducer.reduce(&state, .nextPane)
        Reducer.reduce(&state, .nextPane)
        #expect(state.pane == .providers)
        Reducer.reduce(&state, .moveSelection(10))
        #expect(state.selected(.providers) == 1)
        Reducer.reduce(&state, .moveSelection(-10))
        #expect(state.selected(.providers) == 0)
        Reducer.reduce(&state, .cycleSort)
        #expect(state.sort == .state)
        #expect(Selectors.sortedProviders(state).first?.id == "slow")
        Reducer.reduce(&state, .togglePause)
        #expect(View.render(state).line(0).contains("PAUSED"))
        state.readOnly = true
        state.ascii = true
        #expect(View.render(state).line(0).hasSuffix(" PAUSED [RO] "))
    }

    @Test func onceStatusAndReports() {
        let state = sampleState(width: 80, height: 24)
        let status = state.fleet.status(now: 1000)
        #expect(status.code == 3 && status.reasons.first?.contains("connection refused") == true)
        let json = SnapshotReport.json(state.fleet, now: 1000)
        #expect(json["schema"]?.stringValue == "clawtop.snapshot.v2")
        #expect(json["exit_code"]?.intValue == 3)
        #expect(json["nodes"]?.arrayValue?[1]["state"]?.stringValue == "unreachable")
        #expect(json["nodes"]?.arrayValue?[0]["snapshot"]?["node"]?["id"]?.stringValue == "node-1")
        #expect(SnapshotReport.text(state.fleet, now: 1000).hasPrefix("status UNKNOWN"))
        // With only the reachable node, an ejected provider makes the fleet degraded.
        var one = state
        one.fleet.nodes.removeLast()
        one.fleet.refresh()
        #expect(one.fleet.status(now: 1000).code == 1)
    }

    @Test func aFailedPollKeepsTheDataAndGoesStaleThenUnreachable() {
        var state = sampleState(width: 80, height: 24)
        Reducer.reduce(&state, .polled(index: 0, snapshot: nil, raw: nil, events: [], error: "timed out", at: 1001))
        #expect(state.fleet.nodes[0].snapshot != nil)
        #expect(state.fleet.nodes[0].health(now: 1002, staleAfter: 6) == "stale")
        #expect(state.fleet.nodes[0].health(now: 1010, staleAfter: 6) == "unreachable")
    }
}

@Suite struct CommandTests {
    @Test func parsesTheLanguageAndExplainsMistakes() throws {
        #expect(try Command.parse(":drain provider fast").get() == .drainProvider("fast"))
        #expect(try Command.parse("undrain node node-1").get() == .undrainNode("node-1"))
        #expect(try Command.parse(":weight chat p1=70 p2=30").get().text == "weight chat p1=70 p2=30")
        #expect(try Command.parse(":failover fast to slow cheap").get() == .failover("fast", to: ["slow", "cheap"]))
        #expect(try Command.parse(":failover fast").get() == .failover("fast", to: []))
        #expect(try Command.parse(":q").get() == .quit)
        #expect(Command.parse(":weight chat p1=2000").failureText?.contains("0..1000") == true)
        #expect(Command.parse(":weight chat p1").failureText?.contains("provider=WEIGHT") == true)
        #expect(Command.parse(":drain fast").failureText?.contains("usage") == true)
        #expect(Command.parse(":explode").failureText?.contains("unknown command") == true)
    }

    @Test func plansCheckNamesAgainstTheFleet() {
        let state = sampleState(width: 80, height: 24)
        let plan = try? Command.drainProvider("fast").plan(fleet: state.fleet, reason: "slow", now: 0).get()
        #expect(plan?.calls.count == 1)  // only the reachable node
        #expect(plan?.calls.first?.path == "/admin/v1/providers/fast/drain")
        #expect(plan?.calls.first?.body["reason"]?.stringValue == "slow")
        #expect(plan?.summary == "Drain provider fast on 1 node")
        #expect(Command.drainProvider("ghost").plan(fleet: state.fleet, reason: nil, now: 0).failureText?.contains("no provider 'ghost'") == true)
        #expect(Command.weight(route: "nope", weights: [("fast", 1)]).plan(fleet: state.fleet, reason: nil, now: 0).failureText?.contains("no route") == true)
    }

    @Test func dangerousKeysOpenADialogWhoseDefaultIsCancel() {
        var state = sampleState(width: 80, height: 24)
        Reducer.handle(&state, .character("d"))
        guard case .confirm(let dialog) = state.mode else { Issue.record("no dialog"); return }
        #expect(dialog.focus == .cancel && dialog.plan.command == .drainProvider("fast"))
        #expect(View.render(state).text.contains("Drain provider fast on 1 node"))
        let cancelled = Reducer.handle(&state, .enter)  // Enter on Cancel sends nothing
        #expect(cancelled.isEmpty && state.mode == .normal)
        Reducer.handle(&state, .character("d"))
        Reducer.handle(&state, .character("r"))  // to the reason field
        for c in "maint" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)  // on to the route's name (slow is ejected: draining fast leaves chat with nothing)
        for c in "chat" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)  // on to Confirm
        let effects = Reducer.handle(&state, .enter)
        guard case .send(let plan)? = effects.first, effects.count == 1 else { Issue.record("not one send: \(effects)"); return }
        #expect(plan.calls.first?.body["reason"]?.stringValue == "maint")
        #expect(state.pending["provider:fast"] != nil)
        #expect(View.render(state).line(3).contains("fast ⧗"))
        Reducer.reduce(&state, .actionResults(subject: "provider:fast", summary: "Drain provider fast on 1 node",
                                              results: [NodeResult(node: "node-1", ok: true, message: "ok")], at: 1001))
        #expect(state.message?.text == "Drain provider fast on 1 node: node-1 ok")
        Reducer.reduce(&state, .polled(index: 1, snapshot: nil, raw: nil, events: [], error: "refused", at: 1002))
        #expect(state.pending["provider:fast"] == nil)
    }

    @Test func weightKeysAndTheCommandLine() {
        var state = sampleState(width: 80, height: 24)
        Reducer.handle(&state, .character("+"))
        guard case .confirm(let dialog) = state.mode else { Issue.record("no dialog"); return }
        #expect(dialog.plan.command.text == "weight chat fast=80")
        Reducer.handle(&state, .escape)
        Reducer.handle(&state, .character("w"))
        #expect(state.mode == .commandLine("weight chat fast="))
        for c in "55" { Reducer.handle(&state, .character(c)) }
        #expect(View.render(state).line(23).hasPrefix(":weight chat fast=55"))
        Reducer.handle(&state, .enter)
        guard case .confirm(let weightDialog) = state.mode else { Issue.record("no dialog"); return }
        #expect(weightDialog.plan.command.text == "weight chat fast=55")
        Reducer.handle(&state, .escape)
        Reducer.handle(&state, .character(":"))
        Reducer.handle(&state, .up)  // history
        #expect(state.mode == .commandLine("weight chat fast=55"))
        Reducer.handle(&state, .escape)
        Reducer.handle(&state, .character(":"))
        for c in "frobnicate" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)
        #expect(state.message?.text.contains("unknown command") == true && state.mode == .normal)
    }

    @Test func readOnlyLeavesActionKeysUnbound() {
        var state = sampleState(width: 80, height: 24)
        state.readOnly = true
        for key in ["d", "u", "w", "+", "-", "f", "F"] {
            Reducer.handle(&state, .character(Character(key)))
            #expect(state.mode == .normal, "\(key)")
        }
        Reducer.handle(&state, .character(":"))
        for c in "drain provider fast" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)
        #expect(state.mode == .normal && state.message?.text.contains("read-only") == true)
        #expect(!View.render(state).line(23).contains("d drain"))
        #expect(View.render(state).line(0).contains("[RO]"))
        state.ascii = true
        #expect(View.render(state).line(0).contains("[RO]"))
    }
}

extension Result where Failure == CommandError {
    var failureText: String? {
        if case .failure(let e) = self { return e.description }
        return nil
    }
}

@Suite struct FilterAndDetailTests {
    @Test func slashFiltersRowsAndEscClearsIt() {
        var state = sampleState(width: 80, height: 24)
        Reducer.handle(&state, .character("/"))
        for c in "slo" { Reducer.handle(&state, .character(c)) }
        #expect(View.render(state).line(23).hasPrefix("/slo"))
        Reducer.handle(&state, .enter)
        let screen = View.render(state)
        #expect(screen.line(3).hasPrefix("slow") && !screen.text.contains("fast "))
        #expect(screen.line(1).contains("filter: slo"))
        Reducer.handle(&state, .escape)
        #expect(state.filter.isEmpty && View.render(state).line(3).hasPrefix("fast"))
    }

    @Test func eachProvidersKindShowsInThePaneTheDetailAndOnce() throws {
        var snapshot = sampleSnapshot()
        snapshot.providers[0].kind = "anthropic"
        snapshot.providers[1].kind = "azure_openai"
        var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1"], staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: 140, height: 30))
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)], at: 999)))
        Reducer.reduce(&state, .selectPane(.providers))
        let screen = View.render(state)
        let header = try #require(screen.lines.firstIndex { $0.hasPrefix("PROVIDER") })
        #expect(screen.line(header).contains("KIND"))
        #expect(screen.line(header + 1).hasPrefix("fast") && screen.line(header + 1).contains("anthropic"))
        #expect(screen.line(header + 2).hasPrefix("slow") && screen.line(header + 2).contains("azure"))
        Reducer.handle(&state, .enter)
        #expect(View.render(state).text.contains("Provider fast  kind anthropic"))
        let json = SnapshotReport.json(state.fleet, now: 1000)
        #expect(json["providers"]?.arrayValue?.map { $0["kind"] } == ["anthropic", "azure_openai"])
    }

    @Test func enterOpensTheProviderDetailWithBreakerAndSparklines() {
        var state = sampleState(width: 100, height: 30)
        Reducer.handle(&state, .character("j"))
        Reducer.handle(&state, .enter)
        #expect(state.detail == "slow")
        let text = View.render(state).text
        #expect(text.contains("Provider slow") && text.contains("5 consecutive failures") && text.contains("latency p50"))
        Reducer.handle(&state, .escape)
        #expect(state.detail == nil)
        #expect(View.sparkline([0, 1, 2, 4], width: 10, ascii: false) == "▁▃▅█")
        #expect(View.sparkline([0, 5, 10], width: 2, ascii: true) == "=#")
        #expect(state.latencyHistory["fast"]?.count == 1)  // one full poll of the fleet so far
    }
}

@Suite struct SaturationViewTests {
    /// A node near its limits.max_in_flight, and a provider at its per-provider limit.
    func saturatedState(width: Int) -> AppState {
        let snapshot = Snapshot(
            node: Node(id: "busy", version: "0.1.0", revision: 1, inFlight: 95, maxInFlight: 100, uptimeSeconds: 60),
            providers: [
                Provider(id: "full", inFlight: 50, maxInFlight: 50, weights: [.init(route: "chat", tier: 0, configuredWeight: 100, effectiveWeight: 100)],
                         stats: Stats(oneMinute: Window(requests: 100, clientErrors: 7, requestsPerSecond: 2))),
                Provider(id: "idle", inFlight: 1, maxInFlight: 50, weights: [.init(route: "chat", tier: 0, configuredWeight: 100, effectiveWeight: 100)],
                         stats: Stats(oneMinute: Window(requests: 1, requestsPerSecond: 0.1))),
            ],
            routes: [], failovers: [])
        // The first node is down, so the busy one's row is not the selected one.
        var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1", "http://127.0.0.1:2"], staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: width, height: 30))
        Reducer.reduce(&state, .polled(index: 0, snapshot: nil, raw: nil, events: [], error: "connection refused", at: 999))
        Reducer.reduce(&state, .polled(index: 1, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil, at: 999))
        return state
    }

    @Test func inFlightIsShownAgainstItsLimitAndWarnsNearIt() throws {
        var state = saturatedState(width: 200)
        let providers = View.render(state)
        let full = try #require(providers.lines.firstIndex { $0.hasPrefix("full") })
        let idle = try #require(providers.lines.firstIndex { $0.hasPrefix("idle") })
        if full < idle { Reducer.reduce(&state, .moveSelection(1)) }
        let selectedIdle = View.render(state)
        #expect(selectedIdle[0, idle].role == .selected)
        #expect(providers.line(full).contains("50/50") && providers.line(idle).contains("1/50"))
        let column = try #require(providers.line(full).range(of: "50/50")).lowerBound.utf16Offset(in: providers.line(full))
        #expect(selectedIdle[column, full].role == .warn)
        Reducer.reduce(&state, .selectPane(.nodes))
        let nodes = View.render(state)
        let row = try #require(nodes.lines.firstIndex { $0.contains("95/100") }, "\(nodes.lines.prefix(5))")
        let at = try #require(nodes.line(row).range(of: "95/100")).lowerBound.utf16Offset(in: nodes.line(row))
        #expect(nodes[at, row].role == .warn)
        let report = SnapshotReport.json(state.fleet, now: 1000)
        let first = report["providers"]?.arrayValue?.first
        #expect(first?["max_in_flight"]?.intValue == 50 && first?["client_errors_1m"]?.intValue == 7)
    }
}

/// Requests by the API called (chat, messages, embeddings, responses), summed over the nodes, in
/// the Routes pane and `--once` JSON.
@Suite struct EndpointViewTests {
    @Test func theRoutesPaneAndOnceShowRequestsByEndpoint() throws {
        var a = sampleSnapshot()
        a.routes[0].requestsByEndpoint1m = ["chat": 5, "messages": 2, "embeddings": 0, "responses": 0]
        var b = sampleSnapshot()
        b.node.id = "node-2"
        b.routes[0].requestsByEndpoint1m = ["chat": 1, "messages": 0, "embeddings": 3, "responses": 0]
        var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1", "http://127.0.0.1:2"], staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: 160, height: 30))
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [
            NodePoll(index: 0, snapshot: a, raw: raw(a), events: [], error: nil),
            NodePoll(index: 1, snapshot: b, raw: raw(b), events: [], error: nil),
        ], at: 999)))
        Reducer.reduce(&state, .selectPane(.routes))
        let text = View.render(state).text
        #expect(text.contains("BY API 1M") && text.contains("chat 6  messages 2  embeddings 3"), "\(text)")
        let json = SnapshotReport.json(state.fleet, now: 1000)
        #expect(json["routes"]?.arrayValue?.first?["requests_by_endpoint_1m"] == ["chat": 6, "messages": 2, "embeddings": 3, "responses": 0])
        Reducer.reduce(&state, .selectPane(.overview))
        let overview = View.render(state).text
        #expect(overview.contains("by API 1m: chat 6  messages 2  embeddings 3"), "\(overview)")
    }
}
