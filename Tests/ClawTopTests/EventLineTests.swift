import ClawAdminAPI
import ClawTopCore
import Testing

/// Issue 30, the Events pane: reason and actor columns, Enter for the whole event, and one line
/// for the same event on several nodes (a fleet-store write was four lines, three of them
/// `applied revision 2 from the fleet store`); the overview's events merge the same way.
@Suite struct EventLineTests {
    @Test func aFleetStoreWriteIsOneLineWithWhoAndWhy() throws {
        let state = WarRoom.state(.healthy, width: 120, height: 40)
        let lines = Selectors.eventLines(state)
        #expect(lines.count == 1, "\(lines.map(\.detail))")
        let write = try #require(lines.first)
        // The writer applied it too (its write came back through the store): 4 reports, 3 nodes.
        #expect(write.nodes == ["demo-1", "demo-2", "demo-3"] && write.events.count == 4 && write.actor == "alice" && write.reason == "batch prefers cheap")
        #expect(write.subject == "route:batch" && write.revision == 4 && write.detail == "route.weights (revision 4)")
        // The Events pane: NODES, ACTOR and REASON columns.
        var pane = state
        Reducer.reduce(&pane, .selectPane(.events))
        let screen = View.render(pane)
        #expect(screen.line(2).contains("NODES") && screen.line(2).contains("ACTOR") && screen.line(2).contains("REASON"), "\(screen.line(2))")
        let row = screen.line(3)
        #expect(row.contains("3 nodes") && row.contains("alice") && row.contains("batch prefers cheap"), "\(row)")
        #expect(!screen.text.contains("applied revision 4 from the fleet store  "), "\(screen.text)")
        // The overview lists the same one line.
        let overview = View.render(WarRoom.state(.healthy, width: 200, height: 60)).text
        #expect(overview.contains("3 nodes operator_action route:batch route.weights (revision 4) by alice"))
        #expect(!overview.contains("applied revision"))
    }

    @Test func theSameEventOnSeveralNodesIsOneLineAndWithoutTheAuditTheStoreAppliesFold() {
        var state = WarRoom.state(.incident, width: 120, height: 40)
        let lines = Selectors.eventLines(state)
        // circuit_opened on 3 nodes within 0.4 s: one line; each probe round too.
        let opened = lines.filter { $0.kind == .circuitOpened && $0.detail.hasPrefix("5 consecutive") }
        #expect(opened.count == 1 && opened[0].events.count == 3, "\(opened)")
        #expect(lines.count == 9, "\(lines.map { "\($0.kind) \($0.subject)" })")
        // Nodes older than the audit: the writer's event, and the others' applies as one line.
        for i in state.fleet.nodes.indices { state.fleet.nodes[i].audit = [] }
        let bare = Selectors.eventLines(state).filter { $0.kind == .operatorAction }
        #expect(bare.count == 2, "\(bare.map(\.detail))")
        #expect(bare.contains { $0.detail == "applied revision 4 from the fleet store" && $0.nodes.count == 3 && $0.revision == 4 })
        // Events further apart than the window stay apart.
        var far = state
        far.fleet.nodes[2].events = far.fleet.nodes[2].events.map { e in var e = e; if e.kind == .healthFailed { e.time += 30 }; return e }
        #expect(Selectors.eventLines(far).filter { $0.kind == .healthFailed }.count == 2)
    }

    @Test func enterOpensTheWholeEventAndEscClosesIt() {
        var state = WarRoom.state(.incident, width: 120, height: 40)
        Reducer.reduce(&state, .selectPane(.events))
        Reducer.reduce(&state, .moveSelection(1_000_000))
        Reducer.handle(&state, .enter)
        let key = Selectors.eventLines(state).last?.key
        #expect(state.eventDetail == key && key != nil)
        let text = View.render(state).text
        #expect(text.contains("Event (Esc closes)") && text.contains("route.weights route:batch") && text.contains("demo-2") && text.contains("#1"), "\(text)")
        #expect(text.contains("#2 operator_action route:batch: route.weights by alice") && text.contains("3 of 3"), "\(text)")
        #expect(text.contains("alice") && text.contains("batch prefers cheap"))
        // Newer events do not move it to another one.
        var later = state
        Reducer.reduce(&later, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: later.fleet.nodes[0].snapshot, raw: nil,
            events: [Event(sequence: 99, time: later.now, node: "demo-1", kind: .circuitClosed, subject: "cheap", detail: "probe ok")], error: nil)], at: later.now)))
        #expect(View.render(later).text.contains("route.weights route:batch"))
        Reducer.handle(&state, .escape)
        #expect(state.eventDetail == nil && !View.render(state).text.contains("Event (Esc closes)"))
    }

    @Test func anEventARequestRaisedNamesTheRequest() throws {
        var state = WarRoom.state(.incident, width: 120, height: 40)
        for n in state.fleet.nodes.indices {
            state.fleet.nodes[n].events = state.fleet.nodes[n].events.map { e in
                var e = e
                if e.kind == .circuitOpened { e.requestID = "support-bot/0312-\(n)" }
                return e
            }
        }
        state.mergedEvents = MergedEvents()  // the reducer's merge of the events as they were
        Reducer.reduce(&state, .selectPane(.events))
        let index = try #require(Selectors.eventLines(state).firstIndex { $0.kind == .circuitOpened && $0.detail.hasPrefix("5 consecutive") })
        Reducer.reduce(&state, .moveSelection(index - state.selected(.events)))
        Reducer.handle(&state, .enter)
        let text = View.render(state).text
        #expect(text.contains("last: status_503 (request") && text.contains("support-bot/0312-0)") && text.contains("support-bot/0312-1)"), "\(text)")
    }

    @Test func theFilterFindsLinesByActorAndReason() {
        var state = WarRoom.state(.incident, width: 120, height: 40)
        state.filter = "alice"
        #expect(Selectors.eventLines(state).count == 1)
        state.filter = "prefers"
        #expect(Selectors.eventLines(state).count == 1)
        state.filter = "demo-3"
        #expect(Selectors.eventLines(state).count == 9)
    }
}
