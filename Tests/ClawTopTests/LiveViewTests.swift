import ClawAdminAPI
import ClawGateKit
import ClawShared
import ClawTesting
import ClawTopCore
import Foundation
import Testing

/// The console's views over what a real node reports.
@Suite struct LiveViewTests {
    @Test func aFailingProviderShowsItsReasonCountAndShareOnScreen() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("bad", ["error_rate": 1]), TestFleet.provider("good")])
        let gate = try await TestFleet.gateway(TestFleet.config(simulator: sim, routes: ["chat": [[("bad", 500), ("good", 500)]]]))
        let client = TestClient()
        for _ in 0..<30 { _ = try await client.chat(gate.url, model: "chat") }
        let answer = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: ["authorization": "Bearer \(TestFleet.viewerToken)"])
        let json = try #require(answer.json)
        let snapshot = try AdminAPI.decode(Snapshot.self, from: answer.body)
        var state = AppState(fleet: Fleet(urls: [gate.adminURL]))
        state.now = Date().timeIntervalSince1970
        Reducer.reduce(&state, .resize(width: 120, height: 40))
        Reducer.reduce(&state, .polled(index: 0, snapshot: snapshot, raw: JSONValueBox(json), events: [], error: nil, at: state.now))
        Reducer.reduce(&state, .openDetail)  // the first row: bad
        let detail = View.render(state).text
        #expect(detail.contains("Provider bad"))
        // The breaker's reason as the node gives it: its opening failures, or, on a loaded machine
        // where the 30 requests take longer than a health interval, the probe that failed since.
        #expect(detail.contains("3 consecutive failures") || detail.contains("probe failed: status_5"), "\(detail)")
        #expect(detail.contains("until "))
        #expect(detail.contains("Recent failures") && detail.contains("status_50"))
        Reducer.reduce(&state, .escape)
        Reducer.reduce(&state, .selectPane(.routes))
        let routes = View.render(state)
        let good = try #require(routes.lines.first { $0.contains("good") })
        // Configured 50/50, but the ejected provider got almost nothing: the skew is on screen.
        #expect(good.contains("50%"))
        let got = try #require(good.split(separator: " ").last.flatMap { Double($0.dropLast()) })
        #expect(got > 80, "\(good)")
        let goodRow = try #require(routes.lines.firstIndex { $0.contains("good") })
        let lastColumn = good.count - 1 - (good.reversed().firstIndex { $0 != " " }.map { good.reversed().distance(from: good.reversed().startIndex, to: $0) } ?? 0)
        #expect(routes[lastColumn, goodRow].role == .warn)
        await client.shutdown()
        await gate.stop()
        await sim.stop()
    }
}

