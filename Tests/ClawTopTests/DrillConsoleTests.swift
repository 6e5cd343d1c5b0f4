import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// Drills on the console: `:fault`, `:unfault` and `:drill` parsed, planned and previewed; a fault
/// in force shows as DRILL on the provider's row, in the header, on the wall and in `--once`.
@Suite struct DrillConsoleTests {
    /// Route chat over a and b (50 each), both healthy; `fault` in force on a when given.
    func fleet(fault: InjectedFault? = nil, width: Int = 120, height: Int = 40, nodes: Int = 1) -> AppState {
        func snapshot(_ node: Int) -> Snapshot {
            let providers = ["a", "b"].map { id in
                Provider(id: id, state: .healthy, maxInFlight: 100,
                         weights: [.init(route: "chat", tier: 0, configuredWeight: 50, effectiveWeight: 50)],
                         stats: Stats(oneMinute: Window(requests: 600, requestsPerSecond: 10, latencyP50Seconds: 0.1, latencyP95Seconds: 0.3,
                                                        costPerHourDollars: id == "a" ? 3.6 : 36)),
                         fault: id == "a" && node == 0 ? fault : nil)
            }
            return Snapshot(node: Node(id: "node-\(node + 1)", version: "0.1.0", state: .serving, revision: 1), providers: providers,
                            routes: [Route(alias: "chat", tiers: [["a", "b"].map { .init(provider: $0, model: "m", configuredWeight: 50, effectiveWeight: 50) }],
                                           stats: Stats(oneMinute: Window(requests: 1200, requestsPerSecond: 20)))],
                            failovers: [])
        }
        return polledState(nodes: nodes, width: width, height: height, snapshot)
    }

    static let outage = InjectedFault(provider: "a", kind: .outage, since: 990, until: 1110, reason: "DR test", actor: "ops")

