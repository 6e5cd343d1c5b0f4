import ClawAdminAPI
import ClawShared
@testable import ClawTopCore
import Foundation
import Testing

/// The Requests pane (8): every node's recent requests merged by time, `/` to find one, Enter for
/// its attempts and trace id; and `clawtop --requests`'s report of the same rows.
@Suite struct RequestsPaneTests {
    static func record(_ sequence: Int, time: Double, id: String, client: String?, status: Int = 200, attempts: [(String, String, Int?)],
                       served: String?) -> RequestRecord {
        RequestRecord(sequence: sequence, time: time, route: "chat",
                      attempts: attempts.map { .init(provider: $0.0, outcome: $0.1, model: "m-\($0.0)", tier: 0, status: $0.2, seconds: 0.012,
                                                     fault: $0.1 == "ok" ? "none" : "provider", decision: "weighted: random by weight",
                                                     spanID: String(repeating: $0.0 == "bad" ? "a" : "b", count: 16)) },
                      outcome: status == 200 ? "ok" : "failed", served: served, latencySeconds: 9.012, requestID: id,
                      traceID: "4bf92f3577b34da6a3ce929d0e0e4736", spanID: "00f067aa0ba902b7", client: client, status: status,
                      fault: status == 200 ? "none" : "provider", tokensIn: 10, tokensOut: 16, costDollars: 0.0042)
    }

    static func state(width: Int = 120, height: Int = 30) -> AppState {
        var state = sampleState(width: width, height: height)
        var second = sampleSnapshot()
        second.node.id = "node-2"
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [
            NodePoll(index: 0, snapshot: sampleSnapshot(), raw: nil, events: [], error: nil, requests: [
                record(1, time: 990, id: "web-1", client: "web", attempts: [("fast", "ok", 200)], served: "fast"),
                record(2, time: 996, id: "support-0312", client: "support-bot", attempts: [("bad", "status_503", 503), ("good", "ok", 200)], served: "good"),
            ]),
            NodePoll(index: 1, snapshot: second, raw: nil, events: [], error: nil, requests: [
                record(1, time: 993, id: "batch-7", client: "batch-jobs", status: 502, attempts: [("bad", "timeout", nil), ("slow", "status_500", 500)],
                       served: nil),
            ]),
        ], at: 999)))
        Reducer.reduce(&state, .selectPane(.requests))
        return state
    }

    @Test func everyNodesRequestsAreMergedNewestFirst() {
        let state = Self.state()
        #expect(Selectors.requestRows(state).map(\.record.requestID) == ["support-0312", "batch-7", "web-1"])
        let lines = View.render(state).lines
        #expect(lines[1].contains("8 Requests"))
        #expect(lines[2].hasPrefix("TIME") && lines[2].contains("CLIENT") && lines[2].contains("ATTEMPTS") && lines[2].contains("LATENCY"))
        let first = lines[3]
        #expect(first.contains("support-bot") && first.contains("200") && first.contains("good") && first.contains("2: bad status_503 > good ok"))
        #expect(lines[4].contains("node-2") && lines[4].contains("502") && lines[4].contains("batch-jobs"))
        #expect(View.render(state)[0, 3].role == .selected)
        // 80 columns: the lowest-priority columns go first, the row still names the request.
        let narrow = View.render(Self.state(width: 80, height: 24)).lines
        #expect(narrow.allSatisfy { $0.count == 80 } && narrow[3].contains("chat") && narrow[3].contains("200"))
    }

    @Test func theFilterFindsAClientARouteAStatusOrARequestId() {
        var state = Self.state()
        for (filter, ids) in [("support", ["support-0312"]), ("502", ["batch-7"]), ("web-1", ["web-1"]), ("chat", ["support-0312", "batch-7", "web-1"])] {
            state.filter = filter
            #expect(Selectors.requestRows(state).map(\.record.requestID) == ids, "filter \(filter)")
        }
    }

    @Test func enterShowsEachAttemptAndTheTraceIdAndEscGoesBack() {
        var state = Self.state()
        Reducer.reduce(&state, .openDetail)
        #expect(state.requestDetail == RequestKey(node: 0, sequence: 2))
        let screen = View.render(state).lines.joined(separator: "\n")
        #expect(screen.contains("Request support-0312 on node-1"))
        #expect(screen.contains("trace id 4bf92f3577b34da6a3ce929d0e0e4736"))
        #expect(screen.contains("served by good after 2 attempt(s)"))
        let attempts = View.render(state).lines.filter { $0.contains("m-bad") || $0.contains("m-good") }
        #expect(attempts.count == 2 && attempts[0].contains("bad") && attempts[0].contains("503") && attempts[0].contains("status_503"))
        #expect(attempts[1].contains("good") && attempts[1].contains("weighted: random by weight"))
        Reducer.reduce(&state, .escape)
        #expect(state.requestDetail == nil && View.render(state).lines[2].hasPrefix("TIME"))
    }

    @Test func aRestartedNodesRecordsAreDroppedAndStringsFromNodesAreMadeSafe() {
        var state = Self.state()
        var restarted = sampleSnapshot()
        restarted.node.startedAt += 100
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: restarted, raw: nil, events: [], error: nil, requests: [
            Self.record(1, time: 998, id: "evil\u{1b}[31m", client: "x", attempts: [("fast", "ok", 200)], served: "fast"),
        ])], at: 1000)))
        #expect(state.fleet.nodes[0].requests.map(\.requestID) == ["evil\u{1b}[31m"])
        Reducer.reduce(&state, .openDetail)
        let screen = View.render(state).lines.joined(separator: "\n")
        #expect(!screen.contains("\u{1b}") && screen.contains("evil\\e[31m"))
    }

    @Test func theReportKeepsTheWindowAndTheClient() throws {
        let state = Self.state()
        let all = RequestReport.build(state, since: 0, client: nil)
        #expect(all.rows.count == 3 && all.text.contains("attempt 1: bad m-bad status 503 status_503"))
        let recent = RequestReport.build(state, since: 995, client: nil)
        #expect(recent.rows.map(\.record.requestID) == ["support-0312"])
        let bot = RequestReport.build(state, since: 0, client: "batch-jobs")
        #expect(bot.rows.map(\.record.requestID) == ["batch-7"])
        let json = bot.json
        #expect(json["schema"]?.stringValue == "clawtop.requests.v1")
        let first = try #require(json["requests"]?.arrayValue?.first)
        #expect(first["node"]?.stringValue == "node-2" && first["request_id"]?.stringValue == "batch-7" && first["attempts"]?.arrayValue?.count == 2)
    }
}
