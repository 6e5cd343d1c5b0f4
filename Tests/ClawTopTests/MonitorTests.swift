import ClawShared
import ClawTopCore
import Testing

/// Prometheus's and Alertmanager's answers as their APIs give them (shapes from their docs).
let vectorAnswer: JSONValue = [
    "status": "success",
    "data": ["resultType": "vector", "result": [
        ["metric": ["provider": "fast"], "value": [1_700_000_000.5, "4.25"]],
        ["metric": ["provider": "slow"], "value": [1_700_000_000.5, "NaN"]],
        ["metric": ["provider": "none"], "value": [1_700_000_000.5, "9"]],
    ]],
]

func alertsAnswer(silenced: Bool = false) -> JSONValue {
    [
        ["labels": ["alertname": "ClawgateProviderDown", "severity": "critical", "provider": "slow", "job": "clawgate"],
         "annotations": ["summary": "Provider slow is out of rotation on every node"],
         "startsAt": "2023-11-14T22:13:10.000Z", "status": ["state": silenced ? "suppressed" : "active"], "fingerprint": "abc"],
        ["labels": ["alertname": "ClawgateProviderErrorRatioHigh", "severity": "warning", "provider": "fast"],
         "annotations": ["summary": "Provider fast fails 7% of attempts"],
         "startsAt": "2023-11-14T22:13:00+00:00", "status": ["state": "active"], "fingerprint": "def"],
    ]
}

func monitoredState(width: Int = 80, height: Int = 24) -> AppState {
    var state = sampleState(width: width, height: height)
    state.fleet.monitor = Monitor(prometheusURL: "http://127.0.0.1:9090", alertmanagerURL: "http://127.0.0.1:9093")
    return state
}

/// One poll: the monitor's answers and the nodes', in one batch (the reducer merges once).
func poll(_ state: inout AppState, _ monitor: MonitorPoll) {
    let node = state.fleet.nodes[0]
    Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [
        NodePoll(index: 0, snapshot: node.snapshot, raw: node.raw.map(JSONValueBox.init), events: [], error: nil),
        NodePoll(index: 1, snapshot: nil, raw: nil, events: [], error: "connection refused"),
    ], monitor: monitor, at: monitor.at)))
}

func figures(rps: Double = 42, p99: Double = 0.9) -> PrometheusFigures {
    var f = PrometheusFigures(at: 1000)
    var fast = PrometheusFigures.Provider()
    fast.rps = rps
    fast.errorRatio = 0.02
    fast.p50 = 0.2
    fast.p99 = p99
    fast.costPerHour = 3
    f.providers["fast"] = fast
    f.rps = rps
    f.errorRatio = 0.02
    f.p99 = p99
    f.costPerHour = 3
    return f
}

@Suite struct MonitorTests {
    @Test func promQLVectorsAreReadWithNaNAsNoValue() throws {
        let samples = try PromQL.vector(vectorAnswer).get()
        #expect(samples.count == 3)
        #expect(samples[0].labels["provider"] == "fast" && samples[0].value == 4.25)
        #expect(samples[1].value == nil)
        let f = PromQL.figures([.rps: samples, .cost: samples], at: 5)
        #expect(f.providers["fast"]?.rps == 4.25)
        #expect(f.providers["none"] == nil)  // requests no provider served are not a provider
        #expect(f.costPerHour == 4.25)
    }

    @Test func promQLErrorsSayWhatWasWrong() {
        let bad: JSONValue = ["status": "error", "errorType": "bad_data", "error": "parse error at char 5"]
        #expect(PromQL.vector(bad).failureText == "Prometheus said bad_data: parse error at char 5")
        #expect(PromQL.vector(["hello": 1]).failureText?.contains("not a Prometheus API answer") == true)
        #expect(PromQL.vector(["status": "success", "data": ["resultType": "matrix", "result": []]]).failureText?.contains("other than a vector") == true)
        #expect(PromQL.vector(["status": "success", "data": ["resultType": "vector", "result": [["metric": [:]]]]]).failureText != nil)
    }

