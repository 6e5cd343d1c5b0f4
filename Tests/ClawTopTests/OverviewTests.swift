import ClawAdminAPI
import ClawShared
import ClawTopCore
import Foundation
import Testing

/// The war-room screens: the overview (pane 0) and `--wall`, at every size, for a healthy fleet,
/// an incident and stale data.
enum WarRoom {
    static let providers = ["cheap", "fast", "local", "premium"]

    /// One node's snapshot; `cheapOut` ejects provider cheap (its circuit open since `since`).
    static func snapshot(node: Int, cheapOut: Bool, since: Double) -> Snapshot {
        let list: [Provider] = providers.enumerated().map { i, id in
            let out = cheapOut && id == "cheap"
            return Provider(id: id, state: out ? .ejected : .healthy, inFlight: i,
                            circuit: Circuit(state: out ? .open : .closed, since: out ? since : 0, reason: out ? "5 consecutive failures, last: status_503" : nil),
                            weights: [.init(route: "chat", tier: 0, configuredWeight: 25, effectiveWeight: out ? 0 : 25)],
                            stats: Stats(oneMinute: Window(requests: 600, errors: out ? 120 : 0, requestsPerSecond: 10 + Double(i),
                                                           errorRatio: out ? 0.2 : 0, latencyP50Seconds: 0.05 * Double(i + 1),
                                                           latencyP95Seconds: 0.1 * Double(i + 1), latencyP99Seconds: 0.2 * Double(i + 1),
                                                           costPerHourDollars: 0.5 * Double(i + 1))))
        }
        return Snapshot(node: Node(id: "demo-\(node + 1)", version: "0.1.0", state: .serving, revision: 4, uptimeSeconds: 3600),
                        providers: list,
                        routes: [Route(alias: "chat", tiers: [providers.map { .init(provider: $0, model: "m", configuredWeight: 25, effectiveWeight: 25) }],
                                       stats: Stats(oneMinute: Window(requests: 2760, errors: cheapOut ? 120 : 0, requestsPerSecond: 46,
                                                                      latencyP99Seconds: 0.8)))],
                        failovers: [])
    }

    enum Scene { case healthy, incident, stale }

    static func state(_ scene: Scene, width: Int, height: Int, wall: Bool = false) -> AppState {
        var state = AppState(fleet: Fleet(urls: (0..<3).map { "http://127.0.0.1:\(9100 + $0)" }, staleAfter: 6))
        if wall { state.wall = WallSettings(cycle: 15, staleAfter: 10) }
        state.fleet.monitor.alertmanagerURL = "http://127.0.0.1:9093"
        Reducer.reduce(&state, .resize(width: width, height: height))
        if !wall { Reducer.reduce(&state, .selectPane(.overview)) }
        let start = 10_000.0
        // Two minutes of polls, one per second: a diurnal wiggle, and the incident in the last 40.
        for t in 0..<120 {
            let at = start + Double(t)
            let incident = scene != .healthy && t >= 80
            let polls = (0..<3).map { n -> NodePoll in
                let down = incident && n == 1 && t >= 100
                var snap = snapshot(node: n, cheapOut: incident, since: start + 80)
                for i in snap.providers.indices { snap.providers[i].stats.oneMinute.requestsPerSecond += sin(Double(t) / 9) * 3 }
                snap.routes[0].stats.oneMinute.requestsPerSecond += sin(Double(t) / 9) * 12
                let events: [Event] = t == 80 && incident
                    ? [Event(sequence: 1, time: at, node: "demo-\(n + 1)", kind: .circuitOpened, subject: "cheap", detail: "5 consecutive failures, last: status_503")]
                    : t == 5 ? [Event(sequence: 1, time: at, node: "demo-\(n + 1)", kind: .operatorAction, subject: "fleet", detail: "applied revision 4")] : []
                return NodePoll(index: n, snapshot: down ? nil : snap, raw: nil, events: events, error: down ? "connection refused" : nil)
            }
            var monitor: MonitorPoll?
            if incident, t == 119 {
                monitor = MonitorPoll(alerts: [AlertInfo(name: "ClawgateProviderDown", severity: "critical", summary: "cheap is down on 3 nodes",
                                                         since: start + 90, labels: ["provider": "cheap"], silenced: false, fingerprint: "f1")], at: at)
            }
            Reducer.reduce(&state, .pollBatch(PollBatch(nodes: polls, monitor: monitor, at: at)))
        }
        state.now = scene == .stale ? start + 119 + 42 : start + 119.5
        if scene == .stale {
            let failed = (0..<3).map { NodePoll(index: $0, snapshot: nil, raw: nil, events: [], error: "connection refused") }
            Reducer.reduce(&state, .pollBatch(PollBatch(nodes: failed, at: state.now)))
        }
        return state
    }
}

