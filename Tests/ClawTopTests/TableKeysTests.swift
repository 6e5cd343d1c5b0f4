import ClawAdminAPI
import ClawTopCore
import Testing

/// Issue 30, htop and k9s habits: g/G and Home/End go to the first and last row, PgUp/PgDn by a
/// page; the sort column is marked and `S` turns it round.
@Suite struct TableKeysTests {
    @Test func gAndGAndHomeAndEndGoToTheEnds() {
        var state = Truth.state(width: 120, height: 30)
        Reducer.reduce(&state, .selectPane(.providers))
        Reducer.handle(&state, .character("G"))
        #expect(state.selected(.providers) == 3)
        Reducer.handle(&state, .character("g"))
        #expect(state.selected(.providers) == 0)
        Reducer.handle(&state, .end)
        #expect(state.selected(.providers) == 3)
        Reducer.handle(&state, .home)
        #expect(state.selected(.providers) == 0)
        Reducer.handle(&state, .pageDown)
        #expect(state.selected(.providers) == 3)
    }

    @Test func theSortColumnIsMarkedAndSReversesIt() {
        var state = Truth.state(width: 120, height: 30)
        Reducer.reduce(&state, .selectPane(.providers))
        #expect(View.render(state).line(2).hasPrefix("PROVIDER▲"))
        #expect(Selectors.sortedProviders(state).map(\.id) == ["backup", "cheap", "fast", "premium"])
        Reducer.handle(&state, .character("S"))
        let screen = View.render(state)
        #expect(screen.line(2).hasPrefix("PROVIDER▼") && screen.line(1).contains("sort: name (reversed)"), "\(screen.lines.prefix(3))")
        #expect(Selectors.sortedProviders(state).map(\.id) == ["premium", "fast", "cheap", "backup"])
        Reducer.handle(&state, .character("s"))
        #expect(!state.sortReversed && View.render(state).line(2).contains("STATE▼"))
        state.ascii = true
        #expect(View.render(state).line(2).contains("STATEv"))
    }
}