    @Test func everyFigureIsAQueryOverTheNodesMetrics() {
        for figure in PromQL.Figure.allCases {
            #expect(figure.expression.contains("clawgate_"), "\(figure)")
            #expect(figure.expression.contains("[\(PromQL.window)]"), "\(figure)")
        }
        #expect(PromQL.Figure.p99.expression.hasPrefix("histogram_quantile(0.99"))
        #expect(PromQL.Figure.p50.expression.contains("clawgate_upstream_attempt_duration_seconds_bucket"))
    }

    @Test func rangeAnswersFillTheSparklineSlots() throws {
        let answer: JSONValue = ["status": "success", "data": ["resultType": "matrix", "result": [
            ["metric": ["provider": "fast"], "values": [[96, "1"], [98, "2"], [100, "NaN"]]],
        ]]]
        let series = try PromQL.matrix(answer).get()
        let history = PromQL.history(series, end: 100, step: 2, count: 5)
        #expect(history["fast"] == [0, 0, 1, 2, 0])
        var state = monitoredState()
        state.latencyHistory["fast"] = [7]
        Reducer.reduce(&state, .monitorHistory(latency: history, cost: [:]))
        #expect(state.latencyHistory["fast"] == [0, 0, 1, 2, 0, 7])  // Prometheus's past before the console's own
        // The fleet-wide series (no provider label) fill the overview's graphs the same way.
        let fleetAnswer: JSONValue = ["status": "success", "data": ["resultType": "matrix", "result": [
            ["metric": [:], "values": [[98, "40"], [100, "42"]]],
        ]]]
        let rps = PromQL.fleetHistory(try PromQL.matrix(fleetAnswer).get(), end: 100, step: 2, count: 3)
        #expect(rps == [0, 40, 42])
        state.fleetHistory.rps = [45]
        Reducer.reduce(&state, .monitorHistory(latency: [:], cost: [:], fleet: FleetHistory(rps: rps, errorRatio: [], p99: [], costPerHour: [])))
        #expect(state.fleetHistory.rps == [0, 40, 42, 45])
    }

    @Test func prometheusFiguresReplaceTheNodesOwnAndFallBackWhenItFails() {
        var state = monitoredState()
        let own = state.fleet.rows.first { $0.id == "fast" }!
        #expect(own.rps == 10)
        poll(&state, MonitorPoll(figures: figures(), alerts: [], at: 1001))
        let row = state.fleet.rows.first { $0.id == "fast" }!
        #expect(row.rps == 42 && row.p99 == 0.9 && row.costPerHour == 3 && row.errorRatio == 0.02)
        // A provider Prometheus has no series for keeps the node's figures.
        #expect(state.fleet.rows.first { $0.id == "slow" }!.errorRatio == 1)
        #expect(state.fleet.summary(now: 1001).rps == 42)
        var screen = View.render(state)
        // At 80 columns the header keeps what matters most; on a wider screen it says where the figures come from.
        var wide = state
        Reducer.reduce(&wide, .resize(width: 200, height: 24))
        #expect(View.render(wide).line(0).contains("src prom"))
        #expect(!screen.line(0).contains("prom down"))
        #expect(screen.line(3).contains("42.0") && screen.line(3).contains("900ms"))

        poll(&state, MonitorPoll(prometheusError: "connection refused", alerts: [], at: 1003))
        #expect(state.fleet.rows.first { $0.id == "fast" }!.rps == 10)
        screen = View.render(state)
        #expect(screen.line(0).contains("prom down: node stats"))
        #expect(screen.line(3).contains("10.0"))
        let report = SnapshotReport.json(state.fleet, now: 1003)
        #expect(report["figures_source"]?.stringValue == "nodes")
        #expect(report["prometheus"]?["ok"]?.boolValue == false)
        #expect(report["prometheus"]?["error"]?.stringValue == "connection refused")
        #expect(SnapshotReport.text(state.fleet, now: 1003).contains("figures: the nodes' own stats (prometheus http://127.0.0.1:9090: connection refused)"))
    }