    @Test func faultCommandsParseAsTheNodesCheckThem() throws {
        guard case .fault(let f) = try Command.parse(":fault outage provider a 2m").get() else { Issue.record("not a fault"); return }
        #expect(f == FaultCommand(kind: .outage, provider: "a", duration: 120, durationText: "2m"))
        guard case .drill(let d) = try Command.parse("drill error provider a 30s ratio=0.5 status=429").get() else { Issue.record("not a drill"); return }
        #expect(d.kind == .error && d.ratio == 0.5 && d.status == 429 && d.duration == 30)
        #expect(Command.drill(d).text == "drill error provider a 30s ratio=0.5 status=429")
        #expect(try Command.parse("fault latency a 1m extra_ms=300").get() == .fault(FaultCommand(kind: .latency, provider: "a", duration: 60, durationText: "1m", extraMs: 300)),
                "the word provider may be left out")
        #expect(try Command.parse("unfault provider a").get() == .unfault("a"))
        let refused: [(String, String)] = [
            ("fault flood provider a 2m", "'flood' is not a kind of fault"),
            ("fault outage provider a 2h", "at most 1h"),
            ("fault outage provider a soon", "'soon' is not a duration"),
            ("fault outage provider a", "missing the duration"),
            ("fault latency provider a 1m", "needs extra_ms=N"),
            ("fault outage provider a 1m status=503", "status is for kind error only"),
            ("fault error provider a 1m status=404", "is not 408, 429 or 500..599"),
            ("fault outage provider a 1m ratio=2", "is not a share 0..1"),
            ("unfault", "usage: unfault provider ID"),
        ]
        for (line, why) in refused {
            let error = Command.parse(line)
            guard case .failure(let e) = error else { Issue.record("\(line) was taken"); continue }
            #expect(e.description.contains(why), "\(line): \(e.description)")
        }
    }

    @Test func aFaultIsOneWriteOfTheAdminAPIsBodyAndATypoIsRefusedBeforeIt() throws {
        let state = fleet()
        let plan = try Command.parse("fault error provider a 90s ratio=0.25").flatMap { $0.plan(fleet: state.fleet, reason: "drill", now: 1000) }.get()
        #expect(plan.calls.count == 1 && plan.calls[0].method == "POST" && plan.calls[0].path == "/admin/v1/providers/a/fault")
        #expect(plan.calls[0].body == (try JSONValue.parse(bytes: AdminAPI.encode(FaultBody(kind: "error", ratio: 0.25, duration: 90, reason: "drill")))))
        #expect(plan.summary.contains("provider a error 503 on 25% for 1m30s, ending by itself"), "\(plan.summary)")
        let end = try Command.unfault("a").plan(fleet: state.fleet, reason: nil, now: 1000).get()
        #expect(end.calls.map(\.method) == ["DELETE"] && end.calls[0].path == "/admin/v1/providers/a/fault")
        guard case .failure(let unknown) = Command.parse("fault outage provider zzz 1m").flatMap({ $0.plan(fleet: state.fleet, reason: nil, now: 1000) }) else {
            Issue.record("an unknown provider was planned"); return
        }
        #expect(unknown.description.contains("no provider 'zzz'"))
        // One fault per provider: the console says so before the node would.
        let busy = fleet(fault: Self.outage)
        guard case .failure(let second) = Command.parse("fault hang provider a 1m").flatMap({ $0.plan(fleet: busy.fleet, reason: nil, now: 1000) }) else {
            Issue.record("a second fault was planned"); return
        }
        #expect(second.description.contains("already has a fault in force"), "\(second.description)")
    }

    @Test func thePreviewSaysWhereTheTrafficGoesAndWhenItEnds() throws {
        let state = fleet()
        let outage = try #require(Preview.of(.fault(FaultCommand(kind: .outage, provider: "a", duration: 120, durationText: "2m")), fleet: state.fleet, now: 1000))
        let shares = Dictionary(uniqueKeysWithValues: outage.routes[0].shares.map { ($0.provider, ($0.before, $0.after)) })
        #expect(shares["a"]! == (0.5, 0) && shares["b"]! == (0.5, 1), "an outage takes a out once its breaker opens, as a drain would")
        #expect(outage.warnings == ["route chat is left with a single available provider (b)"])
        #expect(outage.lines.contains { $0.contains("nothing is sent to a") })
        #expect(outage.lines.contains { $0.contains("ends by itself at \(Format.iso8601(1120))") }, "\(outage.lines)")
        let half = try #require(Preview.of(.fault(FaultCommand(kind: .error, provider: "a", duration: 60, ratio: 0.5)), fleet: state.fleet, now: 1000))
        #expect(half.routes[0].shares.first { $0.provider == "a" }.map { abs($0.after - 1.0 / 3) < 0.01 } == true, "\(half.routes)")
        let slow = try #require(Preview.of(.fault(FaultCommand(kind: .latency, provider: "a", duration: 60, extraMs: 300)), fleet: state.fleet, now: 1000))
        #expect(slow.routes.isEmpty && slow.lines.contains { $0.contains("p50 100ms -> about 400ms") }, "\(slow.lines)")
        // A route with one provider left nothing: the operator types its name, as for a drain.
        var lone = state
        Reducer.reduce(&lone, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: loneSnapshot(), raw: raw(loneSnapshot()), events: [], error: nil)], at: 999)))
        let guarded = try #require(Preview.of(.drill(FaultCommand(kind: .hang, provider: "a", duration: 60)), fleet: lone.fleet, now: 1000))
        #expect(guarded.guardName == "chat", "\(guarded.lines)")
    }

    func loneSnapshot() -> Snapshot {
        Snapshot(node: Node(id: "node-1", version: "0.1.0", state: .serving, revision: 1),
                 providers: [Provider(id: "a", weights: [.init(route: "chat", tier: 0, configuredWeight: 100, effectiveWeight: 100)],
                                      stats: Stats(oneMinute: Window(requests: 60, requestsPerSecond: 1)))],
                 routes: [Route(alias: "chat", tiers: [[.init(provider: "a", model: "m", configuredWeight: 100, effectiveWeight: 100)]],
                                stats: Stats(oneMinute: Window(requests: 60, requestsPerSecond: 1)))],
                 failovers: [])
    }

    @Test func theDialogOpensWithThePreviewAndConfirmingSendsTheWrite() {
        var state = fleet()
        Reducer.reduce(&state, .selectPane(.providers))
        for key in [KeyEvent.character(":")] + "fault outage provider a 1m".map(KeyEvent.character) + [.enter] { Reducer.handle(&state, key) }
        guard case .confirm(let dialog) = state.mode else { Issue.record("no dialog: \(state.mode)"); return }
        #expect(dialog.plan.calls.first?.path == "/admin/v1/providers/a/fault")
        #expect(dialog.preview?.lines.contains { $0.hasPrefix("drill: every attempt on a fail at once") } == true)
        let screen = View.render(state).text
        #expect(screen.contains("Inject a fault: provider a outage for 1m0s"), "\(screen)")
        #expect(dialog.focus == .cancel, "Cancel is the default")
        let effects = Reducer.handle(&state, .character("y"))
        #expect(effects.contains { if case .send(let plan) = $0 { plan.calls.first?.method == "POST" } else { false } })
        // Read-only: not sent, and said so.
        var readOnly = fleet()
        readOnly.readOnly = true
        Reducer.propose(&readOnly, .fault(FaultCommand(kind: .outage, provider: "a", duration: 60)))
        #expect(readOnly.message?.text.contains("read-only console") == true)
    }

    @Test func aFaultInForceIsDrillOnTheRowTheHeaderAndTheWall() {
        var state = fleet(fault: Self.outage, nodes: 2)
        Reducer.reduce(&state, .selectPane(.providers))
        Reducer.handle(&state, .character("j"))  // the selection off a's row, to read its colour
        let screen = View.render(state)
        let row = screen.lines.first { $0.hasPrefix("a ") } ?? ""
        #expect(row.hasPrefix("a DRILL 1/2"), "one of two nodes has it: \(row)")
        #expect(screen[0, screen.lines.firstIndex(of: row)!].role == .warn)
        #expect(screen.line(0).contains("DRILL a"), "\(screen.line(0))")
        // Every pane's header says it; the overview's row too; the status lists it in force.
        var overview = fleet(fault: Self.outage, width: 200, height: 60)
        Reducer.reduce(&overview, .selectPane(.overview))
        let text = View.render(overview).text
        #expect(text.contains("a DRILL"))
        #expect(text.contains("provider a drill fault outage by ops at \(Format.iso8601(990)) (10s ago): DR test"), "\(text)")
        var wall = fleet(fault: Self.outage, width: 200, height: 60)
        wall.wall = WallSettings()
        let board = View.render(wall)
        #expect(board.text.contains("DRILL provider a: outage on every attempt on 1 of 1 node, 1m50s left (set by ops: DR test)"), "\(board.text)")
        // ASCII-safe: a reason holding terminal control is shown escaped.
        var evil = Self.outage
        evil.reason = "\u{1B}[31mred"
        let escaped = View.render(fleet(fault: evil, width: 200, height: 60).with { $0.wall = WallSettings() }).text
        #expect(escaped.contains("\\e[31mred") && !escaped.contains("\u{1B}"))
    }

    @Test func onceSaysTheDrillAndKeepsItsExitCode() throws {
        let quiet = fleet()
        let drilled = fleet(fault: Self.outage)
        #expect(drilled.fleet.status(now: 1000).code == quiet.fleet.status(now: 1000).code, "a fault alone changes no exit code")
        let json = SnapshotReport.json(drilled.fleet, now: 1000)
        let a = try #require(json["providers"]?.arrayValue?.first { $0["id"]?.stringValue == "a" })
        #expect(a["fault"]?["kind"]?.stringValue == "outage" && a["fault"]?["nodes"]?.intValue == 1 && a["fault"]?["seconds_left"]?.doubleValue == 110)
        #expect(json["providers"]?.arrayValue?.first { $0["id"]?.stringValue == "b" }?["fault"] == .null)
        #expect(json["operator_changes"]?.arrayValue?.contains { $0["kind"]?.stringValue == "fault" } == true)
        let text = SnapshotReport.text(drilled.fleet, now: 1000)
        #expect(text.contains("DRILL provider a: outage until \(Format.iso8601(1110)) (1m50s left) on 1/1 nodes, set by ops: DR test"), "\(text)")
        #expect(text.contains("a DRILL"))
    }

    /// One node's look at a (faulted or not, ejected or not) with a's and b's attempts and the route's totals.
    @discardableResult
    func poll(_ state: inout AppState, at: Double, fault: InjectedFault?, ejected: Bool, attemptsA: Int, attemptsB: Int, requests: Int, errors: Int = 0) -> [Effect] {
        let providers = [("a", attemptsA), ("b", attemptsB)].map { id, attempts in
            Provider(id: id, state: id == "a" && ejected ? .ejected : .healthy, maxInFlight: 100,
                     circuit: Circuit(state: id == "a" && ejected ? .open : .closed),
                     weights: [.init(route: "chat", tier: 0, configuredWeight: 50, effectiveWeight: 50)],
                     stats: Stats(oneMinute: Window(requests: 60, requestsPerSecond: 1)), fault: id == "a" ? fault : nil, attemptsTotal: attempts)
        }
        let snapshot = Snapshot(node: Node(id: "node-1", version: "0.1.0", state: .serving, revision: 1), providers: providers,
                                routes: [Route(alias: "chat", tiers: [["a", "b"].map { .init(provider: $0, model: "m", configuredWeight: 50, effectiveWeight: 50) }],
                                               stats: Stats(oneMinute: Window(requests: 120, requestsPerSecond: 2)), requestsTotal: requests, errorsTotal: errors)],
                                failovers: [])
        state.now = at
        return Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)], at: at)))
    }

    @Test func aDrillOnTheScreenEndsItsFaultOnTimeAndShowsItsReport() throws {
        var state = fleet()
        poll(&state, at: 1000, fault: nil, ejected: false, attemptsA: 100, attemptsB: 100, requests: 200)
        Reducer.handle(&state, .character(":"))
        for c in "drill outage provider a 3s rto=30s" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)
        guard case .confirm = state.mode else { Issue.record("no dialog: \(state.mode)"); return }
        let sent = Reducer.handle(&state, .character("y"))
        #expect(sent.contains { if case .send(let plan) = $0 { plan.calls.first?.path == "/admin/v1/providers/a/fault" } else { false } })
        #expect(state.drill?.fault.provider == "a" && state.drill?.rto == 30)
        let fault = InjectedFault(provider: "a", kind: .outage, since: 1000, until: 1003)
        // The fault in force: a is tried 3 times more, then its circuit opens; b takes it all.
        poll(&state, at: 1001, fault: fault, ejected: false, attemptsA: 103, attemptsB: 110, requests: 210)
        poll(&state, at: 1002, fault: fault, ejected: true, attemptsA: 103, attemptsB: 120, requests: 220)
        #expect(state.drill != nil && state.drill?.endedAt == nil && state.drillReport == nil)
        // Its time: the drill ends it, one DELETE.
        let ending = poll(&state, at: 1003, fault: nil, ejected: true, attemptsA: 103, attemptsB: 130, requests: 230)
        #expect(ending.contains { if case .send(let plan) = $0 { plan.calls.first?.method == "DELETE" } else { false } }, "\(ending)")
        #expect(state.drill?.endedAt == 1003)
        // a healthy again: the report shows.
        poll(&state, at: 1005, fault: nil, ejected: false, attemptsA: 110, attemptsB: 140, requests: 247)
        let report = try #require(state.drillReport)
        #expect(state.drill == nil)
        #expect(report.passed && report.timeToMitigate == 1 && report.timeToRecover == 2, "\(report.text)")
        #expect(report.requests == 47 && report.errors == 0)
        let screen = View.render(state).text
        #expect(screen.contains("Drill report") && screen.contains("result: PASS: mitigated in 1.0s, within the RTO of 30s"), "\(screen)")
        Reducer.reduce(&state, .escape)
        #expect(state.drillReport == nil)
    }

    @Test func syncCopiesTheSourcesFaultWithItsState() throws {
        var state = fleet(fault: Self.outage, nodes: 2)
        // The source's whole state as GET /admin/v1/state gives it, its fault included.
        state.fleet.nodes[0].operatorState = StateDocument(revision: 1, drainedProviders: [], weights: [:], failovers: [], nodeDrain: false, faults: [Self.outage])
        let plan = try Command.sync("node-1").plan(fleet: state.fleet, reason: nil, now: 1000).get()
        #expect(plan.calls.count == 1 && plan.calls[0].path == "/admin/v1/state")
        #expect(plan.calls[0].body["state"]?["faults"]?.arrayValue?.first?["provider"]?.stringValue == "a", "\(plan.calls[0].body)")
    }

    @Test func tabCompletesTheFaultCommand() {
        let state = fleet()
        #expect(Completion.complete("fault ou", fleet: state.fleet).text == "fault outage ")
        #expect(Completion.complete("fault outage p", fleet: state.fleet).text == "fault outage provider ")
        #expect(Completion.complete("drill hang provider ", fleet: state.fleet).choices == ["a", "b"])
        #expect(Completion.nearest("fualt") == "fault")
    }
}

extension AppState {
    func with(_ change: (inout AppState) -> Void) -> AppState {
        var copy = self
        change(&copy)
        return copy
    }
}
