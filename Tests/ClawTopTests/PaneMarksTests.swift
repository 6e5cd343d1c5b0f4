import ClawAdminAPI
import ClawTopCore
import Testing

/// Issue 30: the Providers pane's weights name their route; the `*` of a predicted share is
/// explained; the wall advertises no key it does not take and lists the worst first.
@Suite struct PaneMarksTests {
    @Test func theWeightsColumnNamesEachRoute() {
        var state = WarRoom.state(.healthy, width: 120, height: 40)
        Reducer.reduce(&state, .selectPane(.providers))
        let screen = View.render(state)
        #expect(screen.line(2).contains("WEIGHTS"))
        let cheap = screen.lines.first { $0.hasPrefix("cheap ") } ?? ""
        // chat gives cheap 25 while batch gives it 80: both are said.
        #expect(cheap.contains("chat 25 batch 80"), "\(cheap)")
        #expect(screen.lines.first { $0.hasPrefix("fast ") }?.contains("chat 25 ") == true)
    }

    @Test func thePredictedShareMarkIsExplainedUnderTheTableInTheFooterAndInHelp() {
        var state = WarRoom.state(.healthy, width: 120, height: 40)
        Reducer.reduce(&state, .selectPane(.routes))
        #expect(!View.render(state).text.contains("predicted"))
        state.expected["chat"] = ExpectedShares(shares: ["cheap": 0.5, "fast": 0.5], until: state.now + 60)
        let screen = View.render(state)
        #expect(screen.lines.contains { $0.contains("50%*") }, "\(screen.text)")
        #expect(screen.text.contains("* WANT predicted by your last action's preview"))
        #expect(screen.line(39).hasPrefix(" * predicted share "), "\(screen.line(39))")
        Reducer.reduce(&state, .toggleHelp)
        #expect(View.render(state).text.contains("* predicted (Routes)"))
    }

    @Test func theWallSaysNoEscAndListsTheWorstFirst() {
        // fast degraded on every node, premium ejected on every node: premium first.
        var state = WarRoom.state(.healthy, width: 120, height: 40, wall: true)
        for i in state.fleet.nodes.indices {
            guard var snap = state.fleet.nodes[i].snapshot else { continue }
            for p in snap.providers.indices where snap.providers[p].id == "fast" { snap.providers[p].state = .degraded }
            for p in snap.providers.indices where snap.providers[p].id == "premium" {
                snap.providers[p].state = .ejected
                snap.providers[p].circuit = Circuit(state: .open, since: state.now - 60)
            }
            state.fleet.nodes[i].snapshot = snap
        }
        state.fleet.refresh()
        let banner = View.incidents(state)
        #expect(banner.first == "provider premium ejected on 3 of 3 nodes for 1m0s" && banner.last == "provider fast degraded", "\(banner)")
        // The wall cycles to premium's detail by itself; it advertises no Esc, which does nothing there.
        let views = View.wallViews(state)
        while views[Int((state.now / 15).rounded(.down)) % views.count] != "premium" { state.now += 15 }
        for i in state.fleet.nodes.indices { state.fleet.nodes[i].lastSuccess = state.now }
        let text = View.render(state).text
        #expect(text.contains("Provider premium") && !text.contains("Esc"), "\(text)")
    }

    @Test func slashCompletesNamesWithTab() {
        var state = WarRoom.state(.healthy, width: 120, height: 40)
        Reducer.reduce(&state, .selectPane(.providers))
        Reducer.handle(&state, .character("/"))
        Reducer.handle(&state, .character("P"))
        Reducer.handle(&state, .tab)
        #expect(state.mode == .filter("premium") && state.filter == "premium")
        // Several names: as far as they agree, and the choices below.
        Reducer.handle(&state, .escape)
        Reducer.reduce(&state, .selectPane(.nodes))
        Reducer.handle(&state, .character("/"))
        Reducer.handle(&state, .character("d"))
        Reducer.handle(&state, .tab)
        #expect(state.mode == .filter("demo-") && state.message?.text == "demo-1  demo-2  demo-3", "\(state.mode)")
        Reducer.handle(&state, .character("2"))
        Reducer.handle(&state, .enter)
        #expect(Selectors.filteredNodes(state).map(\.name) == ["demo-2"])
    }
}