    @Test func withoutPrometheusNothingChanges() {
        var state = sampleState(width: 80, height: 24)
        Reducer.reduce(&state, .monitorPolled(MonitorPoll(figures: figures(), at: 1001)))
        state.fleet.refresh()
        #expect(state.fleet.rows.first { $0.id == "fast" }!.rps == 10)
        #expect(!View.render(state).line(0).contains("prom"))
        #expect(SnapshotReport.json(state.fleet, now: 1001)["prometheus"] == nil)
    }

    @Test func alertsAreReadSortedAndCounted() throws {
        let alerts = try #require(AlertInfo.list(alertsAnswer()))
        #expect(alerts.map(\.name) == ["ClawgateProviderDown", "ClawgateProviderErrorRatioHigh"])  // critical first
        #expect(alerts[0].since == 1_700_000_000 - 10 && alerts[1].since == 1_700_000_000 - 20)
        #expect(alerts[0].selector == "ClawgateProviderDown{provider=slow}")  // job and severity left out
        #expect(AlertInfo.list(["not": "a list"]) == nil)
        let silenced = try #require(AlertInfo.list(alertsAnswer(silenced: true)))
        #expect(silenced.first?.name == "ClawgateProviderErrorRatioHigh")  // a silenced alert goes last
    }

    @Test func alertsPaneHeaderCountAndStatus() throws {
        var state = monitoredState()
        state.fleet.nodes.removeLast()  // every node answers: the status is the alerts' and the providers'
        state.fleet.refresh()
        poll(&state, MonitorPoll(figures: figures(), alerts: AlertInfo.list(alertsAnswer()), at: 1_700_000_100))
        state.now = 1_700_000_100
        #expect(state.fleet.status(now: state.now).code == 2)
        #expect(state.fleet.status(now: state.now).reasons.contains { $0.contains("ClawgateProviderDown{provider=slow} (critical) is firing") })
        Reducer.reduce(&state, .selectPane(.alerts))
        let screen = View.render(state)
        #expect(screen.line(0).contains("alerts 2"))
        #expect(screen.line(1).contains("6 Alerts"))
        #expect(screen.line(2).hasPrefix("SEVERITY") && screen.line(2).contains("SUMMARY"))
        #expect(screen.line(3).hasPrefix("critical") && screen.line(3).contains("ClawgateProviderDown"))
        #expect(screen.line(3).contains("1m50s"))
        // The selected alert whole under the table (there is room here), with what it names.
        #expect(screen.lines.contains { $0.hasPrefix("SELECTED ALERT") })
        #expect(screen.lines.contains { $0.hasPrefix("summary     Provider slow is out of rotation") })
        #expect(screen.lines.contains { $0.hasPrefix("labels      alertname=ClawgateProviderDown") })
        #expect(screen.lines.contains { $0.hasPrefix("            provider=slow") }, "every label, one a line")
        #expect(screen.lines.contains { $0.hasPrefix("provider slow now") })
        #expect(screen.lines.contains { $0.contains("alertmanager http://127.0.0.1:9093: 2 firing, 0 silenced") })

        // Silenced: listed, dimmed, not counted; the fleet is then degraded by the warning only.
        poll(&state, MonitorPoll(figures: figures(), alerts: AlertInfo.list(alertsAnswer(silenced: true)), at: 1_700_000_102))
        #expect(View.render(state).line(0).contains("alerts 1"))
        #expect(state.fleet.status(now: state.now).code == 1)
        let json = SnapshotReport.json(state.fleet, now: state.now)
        #expect(json["alertmanager"]?["firing"]?.intValue == 1)
        #expect(json["alertmanager"]?["alerts"]?.arrayValue?.last?["state"]?.stringValue == "silenced")
        #expect(json["alertmanager"]?["alerts"]?.arrayValue?.last?["since"]?.stringValue == "2023-11-14T22:13:10.000Z")

        // Alertmanager down: the last list stays, the error shows, and --once says unknown.
        poll(&state, MonitorPoll(figures: figures(), alertmanagerError: "connection refused", at: 1_700_000_104))
        #expect(state.fleet.monitor.alerts.count == 2)
        #expect(state.fleet.status(now: state.now).code == 3)
        #expect(View.render(state).lines.contains { $0.contains("alertmanager http://127.0.0.1:9093: connection refused") })
    }

