import ClawAdminAPI
import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Real clawsim providers and a real clawgate node on loopback ports, driven over HTTP.
@Suite(.serialized) struct GatewayLiveTests {
    func withFleet(
        _ providers: [SimConfig.Provider],
        routes: [String: [[(String, Int)]]],
        prices: [String: (Double, Double)] = [:],
        firstByteTimeout: Double = 2,
        healthCheck: GatewayConfig.HealthCheck? = nil,
        retry: GatewayConfig.Retry = .init(maxAttempts: 3, budgetRatio: 1, minRetriesPerSecond: 100, window: 10),
        clock: ManualClock? = nil,
        _ body: (Simulator, GatewayServer, TestClient) async throws -> Void
    ) async throws {
        try await TestFleet.withFleet(providers, routes: routes, prices: prices, firstByteTimeout: firstByteTimeout, healthCheck: healthCheck,
                                      retry: retry, clock: clock, body)
    }

    @Test func jsonAnswerIsPassedThroughAndAccounted() async throws {
        try await withFleet([TestFleet.provider("fast")], routes: ["chat": [[("fast", 100)]]], prices: ["fast": (2, 10)]) { sim, gate, client in
            let response = try await client.chat(gate.url, model: "chat")
            #expect(response.status == 200)
            #expect(response.header("x-clawgate-provider") == "fast")
            #expect(response.header("x-clawgate-attempts") == "1")
            let usage = try #require(response.json?["usage"])
            let tokensIn = try #require(usage["prompt_tokens"]?.intValue)
            let tokensOut = try #require(usage["completion_tokens"]?.intValue)
            #expect(response.json?["choices"]?.arrayValue?.count == 1)
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            let provider = snap.providers[0]
            #expect(provider.window1m.requests == 1)
            #expect(provider.window1m.tokensIn == tokensIn && provider.window1m.tokensOut == tokensOut)
            let expectedCost = (Double(tokensIn) * 2 + Double(tokensOut) * 10) / 1_000_000
            #expect(abs(provider.window1m.cost - expectedCost) < 1e-12)
            #expect(abs(provider.costToday - expectedCost) < 1e-12)
            #expect(snap.routes[0].window1m.requests == 1)
            #expect(provider.state == .healthy)
            // The model list names the route aliases.
            let models = try await client.request("GET", gate.url + "/v1/models")
            #expect(models.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["chat"])
        }
    }

    @Test func streamingChunksArriveAsTheyAreMadeNotBuffered() async throws {
        // 10 tokens at 20 tokens/s: half a second of streaming.
        let slowStream = TestFleet.provider("s", ["tokens_per_second": 20, "completion_tokens": 10])
        try await withFleet([slowStream], routes: ["chat": [[("s", 100)]]], prices: ["s": (1, 1)]) { sim, gate, client in
            let response = try await client.chat(gate.url, model: "chat", stream: true)
            #expect(response.status == 200)
            #expect(response.header("content-type") == "text/event-stream")
            #expect(response.text.hasSuffix("data: [DONE]\n\n"))
            // The usage chunk the gateway asked for on its own is not shown to a client that did not ask.
            #expect(!response.text.contains("\"usage\""))
            let first = try #require(response.chunkTimes.first)
            let last = try #require(response.chunkTimes.last)
            #expect(response.chunkTimes.count >= 5)
            #expect(last - first > 0.3, "chunks came together: \(response.chunkTimes)")
            let withUsage = try await client.chat(gate.url, model: "chat", stream: true, includeUsage: true)
            #expect(withUsage.text.contains("\"usage\""))
            try await Task.sleep(for: .milliseconds(50))
            let p = gate.gateway.state.snapshot(now: Gateway.monotonic()).providers[0]
            #expect(p.window1m.requests == 2)
            #expect(p.window1m.tokensOut == 20)  // counted from usage in both streams
            #expect(p.window1m.ttftP50 != nil)
        }
    }