@Suite struct OverviewTests {
    static let sizes = [(80, 24), (120, 40), (200, 60), (300, 90)]

    @Test func overviewAndWallAtEverySizeForEveryScene() {
        for (w, h) in Self.sizes {
            for (scene, name) in [(WarRoom.Scene.healthy, "healthy"), (.incident, "incident"), (.stale, "stale")] {
                assertSnapshot(View.render(WarRoom.state(scene, width: w, height: h)), named: "overview-\(name)-\(w)x\(h)")
                assertSnapshot(View.render(WarRoom.state(scene, width: w, height: h, wall: true)), named: "wall-\(name)-\(w)x\(h)")
            }
        }
    }

    @Test func theOverviewShowsStatusGraphsProvidersNodesAndEventsTogether() {
        var state = WarRoom.state(.incident, width: 120, height: 40)
        #expect(state.pane == .overview)
        var first = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1"]))
        Reducer.reduce(&first, .resize(width: 120, height: 40))
        #expect(first.pane == .overview, "the first pane at 120x40")
        Reducer.reduce(&first, .resize(width: 80, height: 24))
        #expect(first.pane == .providers, "until the operator picks one, the size picks the pane")
        Reducer.reduce(&first, .selectPane(.overview))
        Reducer.reduce(&first, .resize(width: 100, height: 30))
        #expect(first.pane == .overview, "a picked pane stays")
        var small24 = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1"]))
        Reducer.reduce(&small24, .resize(width: 80, height: 24))
        #expect(small24.pane == .providers, "at 80x24 the Providers pane comes first")
        let text = View.render(state).text
        for part in ["CRITICAL", "requests/s", "errors", "PROVIDER", "cheap", "ejected", "NODES", "demo-2", "EVENTS", "circuit_opened", "ALERTS FIRING"] {
            #expect(text.contains(part), "\(part) missing")
        }
        // At 80x24: the status, the providers and one graph.
        let small = View.render(WarRoom.state(.incident, width: 80, height: 24)).text
        #expect(small.contains("CRITICAL") && small.contains("requests/s") && small.contains("premium") && !small.contains("spend/h"))
        // Keys work as on the Providers pane: select a provider and drain it.
        Reducer.reduce(&state, .moveSelection(1))
        Reducer.handle(&state, .character("d"))
        guard case .confirm(let dialog) = state.mode else { Issue.record("no dialog"); return }
        #expect(dialog.plan.command == .drainProvider("fast"))
        // ASCII: no block or glyph characters.
        state.ascii = true
        state.mode = .normal
        #expect(!View.render(state).text.contains { "█▁▂▃▄▅▆▇●▲✖○✔".contains($0) })
    }

    @Test func theWallIgnoresActionKeysAndSaysStaleWhenItsDataIsOld() {
        var state = WarRoom.state(.incident, width: 120, height: 40, wall: true)
        for key: KeyEvent in [.character("d"), .character(":"), .character("w"), .enter, .character("2")] {
            let before = state
            #expect(Reducer.handle(&state, key).isEmpty)
            #expect(state == before && state.mode == .normal, "\(key) did something on the wall")
        }
        #expect(Reducer.handle(&state, .character("t")) != [])
        Reducer.handle(&state, .character("p"))
        #expect(state.paused)
        let incident = View.render(state).text
        #expect(incident.contains("provider cheap ejected on 3 of 3 nodes for 39s"), "\(incident)")
        #expect(incident.contains("alert ClawgateProviderDown{provider=cheap} firing (critical) for 29s"))
        #expect(incident.contains("node demo-2 unreachable for 20s"))
        #expect(incident.contains("█████"), "the status word in block letters")
        let stale = View.render(WarRoom.state(.stale, width: 120, height: 40, wall: true)).text
        #expect(stale.contains("STALE: no node has answered for 42s") && !stale.contains("OK"))
        // Cycling: the overview, then each provider that is not healthy.
        var cycling = WarRoom.state(.incident, width: 120, height: 40, wall: true)
        #expect(View.wallViews(cycling) == [nil, "cheap"])
        cycling.now = 10_120
        #expect(View.render(cycling).text.contains("overview of 2"))
        cycling.now = 10_125
        #expect(View.render(cycling).text.contains("Provider cheap"))
    }
}
