import ClawAdminAPI
import ClawShared
import ClawTopCore
import Foundation
import Testing

/// The incident timeline of a scripted incident on three nodes, against golden files.
@Suite struct TimelineTests {
    static func incident(alertFiring: Bool, thirdNodeDown: Bool = false) -> Timeline {
        func event(_ node: Int, _ time: Double, _ kind: EventKind, _ detail: String) -> Event {
            Event(sequence: Int(time), time: time, node: "demo-\(node)", kind: kind, subject: "cheap", detail: detail)
        }
        let drain = AuditEntry(sequence: 3, time: 1_700_000_060, actor: "ops", action: "provider.drain", target: "provider:cheap",
                               before: ["drained": false], after: ["drained": true], reason: "incident 42: cheap answers 503", revision: 3)
        let nodes = (1...3).map { n -> Timeline.NodeInput in
            if thirdNodeDown, n == 3 { return Timeline.NodeInput(name: "demo-3", events: [], audit: [], error: "connection refused") }
            let opened = 1_700_000_000 + [0.0, 0.4, 1.2][n - 1]
            return Timeline.NodeInput(name: "demo-\(n)", events: [
                event(n, 1_699_999_000, .operatorAction, "before the window"),
                event(n, opened, .circuitOpened, "5 consecutive failures, last: status_503"),
                event(n, 1_700_000_060 + 0.1, .operatorAction, "provider.drain by ops"),
                event(n, 1_700_000_100 + Double(n) / 10, .circuitClosed, "request succeeded; back in rotation"),
            ], audit: [drain])  // the fleet store's audit: the same write on every node
        }
        let alert = AlertInfo(name: "ClawgateProviderDown", severity: "critical", summary: "cheap is down", since: 1_700_000_030,
                              labels: ["provider": "cheap"], silenced: false, fingerprint: "f")
        return Timeline.build(nodes: nodes, alerts: alertFiring ? [alert] : [], since: 1_699_999_900)
    }

    func golden(_ text: String, _ name: String) {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Timelines/\(name)")
        if ProcessInfo.processInfo.environment["CLAW_RECORD_SNAPSHOTS"] == "1" {
            try? text.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let recorded = try? String(contentsOf: file, encoding: .utf8)
        #expect(recorded == text, "\(name) differs:\n\(text)")
    }

    @Test func theSameEventOnThreeNodesIsOneLineAndTheSummaryTimesTheIncident() {
        let t = Self.incident(alertFiring: true)
        #expect(t.entries.map(\.kind) == [.sign, .alert, .action, .recovery])
        #expect(t.entries[0].text == "circuit opened for cheap on 3 of 3 nodes, within 1.2s (5 consecutive failures, last: status_503)")
        #expect(t.entries[2].text == "ops: provider.drain provider:cheap (reason: incident 42: cheap answers 503)")
        #expect(t.incidents.count == 1)
        #expect(t.incidents[0].timeToDetect == 30 && t.incidents[0].timeToMitigate == 60 && t.incidents[0].healthyAgain == nil, "the alert still fires")
        let resolved = Self.incident(alertFiring: false)
        #expect(resolved.incidents[0].healthyAgain == 1_700_000_100.3 && abs(resolved.incidents[0].timeToRecover! - 100.3) < 1e-6)
        golden(t.text, "incident.txt")
        golden(t.markdown, "incident.md")
        golden(String(decoding: t.json.bytes(sorted: true), as: UTF8.self) + "\n", "incident.json")
    }

    @Test func aNodeThatCannotBeReadIsNamed() {
        let t = Self.incident(alertFiring: false, thirdNodeDown: true)
        #expect(t.unread == ["demo-3: connection refused"])
        #expect(t.text.contains("NOT READ: demo-3: connection refused") && t.markdown.contains("## Not read"))
        #expect(t.entries[0].text.hasPrefix("circuit opened for cheap on 2 of 2 nodes"))
    }

    @Test func colonTimelineShowsItOverTheScreenAndEscClosesIt() {
        var state = WarRoom.state(.incident, width: 140, height: 40)
        Reducer.handle(&state, .character(":"))
        for c in "timeline" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)
        #expect(state.showTimeline)
        let text = View.render(state).text
        #expect(text.contains("Incident timeline") && text.contains("circuit opened for cheap on 3 of 3 nodes"), "\(text)")
        #expect(text.contains("alert ClawgateProviderDown{provider=cheap} firing"))
        // The fleet-store write is one line, from the audit: who, what and why.
        #expect(text.contains("alice: route.weights route:batch (reason: batch prefers cheap)") && !text.contains("applied revision 4"), "\(text)")
        #expect(text.contains("first sign:"))
        Reducer.handle(&state, .escape)
        #expect(!state.showTimeline)
    }