    @Test func silenceCommandsParseOrSayWhy() throws {
        let silence = try #require(try? Command.parse("silence ClawgateProviderDown{provider=slow} 1h30m vendor outage, ticket 42").get())
        guard case .silence(let s) = silence else { Issue.record("not a silence"); return }
        #expect(s.name == "ClawgateProviderDown" && s.matchers == [.init(label: "provider", value: "slow")])
        #expect(s.duration == 5400 && s.reason == "vendor outage, ticket 42")
        #expect(silence.text == "silence ClawgateProviderDown{provider=slow} 1h30m vendor outage, ticket 42")
        #expect(silence.changesFleet && silence.subject == "alert:ClawgateProviderDown")
        let quoted = try? Command.parse(#"silence A{instance="127.0.0.1:9"} 2h r"#).get()
        #expect(quoted?.text == "silence A{instance=127.0.0.1:9} 2h r")
        for (line, error) in [
            ("silence A 1h", "usage: silence"),
            ("silence A 10 why", "'10' is not a duration"),
            ("silence A 1x why", "'1x' is not a duration"),
            ("silence A 30s why", "must be 1m..30d"),
            ("silence A 31d why", "must be 1m..30d"),
            ("silence A{provider} 1h why", "'provider' is not label=value"),
            ("silence A{provider=x 1h why", "without a closing"),
            ("silence 9lives 1h why", "'9lives' is not an alert name"),
            ("silence A{p=} 1h why", "empty value"),
        ] {
            #expect(Command.parse(line).failureText?.contains(error) == true, "\(line): \(Command.parse(line).failureText ?? "parsed")")
        }
    }

    @Test func silencePlansOnePostToAlertmanagerForListedAlerts() throws {
        var state = monitoredState()
        poll(&state, MonitorPoll(figures: figures(), alerts: AlertInfo.list(alertsAnswer()), at: 1000))
        state.fleet.monitor.actor = "clawtop (ops)"
        let command = try Command.parse("silence ClawgateProviderDown{provider=slow} 2h vendor outage").get()
        let plan = try command.plan(fleet: state.fleet, reason: "bridge call", now: 1_700_000_000.25).get()
        #expect(plan.calls.count == 1)
        let call = try #require(plan.calls.first)
        #expect(call.target == .alertmanager && call.method == "POST" && call.path == "/api/v2/silences")
        #expect(call.body["startsAt"]?.stringValue == "2023-11-14T22:13:20.250Z")
        #expect(call.body["endsAt"]?.stringValue == "2023-11-15T00:13:20.250Z")
        #expect(call.body["comment"]?.stringValue == "vendor outage; bridge call")
        #expect(call.body["createdBy"]?.stringValue == "clawtop (ops)")
        let matchers = call.body["matchers"]?.arrayValue ?? []
        #expect(matchers.map { $0["name"]?.stringValue } == ["alertname", "provider"])
        #expect(matchers.allSatisfy { $0["isRegex"]?.boolValue == false && $0["isEqual"]?.boolValue == true })
        #expect(plan.summary.contains("(1 alert now)"))

        #expect(try Command.parse("silence ClawgateProviderDown{provider=fast} 2h x").get()
            .plan(fleet: state.fleet, reason: nil, now: 0).failureText?.contains("no alert matches ClawgateProviderDown{provider=fast}") == true)
        var bare = sampleState(width: 80, height: 24)
        bare.now = 1
        #expect(command.plan(fleet: bare.fleet, reason: nil, now: 0).failureText?.contains("--alertmanager") == true)
    }