    @Test func weightsAreRespectedWithinStatisticalBounds() async throws {
        try await withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 75), ("b", 25)]]]) { sim, gate, client in
            let n = 400
            var served: [String: Int] = [:]
            try await withThrowingTaskGroup(of: String?.self) { group in
                for i in 0..<n {
                    group.addTask { try await client.chat(gate.url, model: "chat").header("x-clawgate-provider") }
                    if i % 16 == 15 { for try await p in group { served[p ?? "none", default: 0] += 1 }; }
                }
                for try await p in group { served[p ?? "none", default: 0] += 1 }
            }
            // Expected 300 of 400 on a; binomial sd is 8.7, allow about 5 sd.
            #expect(served["a", default: 0] + served["b", default: 0] == n)
            #expect(abs(served["a", default: 0] - 300) <= 44, "\(served)")
            // The providers agree: the simulator counted the same requests.
            #expect(sim.provider("a")!.counters.requests == served["a"])
        }
    }

    @Test func anOutageMidRunGivesNoClientVisibleErrors() async throws {
        try await withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]]) { sim, gate, client in
            var failures = 0
            var servedByB = 0
            for i in 0..<150 {
                if i == 50 { _ = try await client.setBehaviour(sim, "a", ["outage": true]) }
                let response = try await client.chat(gate.url, model: "chat", stream: i % 3 == 0)
                if response.status != 200 { failures += 1 }
                if i >= 50, response.header("x-clawgate-provider") == "b" { servedByB += 1 }
            }
            #expect(failures == 0)
            #expect(servedByB == 100)
            #expect(sim.provider("a")!.counters.outcomes["outage", default: 0] > 0)
            // The breaker took a out of rotation.
            let a = gate.gateway.state.snapshot(now: Gateway.monotonic()).providers[0]
            #expect(a.breaker.ejections >= 1)
        }
    }

    @Test func breakerOpensAndRecovers() async throws {
        // The node's clock moves only when the test moves it: the cooldown passes without sleeping.
        let clock = ManualClock()
        try await withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 1000), ("b", 1)]]],
                            clock: clock) { sim, gate, client in
            _ = try await client.setBehaviour(sim, "a", ["error_rate": 1])
            for _ in 0..<6 { #expect(try await client.chat(gate.url, model: "chat").status == 200) }
            var a = gate.gateway.state.snapshot(now: clock.now).providers[0]
            #expect(a.state == .ejected)
            #expect(a.breaker.state == .open)
            #expect(a.breaker.openReason?.contains("3 consecutive failures") == true)
            let before = sim.provider("a")!.counters.requests
            for _ in 0..<5 { _ = try await client.chat(gate.url, model: "chat") }
            #expect(sim.provider("a")!.counters.requests == before, "an open circuit must get no requests")
            _ = try await client.setBehaviour(sim, "a", ["error_rate": 0])
            clock.advance(by: 0.4)  // the cooldown is 0.5 s: still open
            for _ in 0..<3 { _ = try await client.chat(gate.url, model: "chat") }
            #expect(sim.provider("a")!.counters.requests == before, "still cooling down")
            clock.advance(by: 0.2)
            for _ in 0..<3 { _ = try await client.chat(gate.url, model: "chat") }
            a = gate.gateway.state.snapshot(now: clock.now).providers[0]
            #expect(a.breaker.state == .closed)
            // Back in rotation; still "degraded" while the minute's error rate shows the failures.
            #expect(a.state == .degraded)
            let kinds = gate.gateway.state.events(since: 0).events.map(\.kind.rawValue)
            #expect(kinds.contains("circuit_opened") && kinds.contains("circuit_probing") && kinds.contains("circuit_closed"))
        }
    }

    @Test func wholeFirstTierDownFailsOverToTheNextTier() async throws {
        let providers = [TestFleet.provider("p1", ["outage": true]), TestFleet.provider("p2", ["reset_rate": 1]), TestFleet.provider("backup")]
        try await withFleet(providers, routes: ["chat": [[("p1", 50), ("p2", 50)], [("backup", 100)]]]) { sim, gate, client in
            for i in 0..<20 {
                let response = try await client.chat(gate.url, model: "chat", stream: i % 2 == 0)
                #expect(response.status == 200)
                #expect(response.header("x-clawgate-provider") == "backup")
            }
            // Once both are ejected, requests go straight to the backup tier.
            let last = try await client.chat(gate.url, model: "chat")
            #expect(last.header("x-clawgate-attempts") == "1")
        }
    }

    @Test func aRetriedRequestNamesEveryAttempt() async throws {
        let providers = [TestFleet.provider("bad", ["error_rate": 1]), TestFleet.provider("good")]
        try await withFleet(providers, routes: ["chat": [[("bad", 1000), ("good", 1)]]]) { sim, gate, client in
            let response = try await client.chat(gate.url, model: "chat")
            #expect(response.status == 200)
            #expect(response.header("x-clawgate-provider") == "good")
            #expect(response.header("x-clawgate-attempts") == "2")
            let failed = try #require(response.header("x-clawgate-failed-attempts"))
            #expect(failed == "bad=status_500" || failed == "bad=status_503")
        }
    }

    @Test func hangsTimeOutAndResetsAndMalformedBodiesAreRetried() async throws {
        let providers = [
            TestFleet.provider("hang", ["hang_rate": 1]), TestFleet.provider("garbage", ["malformed_rate": 1]),
            TestFleet.provider("reset", ["reset_rate": 1]), TestFleet.provider("good"),
        ]
        let routes = ["hang": [[("hang", 1000), ("good", 1)]], "garbage": [[("garbage", 1000), ("good", 1)]], "reset": [[("reset", 1000), ("good", 1)]]]
        try await withFleet(providers, routes: routes, firstByteTimeout: 0.3) { sim, gate, client in
            for (route, outcome) in [("hang", "timeout"), ("garbage", "bad_response"), ("reset", "reset")] {
                for stream in [false, true] {
                    let response = try await client.chat(gate.url, model: route, stream: stream)
                    #expect(response.status == 200, "\(route) stream=\(stream): \(response.text)")
                    #expect(response.header("x-clawgate-failed-attempts") == "\(route)=\(outcome)", "\(route) stream=\(stream)")
                }
            }
        }
    }

    @Test func whenEveryCandidateFailsTheErrorListsTheAttempts() async throws {
        let providers = [TestFleet.provider("x", ["malformed_rate": 1]), TestFleet.provider("y", ["error_rate": 1])]
        try await withFleet(providers, routes: ["chat": [[("x", 50)], [("y", 50)]]]) { sim, gate, client in
            let response = try await client.chat(gate.url, model: "chat")
            #expect(response.status == 502)
            let error = try #require(response.json?["error"])
            #expect(error["code"]?.stringValue == "all_providers_failed")
            let attempts = try #require(error["attempts"]?.arrayValue)
            #expect(attempts.compactMap { $0["provider"]?.stringValue } == ["x", "y"])
            #expect(attempts.first?["outcome"]?.stringValue == "bad_response")
            // Rate limits everywhere come back as 429 with Retry-After.
            _ = try await client.setBehaviour(sim, "x", ["malformed_rate": 0, "rate_limit_rate": 1, "retry_after_seconds": 7])
            _ = try await client.setBehaviour(sim, "y", ["error_rate": 0, "rate_limit_rate": 1, "retry_after_seconds": 7])
            let limited = try await client.chat(gate.url, model: "chat")
            #expect(limited.status == 429)
            #expect(limited.header("retry-after") == "7")
        }
    }

    @Test func panicModeRoutesToTheLeastBadWhenEverythingIsEjected() async throws {
        let providers = [TestFleet.provider("a", ["error_rate": 1]), TestFleet.provider("b", ["error_rate": 1])]
        try await withFleet(providers, routes: ["chat": [[("a", 50), ("b", 50)]]]) { sim, gate, client in
            for _ in 0..<4 { _ = try await client.chat(gate.url, model: "chat") }
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.providers.allSatisfy { $0.state == .ejected })
            // Both fixed; traffic goes on at once through panic routing rather than failing closed.
            _ = try await client.setBehaviour(sim, "a", ["error_rate": 0])
            _ = try await client.setBehaviour(sim, "b", ["error_rate": 0])
            let response = try await client.chat(gate.url, model: "chat")
            #expect(response.status == 200)
            let kinds = gate.gateway.state.events(since: 0).events.map(\.kind.rawValue)
            #expect(kinds.contains("panic_started"))
        }
    }

    @Test func retryBudgetStopsARetryStorm() async throws {
        let providers = [TestFleet.provider("a", ["error_rate": 1]), TestFleet.provider("b", ["error_rate": 1]), TestFleet.provider("c", ["error_rate": 1])]
        let retry = GatewayConfig.Retry(maxAttempts: 3, budgetRatio: 0.1, minRetriesPerSecond: 0.1, window: 10)
        try await withFleet(providers, routes: ["chat": [[("a", 1), ("b", 1), ("c", 1)]]], retry: retry) { sim, gate, client in
            for _ in 0..<20 { _ = try await client.chat(gate.url, model: "chat") }
            let upstream = sim.providers.reduce(0) { $0 + $1.counters.requests }
            // 20 first attempts plus at most max(1, 0.1 * 20) = 2 retries.
            #expect(upstream <= 22, "upstream requests: \(upstream)")
            let last = try await client.chat(gate.url, model: "chat")
            #expect(last.json?["error"]?["retry_budget_exhausted"]?.boolValue == true)
        }
    }

    @Test func activeHealthChecksTakeADeadProviderOutAndBringItBack() async throws {
        // The checker's loop is off; the test runs each round of probes itself, so nothing waits on time.
        var health = GatewayConfig.HealthCheck()
        health.enabled = false
        health.timeout = 0.5
        health.unhealthyThreshold = 2
        try await withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]], healthCheck: health) { sim, gate, client in
            func state() -> ProviderState { gate.gateway.state.snapshot(now: gate.gateway.clock()).providers[0].state }
            _ = try await client.setBehaviour(sim, "a", ["outage": true])
            await gate.gateway.probeProviders()
            #expect(state() == .degraded, "one failed probe of two: not yet out")
            await gate.gateway.probeProviders()
            #expect(state() == .ejected)
            #expect(gate.gateway.state.snapshot(now: gate.gateway.clock()).providers[0].health.lastError == "status_503")
            for _ in 0..<10 { #expect(try await client.chat(gate.url, model: "chat").header("x-clawgate-provider") == "b") }
            _ = try await client.setBehaviour(sim, "a", ["outage": false])
            await gate.gateway.probeProviders()
            #expect(state() == .healthy)
            let kinds = gate.gateway.state.events(since: 0).events.map(\.kind.rawValue)
            #expect(kinds.contains("health_failed") && kinds.contains("health_recovered"))
        }
    }

    @Test func badRequestsGetClearErrorsAndTheNodeKeepsServing() async throws {
        try await withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]]) { sim, gate, client in
            let cases: [(String, Int, String)] = [
                ("{not json", 400, "invalid_json"),
                ("[1,2]", 400, "invalid_json"),
                (#"{"messages": [{"role": "user", "content": "x"}]}"#, 400, "missing_model"),
                (#"{"model": "chat"}"#, 400, "invalid_messages"),
                (#"{"model": "nope", "messages": [{"role": "user", "content": "x"}]}"#, 404, "model_not_found"),
            ]
            for (body, status, code) in cases {
                let response = try await client.request("POST", gate.url + "/v1/chat/completions", body: Data(body.utf8))
                #expect(response.status == status, "\(body)")
                #expect(response.json?["error"]?["code"]?.stringValue == code, "\(body): \(response.text)")
            }
            #expect(try await client.chat(gate.url, model: "chat").status == 200)
            #expect(try await client.request("GET", gate.url + "/healthz").status == 200)
            #expect(try await client.request("GET", gate.url + "/readyz").status == 200)
            let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
            for name in ["clawgate_requests_total", "clawgate_request_duration_seconds_bucket", "clawgate_upstream_attempt_duration_seconds_bucket", "clawgate_tokens_total",
                         "clawgate_cost_dollars_total", "clawgate_requests_in_flight", "clawgate_circuit_state", "clawgate_route_weight"] {
                #expect(metrics.contains(name), "missing \(name)")
            }
        }
    }
}