    @Test func prometheusTellsWhenAnAlertFiredAndResolved() throws {
        let answer: JSONValue = ["status": "success", "data": ["resultType": "matrix", "result": [
            ["metric": ["alertname": "ClawgateProviderDown", "alertstate": "firing", "severity": "critical", "provider": "cheap", "job": "x"],
             "values": [[100, "1"], [101, "1"], [102, "1"], [110, "1"], [111, "1"]]],
        ]]]
        let runs = PromQL.alertRuns(try PromQL.matrix(answer).get(), step: 1, end: 120)
        #expect(runs == [
            PromQL.AlertRun(name: "ClawgateProviderDown", severity: "critical", selector: "ClawgateProviderDown{provider=cheap}", start: 100, end: 103),
            PromQL.AlertRun(name: "ClawgateProviderDown", severity: "critical", selector: "ClawgateProviderDown{provider=cheap}", start: 110, end: 112),
        ])
        #expect(PromQL.alertRuns(try PromQL.matrix(answer).get(), step: 1, end: 112).last?.end == nil, "still firing at the end")
        let t = Timeline.build(nodes: [], alerts: [], since: 0, alertRuns: runs)
        #expect(t.entries.map(\.text) == ["alert ClawgateProviderDown{provider=cheap} firing (critical)", "alert ClawgateProviderDown{provider=cheap} resolved",
                                           "alert ClawgateProviderDown{provider=cheap} firing (critical)", "alert ClawgateProviderDown{provider=cheap} resolved"])
        // Two runs of the same alert 7 s apart are one incident.
        #expect(t.incidents == [Timeline.Incident(subjects: ["cheap"], firstSign: 100, firstAlert: 100, healthyAgain: 112)])
        #expect(t.incidents[0].timeToRecover == 12)
        // Prometheus not answering is named too.
        #expect(Timeline.build(nodes: [], alerts: [], since: 0, prometheusError: "connection refused").unread == ["prometheus: connection refused"])
    }

    /// Two alerts that fired and resolved (from Prometheus), three incidents (cheap, then fast, then
    /// cheap again after a quiet gap), an action taken before any of them, one taken during the
    /// fast incident before its alert, and an alert that names its node by `host:port`.
    static func threeIncidents() -> Timeline {
        let t0 = 1_700_000_000.0
        func event(_ node: Int, _ time: Double, _ kind: EventKind, _ subject: String, _ detail: String) -> Event {
            Event(sequence: Int(time - t0 + 1000) * 10 + node, time: time, node: "demo-\(node)", kind: kind, subject: subject, detail: detail)
        }
        func audit(_ time: Double, _ action: String, _ target: String, _ reason: String) -> AuditEntry {
            AuditEntry(sequence: Int(time - t0 + 1000), time: time, actor: "ops", action: action, target: target, before: [:], after: [:], reason: reason, revision: 1)
        }
        let actions = [
            audit(t0 - 50, "route.weights", "route:chat", "rebalance before the release"),
            audit(t0 + 60, "provider.drain", "provider:cheap", "cheap answers 503"),
            audit(t0 + 430, "provider.drain", "provider:fast", "fast times out"),
        ]
        let nodes = (1...3).map { n in
            var events = [
                event(n, t0 + Double(n - 1) / 10, .circuitOpened, "cheap", "5 consecutive failures, last: status_503"),
                event(n, t0 + 100, .circuitClosed, "cheap", "request succeeded; back in rotation"),
            ]
            if n == 2 {
                events += [
                    event(n, t0 + 400, .circuitOpened, "fast", "5 consecutive failures, last: timeout"),
                    event(n, t0 + 500, .circuitClosed, "fast", "request succeeded; back in rotation"),
                    event(n, t0 + 900, .circuitOpened, "cheap", "5 consecutive failures, last: status_503"),
                ]
            }
            return Timeline.NodeInput(name: "demo-\(n)", events: events.sorted { $0.time < $1.time }, audit: actions)
        }
        let runs = [
            PromQL.AlertRun(name: "ClawgateProviderDown", severity: "critical", selector: "ClawgateProviderDown{provider=cheap}", start: t0 + 30, end: t0 + 130),
            PromQL.AlertRun(name: "ClawgateCircuitOpen", severity: "warning", selector: "ClawgateCircuitOpen{instance=127.0.0.1:9101,provider=fast}",
                            start: t0 + 445, end: t0 + 520),
        ]
        return Timeline.build(nodes: nodes, alerts: [], since: t0 - 100, alertRuns: runs,
                              instances: ["127.0.0.1:9100": "demo-1", "127.0.0.1:9101": "demo-2", "127.0.0.1:9102": "demo-3"])
    }

    @Test func resolvedAlertsAndSeparateIncidentsEachGetTheirOwnTimes() {
        let t = Self.threeIncidents()
        let t0 = 1_700_000_000.0
        #expect(t.incidents == [
            Timeline.Incident(subjects: ["cheap"], firstSign: t0, firstAlert: t0 + 30, firstAction: t0 + 60, healthyAgain: t0 + 130),
            Timeline.Incident(subjects: ["fast"], firstSign: t0 + 400, firstAlert: t0 + 445, firstAction: t0 + 430, healthyAgain: t0 + 520),
            Timeline.Incident(subjects: ["cheap"], firstSign: t0 + 900),
        ], "\(t.incidents)")
        #expect(t.incidents.map(\.timeToDetect) == [30, 45, nil])
        // The node by its name, not the address Prometheus scraped.
        #expect(t.entries.contains { $0.text == "alert ClawgateCircuitOpen{instance=demo-2,provider=fast} firing (warning)" })
        #expect(!t.text.contains("127.0.0.1"))
        // One stamp format and one duration format throughout.
        #expect(t.text.contains("  first alert: 2023-11-14T22:13:50.000Z") && t.text.contains("  time to detect: 45s") && t.text.contains("within 0.2s"))
        golden(t.text, "three-incidents.txt")
        golden(t.markdown, "three-incidents.md")
        golden(String(decoding: t.json.bytes(sorted: true), as: UTF8.self) + "\n", "three-incidents.json")
    }

    @Test func colonTimelineAsksPrometheusForResolvedAlertsAndUsesThem() {
        var state = WarRoom.state(.incident, width: 160, height: 50)
        state.fleet.monitor.prometheusURL = "http://127.0.0.1:9090"
        let effects = Reducer.propose(&state, .timeline)
        #expect(effects == [.loadAlertHistory(since: state.now - 3600)])
        Reducer.reduce(&state, .alertHistory(runs: [
            PromQL.AlertRun(name: "ClawgateCircuitOpen", severity: "warning", selector: "ClawgateCircuitOpen{instance=127.0.0.1:9101,provider=cheap}",
                            start: 10_050, end: 10_070),
        ], error: nil))
        let text = View.render(state).text
        #expect(text.contains("alert ClawgateCircuitOpen{instance=demo-2,provider=cheap} resolved"), "\(text)")
        #expect(text.contains("first alert: 02:47:30"), "the summary in the entries' clock format: \(text)")
        #expect(!text.contains("first alert: none") && !text.contains("T02:"), "\(text)")
        // Asked again while it shows, at most every 10 s.
        let poll = PollBatch(nodes: [], monitor: nil, at: state.now)
        #expect(!Reducer.reduce(&state, .pollBatch(poll)).contains(.loadAlertHistory(since: state.now - 3600)))
        state.now += 11
        #expect(Reducer.reduce(&state, .pollBatch(poll)).contains(.loadAlertHistory(since: state.now - 3600)))
    }

    @Test func withoutPrometheusTheAlertsTheConsoleSawComeAndGoAreOnTheTimeline() {
        var state = WarRoom.state(.incident, width: 160, height: 50)
        // The alert WarRoom fired at 10_090 is gone from Alertmanager's list at the next poll.
        Reducer.reduce(&state, .monitorPolled(MonitorPoll(alerts: [], at: 10_125)))
        #expect(Reducer.propose(&state, .timeline).isEmpty, "no Prometheus to ask")
        let text = View.render(state).text
        #expect(text.contains("alert ClawgateProviderDown{provider=cheap} resolved") && text.contains("first alert: 02:48:10"), "\(text)")
    }
}
