import ClawAdminAPI
import ClawShared
import ClawTopCore
import Foundation
import Testing

/// The war-room screens: the overview (pane 0) and `--wall`, at every size, for a healthy fleet,
/// an incident and stale data.
enum WarRoom {
    static let providers = ["cheap", "fast", "local", "premium"]

    /// One node's snapshot; `cheapOut` ejects provider cheap (its circuit open since `since`):
    /// its faults are the providers' 20 %, while failover hides most of them from the clients.
    /// Route chat weighs the four alike; route batch gives cheap 80 and local 20.
    static func snapshot(node: Int, cheapOut: Bool, since: Double) -> Snapshot {
        let batch = ["cheap": 80, "local": 20]
        let list: [Provider] = providers.enumerated().map { i, id in
            let out = cheapOut && id == "cheap"
            var weights: [ProviderWeight] = [.init(route: "chat", tier: 0, configuredWeight: 25, effectiveWeight: out ? 0 : 25)]
            if let w = batch[id] { weights.append(.init(route: "batch", tier: 0, configuredWeight: w, effectiveWeight: out ? 0 : w)) }
            return Provider(id: id, state: out ? .ejected : .healthy, inFlight: i,
                            circuit: Circuit(state: out ? .open : .closed, since: out ? since : 0, reason: out ? "5 consecutive failures, last: status_503" : nil),
                            weights: weights,
                            stats: Stats(oneMinute: Window(requests: 600, errors: out ? 120 : 0, requestsPerSecond: 10 + Double(i),
                                                           errorRatio: out ? 0.2 : 0, latencyP50Seconds: 0.05 * Double(i + 1),
                                                           latencyP95Seconds: 0.1 * Double(i + 1), latencyP99Seconds: 0.2 * Double(i + 1),
                                                           costPerHourDollars: 0.5 * Double(i + 1))))
        }
        let clients = [
            ClientStatus(name: "web-app", routes: ["chat", "batch"], limits: .init(rpm: 2400, concurrency: 20), inFlight: 2, requests1m: 1800 + 100 * node,
                         tokens1m: 90_000, spendPerHourDollars: 3.2, spendTodayDollars: 41.5),
            ClientStatus(name: "batch-jobs", routes: ["batch"], limits: .init(rpm: 120, spendPerDay: 5), inFlight: 1, requests1m: 110,
                         tokens1m: 20_000, spendPerHourDollars: 0.4, spendTodayDollars: 4.6, refused: cheapOut ? 7 : 0),
        ]
        return Snapshot(node: Node(id: "demo-\(node + 1)", version: "0.1.0", state: .serving, revision: 4, uptimeSeconds: 3600, store: StoreStatus(kind: .etcd)),
                        providers: list,
                        routes: [Route(alias: "chat", tiers: [providers.map { .init(provider: $0, model: "m", configuredWeight: 25, effectiveWeight: cheapOut && $0 == "cheap" ? 0 : 25) }],
                                       stats: Stats(oneMinute: Window(requests: 2400, errors: cheapOut ? 10 : 0, requestsPerSecond: 40,
                                                                      latencyP99Seconds: 0.8))),
                                 Route(alias: "batch", tiers: [batch.sorted { $0.key < $1.key }.map { .init(provider: $0.key, model: "m", configuredWeight: $0.value,
                                                                                                          effectiveWeight: cheapOut && $0.key == "cheap" ? 0 : $0.value) }],
                                       stats: Stats(oneMinute: Window(requests: 360, errors: cheapOut ? 2 : 0, requestsPerSecond: 6, latencyP99Seconds: 1.2)))],
                        failovers: [], clients: clients)
    }

    /// The fleet-store write every scene has: alice set batch's weights through demo-1 (revision
    /// 4); demo-2 and demo-3 applied it from the store.
    static func audit(_ start: Double) -> [AuditEntry] {
        [AuditEntry(sequence: 1, time: start + 5, actor: "alice", action: "route.weights", target: "route:batch", before: ["cheap": 50, "local": 50],
                    after: ["cheap": 80, "local": 20], reason: "batch prefers cheap", revision: 4)]
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
                // As the real nodes do: each applies it from the store, the writer too (its own
                // write comes back through the watch), and the writer records who and why.
                let applied = Event(sequence: 1, time: at + 0.01 * Double(n), node: "demo-\(n + 1)", kind: .operatorAction, subject: "fleet",
                                    detail: "applied revision 4 from the fleet store")
                let write = n == 0 ? [applied, Event(sequence: 2, time: at + 0.02, node: "demo-1", kind: .operatorAction, subject: "route:batch",
                                                      detail: "route.weights by alice: batch prefers cheap")] : [applied]
                // The incident: cheap's circuit opens on every node, its health check fails, and
                // every 10 s a probe fails and opens it again.
                let node = "demo-\(n + 1)"
                var events: [Event] = t == 5 ? write : []
                if incident, t == 80 {
                    events.append(Event(sequence: 4, time: at + 0.2 * Double(n), node: node, kind: .circuitOpened, subject: "cheap", detail: "5 consecutive failures, last: status_503"))
                }
                if incident, t == 82 { events.append(Event(sequence: 5, time: at, node: node, kind: .healthFailed, subject: "cheap", detail: "probe: status_503")) }
                if incident, t > 80, t % 10 == 0 {
                    events.append(Event(sequence: t, time: at, node: node, kind: .circuitProbing, subject: "cheap", detail: "cooldown over, one probe let through"))
                    events.append(Event(sequence: t + 1, time: at + 0.5, node: node, kind: .circuitOpened, subject: "cheap", detail: "probe failed: status_503"))
                }
                return NodePoll(index: n, snapshot: down ? nil : snap, raw: nil, events: events, error: down ? "connection refused" : nil,
                                audit: t == 6 ? audit(start) : [])
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

    /// Issue 30: every pane at every size, healthy and during an incident, the selection on the
    /// first row (on the Events pane, the fleet-store write).
    @Test func everyPaneAtEverySizeHealthyAndInAnIncident() {
        for (w, h) in Self.sizes {
            for (scene, name) in [(WarRoom.Scene.healthy, "healthy"), (.incident, "incident")] {
                var state = WarRoom.state(scene, width: w, height: h)
                for pane in Pane.allCases where pane != .overview {
                    Reducer.reduce(&state, .selectPane(pane))
                    assertSnapshot(View.render(state), named: "pane-\(pane.title.lowercased())-\(name)-\(w)x\(h)")
                }
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