    @Test func zOnAnAlertOpensTheCommandLineAndTheDialogConfirms() {
        var state = monitoredState()
        poll(&state, MonitorPoll(figures: figures(), alerts: AlertInfo.list(alertsAnswer()), at: 1000))
        Reducer.handle(&state, .character("z"))
        #expect(state.message?.text.contains("Alerts pane") == true)  // not on the providers pane
        Reducer.handle(&state, .character("6"))
        Reducer.handle(&state, .character("z"))
        #expect(state.mode == .commandLine("silence ClawgateProviderDown{provider=slow} 1h "))
        for c in "maintenance" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)
        guard case .confirm(let dialog) = state.mode else { Issue.record("no dialog: \(state.mode)"); return }
        #expect(dialog.focus == .cancel)
        let screen = View.render(state)
        #expect(screen.lines.contains { $0.contains("Sent to: Alertmanager") })
        #expect(screen.lines.contains { $0.contains("Silence ClawgateProviderDown{provider=slow} for 1h") })
        state.now = 2000
        let effects = Reducer.handle(&state, .character("y"))  // y confirms outside the reason field
        guard case .send(let plan)? = effects.first, effects.count == 1 else { Issue.record("not one send: \(effects)"); return }
        // Planned again as it is sent: the silence starts at the confirmation, not at the dialog.
        #expect(plan.calls.first?.body["startsAt"]?.stringValue == Format.iso8601(2000))
        #expect(state.pending["alert:ClawgateProviderDown"] != nil)

        var readOnly = monitoredState()
        readOnly.readOnly = true
        Reducer.handle(&readOnly, .character("6"))
        Reducer.handle(&readOnly, .character("z"))
        #expect(readOnly.mode == .normal)
    }

    @Test func helpAt80x24ShowsEveryKey() {
        var state = sampleState(width: 80, height: 24)
        Reducer.reduce(&state, .toggleHelp)
        let text = View.render(state).lines.joined(separator: "\n")
        for binding in KeyMap.visible(readOnly: false) {
            #expect(text.contains(Format.pad(binding.label, 8) + binding.help.prefix(20)), "\(binding.label) \(binding.help)")
        }
    }

    @Test func timesAndDurations() {
        #expect(Format.iso8601(0) == "1970-01-01T00:00:00.000Z")
        #expect(Format.iso8601(951_782_400.5) == "2000-02-29T00:00:00.500Z")
        #expect(Format.parseISO8601("2000-02-29T00:00:00.5Z") == 951_782_400.5)
        #expect(Format.parseISO8601("2000-02-29T01:00:00+01:00") == 951_782_400)
        #expect(Format.parseISO8601("2000-02-29 00:00:00Z") == 951_782_400)
        for t in [0.0, 1_700_000_000.123, 4_102_444_800] {
            #expect(Format.parseISO8601(Format.iso8601(t)).map { abs($0 - t) < 0.001 } == true, "\(t)")
        }
        for bad in ["", "2000-13-01T00:00:00Z", "2000-02-29T00:00:00", "2000-02-29T00:00:00Zjunk", "yesterday"] {
            #expect(Format.parseISO8601(bad) == nil, "\(bad)")
        }
        #expect(Format.parseDuration("90s") == 90 && Format.parseDuration("1h30m") == 5400 && Format.parseDuration("2d") == 172_800)
        #expect(Format.parseDuration("") == nil && Format.parseDuration("5") == nil && Format.parseDuration("h") == nil)
    }
}
