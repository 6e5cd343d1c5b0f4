import ClawAdminAPI
import ClawTopCore
import ClawTopRuntime
import Testing

/// The runtime picks one mode from the flags, and starts and ticks the state through the reducer.
@Suite struct ConsoleModeTests {
    func options(_ edit: (inout ConsoleOptions) -> Void) -> ConsoleOptions {
        var o = ConsoleOptions()
        edit(&o)
        return o
    }

    @Test func theFlagsPickOneModeInTheOrderTheyAlwaysHad() {
        #expect(ConsoleMode(ConsoleOptions()) == .screen)
        #expect(ConsoleMode(options { $0.demo = true }) == .screen, "--demo alone is the screen on a demo fleet")
        #expect(ConsoleMode(options { $0.once = true }) == .once)
        #expect(ConsoleMode(options { $0.timeline = true }) == .timeline)
        #expect(ConsoleMode(options { $0.requests = true }) == .requests)
        #expect(ConsoleMode(options { $0.drill = "outage provider fast 2m" }) == .drill("outage provider fast 2m"))
        #expect(ConsoleMode(options { $0.wall = WallSettings(cycle: 5, staleAfter: 0) }) == .wall(WallSettings(cycle: 5, staleAfter: 0)))
        #expect(ConsoleMode(options { $0.demo = true; $0.headless = true; $0.once = true }) == .headless)
        // --exec with --once (the parser lets both through) runs the command, as it always did.
        #expect(ConsoleMode(options { $0.exec = "drain provider fast"; $0.once = true }) == .exec("drain provider fast"))
        #expect(ConsoleMode(options { $0.requests = true; $0.timeline = true }) == .requests)
        #expect(ConsoleMode(options { $0.timeline = true; $0.once = true }) == .timeline)
        #expect(ConsoleMode(options { $0.once = true; $0.wall = WallSettings() }) == .once)
        // Only the screen and the wall need a terminal.
        let drawing = [ConsoleMode.screen, .wall(WallSettings()), .once, .exec("x"), .timeline, .requests, .drill("x"), .headless].filter(\.drawsScreen)
        #expect(drawing == [.screen, .wall(WallSettings())])
    }

    @Test func startUpAndTicksGoThroughTheReducer() {
        var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1"]))
        #expect(Reducer.reduce(&state, .started(now: 1000)).isEmpty)
        #expect(state.now == 1000)
        var plain = state
        Reducer.reduce(&plain, .screenOpened(theme: "light", note: nil, wall: nil))
        #expect(plain.theme == "light" && plain.message == nil && plain.wall == nil && !plain.readOnly)
        Reducer.reduce(&state, .screenOpened(theme: "high-contrast", note: "TERM=foo has no terminfo entry here; using xterm", wall: WallSettings(cycle: 15, staleAfter: 6)))
        #expect(state.theme == "high-contrast")
        #expect(state.message == StatusMessage("TERM=foo has no terminfo entry here; using xterm", .warn))
        #expect(state.wall == WallSettings(cycle: 15, staleAfter: 6) && state.readOnly, "the wall is read-only whatever the token")
        // The wall opens on the overview whatever the size; the plain screen on the providers at 80x24.
        Reducer.reduce(&state, .resize(width: 80, height: 24))
        Reducer.reduce(&plain, .resize(width: 80, height: 24))
        #expect(state.pane == .overview && plain.pane == .providers)
        let before = state
        #expect(Reducer.reduce(&state, .tick(now: 1001.5)).isEmpty)
        #expect(state.now == 1001.5)
        var same = before
        same.now = 1001.5
        #expect(state == same, "a tick moves the clock and nothing else")
    }
}
