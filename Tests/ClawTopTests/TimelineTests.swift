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
        #expect(t.entries[0].text == "circuit opened for cheap on 3 of 3 nodes, within 1.2 s (5 consecutive failures, last: status_503)")
        #expect(t.entries[2].text == "ops: provider.drain provider:cheap (reason: incident 42: cheap answers 503)")
        #expect(t.summary.timeToDetect == 30 && t.summary.timeToMitigate == 60 && t.summary.healthyAgain == nil, "the alert still fires")
        let resolved = Self.incident(alertFiring: false)
        #expect(resolved.summary.healthyAgain == 1_700_000_100.3 && abs(resolved.summary.timeToRecover! - 100.3) < 1e-6)
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
        #expect(text.contains("alert ClawgateProviderDown{provider=cheap} firing") && text.contains("applied revision 4 (fleet)"))
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
        #expect(t.summary.firstAlert == 100 && t.summary.healthyAgain == 112 && t.summary.timeToRecover == 12)
        // Prometheus not answering is named too.
        #expect(Timeline.build(nodes: [], alerts: [], since: 0, prometheusError: "connection refused").unread == ["prometheus: connection refused"])
    }
}
