import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// Issue 30: a silence can be removed. `:unsilence ALERT` expires, in Alertmanager, the
/// silences that cover the alert (`DELETE /api/v2/silence/{id}`), with completion of the names
/// of silenced alerts.
@Suite struct UnsilenceTests {
    /// Alertmanager's list with ClawgateProviderDown{provider=slow} under silence s-1 (and s-2).
    static func silencedAnswer() -> JSONValue {
        [
            ["labels": ["alertname": "ClawgateProviderDown", "severity": "critical", "provider": "slow"],
             "annotations": ["summary": "Provider slow is out of rotation on every node"], "startsAt": "2023-11-14T22:13:10.000Z",
             "status": ["state": "suppressed", "silencedBy": ["s-1", "s-2"], "inhibitedBy": []], "fingerprint": "abc"],
            ["labels": ["alertname": "ClawgateProviderErrorRatioHigh", "severity": "warning", "provider": "fast"],
             "annotations": ["summary": "Provider fast fails 7% of attempts"], "startsAt": "2023-11-14T22:13:00+00:00",
             "status": ["state": "active", "silencedBy": [], "inhibitedBy": []], "fingerprint": "def"],
            ["labels": ["alertname": "ClawgateNodeDown", "severity": "warning", "instance": "127.0.0.1:1"],
             "annotations": ["summary": "inhibited by another"], "startsAt": "2023-11-14T22:13:00+00:00",
             "status": ["state": "suppressed", "silencedBy": [], "inhibitedBy": ["x"]], "fingerprint": "ghi"],
        ]
    }

    static func state() -> AppState {
        var state = monitoredState()
        poll(&state, MonitorPoll(figures: figures(), alerts: AlertInfo.list(silencedAnswer()), at: 1000))
        return state
    }

    @Test func unsilenceExpiresEverySilenceThatCoversTheAlert() throws {
        let state = Self.state()
        #expect(state.fleet.monitor.alerts.first { $0.name == "ClawgateProviderDown" }?.silencedBy == ["s-1", "s-2"])
        let command = try Command.parse(":unsilence ClawgateProviderDown{provider=slow}").get()
        #expect(command.changesFleet && command.text == "unsilence ClawgateProviderDown{provider=slow}")
        let plan = try command.plan(fleet: state.fleet, reason: nil, now: 0).get()
        #expect(plan.calls.map(\.path) == ["/api/v2/silence/s-1", "/api/v2/silence/s-2"])
        #expect(plan.calls.allSatisfy { $0.target == .alertmanager && $0.method == "DELETE" && $0.body == .null })
        #expect(plan.summary == "Remove 2 silences of ClawgateProviderDown{provider=slow} in Alertmanager (1 alert notify again)")
        #expect(plan.nodesLine == "Sent to: Alertmanager")
        // The name alone covers every alert of that name.
        #expect(try Command.parse("unsilence ClawgateProviderDown").get().plan(fleet: state.fleet, reason: nil, now: 0).get().calls.count == 2)
    }

    @Test func unsilenceOfNothingSilencedIsRefusedAndSaysWhatIs() throws {
        let state = Self.state()
        let firing = try Command.parse("unsilence ClawgateProviderErrorRatioHigh").get().plan(fleet: state.fleet, reason: nil, now: 0)
        #expect(firing.failureText == "no silenced alert matches ClawgateProviderErrorRatioHigh; silenced: ClawgateProviderDown{provider=slow}")
        let inhibited = try Command.parse("unsilence ClawgateNodeDown").get().plan(fleet: state.fleet, reason: nil, now: 0)
        #expect(inhibited.failureText?.contains("inhibited, not silenced") == true)
        #expect(Command.parse("unsilence").failureText?.hasPrefix("usage: unsilence ALERT") == true)
        #expect(Command.parse("unsilence A{provider=}").failureText == "unsilence: label provider has an empty value")
        #expect(Command.parse("unsilence 9x").failureText == "unsilence: '9x' is not an alert name")
        var bare = sampleState(width: 80, height: 24)
        bare.now = 1
        #expect(try Command.parse("unsilence A").get().plan(fleet: bare.fleet, reason: nil, now: 0).failureText?.contains("--alertmanager") == true)
        // Read-only: refused, nothing planned.
        var readOnly = Self.state()
        readOnly.readOnly = true
        #expect(Reducer.propose(&readOnly, try Command.parse("unsilence ClawgateProviderDown").get()).isEmpty)
        #expect(readOnly.mode == .normal && readOnly.message?.text.contains("read-only") == true)
    }

    @Test func tabCompletesTheNamesOfSilencedAlertsAndTheDialogSendsIt() {
        var state = Self.state()
        Reducer.handle(&state, .character(":"))
        for c in "unsil" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .tab)
        Reducer.handle(&state, .tab)
        #expect(state.mode == .commandLine("unsilence ClawgateProviderDown{provider=slow} "), "\(state.mode)")
        Reducer.handle(&state, .enter)
        guard case .confirm(let dialog) = state.mode else { Issue.record("no dialog: \(state.mode)"); return }
        #expect(dialog.plan.summary.hasPrefix("Remove 2 silences"))
        Reducer.handle(&state, .character("y"))
        #expect(state.message?.text.hasSuffix(": sent") == true && state.pending["alert:ClawgateProviderDown"] != nil)
        // `?` then Tab lists it with its argument.
        Reducer.handle(&state, .character("?"))
        Reducer.handle(&state, .tab)
        #expect(View.render(state).lines.contains { $0.contains(":unsilence ") && $0.contains(" ALERT[{label=value,...}]") })
    }

    @Test func theAlertsPaneSaysWhatSilencesAnAlertAndHowToRemoveIt() {
        var state = Self.state()
        state.width = 120
        state.height = 30
        Reducer.reduce(&state, .selectPane(.alerts))
        let index = Selectors.filteredAlerts(state).firstIndex { $0.name == "ClawgateProviderDown" } ?? 0
        Reducer.reduce(&state, .moveSelection(index))
        #expect(View.render(state).text.contains("silenced by s-1, s-2; :unsilence ClawgateProviderDown{provider=slow} removes it"), "\(View.render(state).text)")
    }
}
