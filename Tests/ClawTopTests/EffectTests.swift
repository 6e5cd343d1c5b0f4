import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// The reducer changes state and returns the I/O it wants as effects; nothing else happens in it.
@Suite struct EffectTests {
    @Test func aThemeIsLoadedByTheRuntimeAndOnlyThenInUse() {
        var state = sampleState(width: 80, height: 24)
        #expect(state.theme == "dark")
        let effects = Reducer.reduce(&state, .cycleTheme)
        #expect(effects == [.loadTheme("light")])
        #expect(state.theme == "dark", "not in use before it loaded")
        Reducer.reduce(&state, .themeLoaded("light"))
        #expect(state.theme == "light" && state.message?.text == "theme light")
        Reducer.reduce(&state, .themeFailed("no-such.theme: no such file"))
        #expect(state.theme == "light" && state.message?.role == .crit)
        Reducer.handle(&state, .character(":"))
        for c in "theme mono" { Reducer.handle(&state, .character(c)) }
        #expect(Reducer.handle(&state, .enter) == [.loadTheme("mono")])
    }

    @Test func pauseAndPollsTellThePoller() {
        var state = sampleState(width: 80, height: 24)
        #expect(Reducer.reduce(&state, .togglePause) == [.setPolling(paused: true)])
        #expect(Reducer.reduce(&state, .togglePause) == [.setPolling(paused: false)])
        let snapshot = sampleSnapshot()
        let event = Event(sequence: 7, time: 1000, node: "node-1", kind: .circuitClosed, subject: "slow", detail: "back")
        let effects = Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [
            NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [event], error: nil),
            NodePoll(index: 1, snapshot: nil, raw: nil, events: [], error: "refused"),
        ], at: 1000)))
        #expect(effects == [.eventCursors([7, 0]), .auditCursors([0, 0])])
    }

    @Test func oneBatchIsOneMerge() {
        var state = sampleState(width: 80, height: 24)
        let before = state.latencyHistory["fast"]?.count ?? 0
        let snapshot = sampleSnapshot()
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [
            NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil),
            NodePoll(index: 1, snapshot: nil, raw: nil, events: [], error: "refused"),
        ], at: 1001)))
        #expect(state.latencyHistory["fast"]?.count == before + 1, "one history point per poll, whatever the number of nodes")
    }

    @Test func aConfirmedActionIsASendEffectAndNothingIsSentOtherwise() {
        var state = sampleState(width: 80, height: 24)
        #expect(Reducer.handle(&state, .character("d")).isEmpty)  // the dialog opens; nothing sent
        // slow is ejected, so draining fast leaves route chat with nothing: y asks for its name first.
        #expect(Reducer.handle(&state, .character("y")).isEmpty)
        for c in "chat" { Reducer.handle(&state, .character(c)) }
        #expect(Reducer.handle(&state, .enter).isEmpty)  // on to Confirm
        let effects = Reducer.handle(&state, .enter)
        guard case .send(let plan)? = effects.first else { Issue.record("no send: \(effects)"); return }
        #expect(plan.command == .drainProvider("fast") && plan.calls.count == 1)
    }
}

@Suite struct TimedOutWriteTests {
    @Test func aWriteThatTimedOutSaysSoOnceTheNodeAppliesIt() {
        var state = sampleState(width: 120, height: 40)
        var snapshot = sampleSnapshot()
        Reducer.reduce(&state, .polled(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil, at: 1000))
        let name = state.fleet.nodes[0].name
        Reducer.reduce(&state, .actionResults(subject: "provider:fast", summary: "Drain provider fast on 1 node",
                                              results: [NodeResult(node: name, ok: false, message: "timed out")], at: 1001))
        #expect(state.message?.text == "Drain provider fast on 1 node: \(name) timed out" && state.pending["provider:fast"] != nil)
        // Still at its old revision: nothing to say yet.
        Reducer.reduce(&state, .polled(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil, at: 1002))
        #expect(state.message?.text == "Drain provider fast on 1 node: \(name) timed out")
        snapshot.node.revision += 1
        Reducer.reduce(&state, .polled(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil, at: 1004))
        #expect(state.message?.text == "Drain provider fast on 1 node: \(name) applied (after timing out)" && state.message?.role == .ok)
        #expect(state.pending["provider:fast"] == nil)
    }
}

@Suite struct NodeRestartTests {
    @Test func aRestartedNodesEventsAreReadFromTheStartAgain() {
        var state = sampleState(width: 80, height: 24)
        var snapshot = sampleSnapshot()
        let seen = Event(sequence: 40, time: 999, node: "node-1", kind: .operatorAction, subject: "x", detail: "d")
        Reducer.reduce(&state, .polled(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [seen], error: nil, at: 1000))
        #expect(state.fleet.nodes[0].eventCursor == 40)
        snapshot.node.startedAt += 60  // the same URL, a new process
        let effects = Reducer.reduce(&state, .polled(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil, at: 1001))
        #expect(state.fleet.nodes[0].eventCursor == 0)
        #expect(effects.contains(.eventCursors([0, 0])))
    }
}
