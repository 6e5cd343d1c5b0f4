import ClawAdminAPI
import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// The routing strategies with real simulated providers and a real node.
@Suite(.serialized) struct RoutingLiveTests {
    let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]

    func served(_ client: TestClient, _ gate: GatewayServer, _ n: Int) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<n {
            let r = try await client.chat(gate.url, model: "chat")
            #expect(r.status == 200)
            counts[r.header("x-clawgate-provider") ?? "none", default: 0] += 1
        }
        return counts
    }

    @Test func latencySendsMostToTheFastProviderAndShiftsWhenItSlows() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("fast", ["latency_ms": 20, "latency_p99_ms": 22]),
                                                 TestFleet.provider("slow", ["latency_ms": 200, "latency_p99_ms": 210])])
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("fast", 50), ("slow", 50)]]])
        config.routes[0].strategy = .latency
        let gate = try await TestFleet.gateway(config)
        let client = TestClient()
        let first = try await served(client, gate, 40)
        #expect(first["fast", default: 0] >= 32, "at least 80 % to the fast one: \(first)")
        // The fast one slows down to 900 ms: within a few requests the other takes over.
        _ = try sim.provider("fast")!.update(["latency_ms": 900, "latency_p99_ms": 910])
        _ = try await served(client, gate, 3)
        let after = try await served(client, gate, 20)
        #expect(after["slow", default: 0] >= 16, "the traffic moved: \(after)")
        // The snapshot explains: the strategy, its inputs and the last decision.
        let snapshot = gate.gateway.snapshot()
        #expect(snapshot.routes[0].strategy == "latency")
        let fast = try #require(snapshot.providers.first { $0.id == "fast" }?.routing)
        #expect(fast.perToken.samples > 0 && (fast.perToken.seconds ?? 0) > 0 && fast.won + fast.lost > 0, "\(fast)")
        let decision = try #require(snapshot.routes[0].decision)
        #expect(decision.winner == "slow" && decision.candidates.count == 2 && decision.reason.contains("latency"), "\(decision)")
        // And /metrics: the strategy, the moving averages and the scores as gauges.
        let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
        #expect(metrics.contains(#"clawgate_route_strategy{route="chat",strategy="latency"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"clawgate_route_strategy{route="chat",strategy="weighted"} 0"#))
        #expect(metrics.contains(#"clawgate_routing_latency_seconds{provider="slow",kind="per_token"}"#))
        #expect(metrics.contains(#"clawgate_routing_score{route="chat",provider="fast"}"#))
        #expect(metrics.contains(#"clawgate_routing_slow_start_factor{provider="fast"} 1"#))
        await client.shutdown()
        await gate.stop()
        await sim.stop()
    }

    @Test func costPrefersTheCheapProviderUntilItIsSlow() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("cheap", ["latency_ms": 5, "latency_p99_ms": 6]),
                                                 TestFleet.provider("dear", ["latency_ms": 5, "latency_p99_ms": 6]),
                                                 TestFleet.provider("free", ["latency_ms": 1, "latency_p99_ms": 2])])
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("cheap", 50), ("dear", 50), ("free", 50)]]],
                                      prices: ["cheap": (0.1, 0.2), "dear": (10, 30)])
        let gate = try await TestFleet.gateway(config)
        let client = TestClient()
        // Weighted first, so that every provider has been measured; then cost, set at runtime.
        _ = try await served(client, gate, 15)
        let set = try await client.request("PUT", gate.adminURL + "/admin/v1/routes/chat/strategy", body: Data(#"{"strategy":"cost"}"#.utf8), headers: op)
        #expect(set.status == 200)
        let first = try await served(client, gate, 30)
        #expect(first["cheap", default: 0] >= 28 && first["free", default: 0] == 0, "the unpriced one is never assumed cheap: \(first)")
        _ = try sim.provider("cheap")!.update(["latency_ms": 200, "latency_p99_ms": 210])
        _ = try await served(client, gate, 3)
        let after = try await served(client, gate, 20)
        #expect(after["dear", default: 0] >= 16, "the cheap one is too slow now: \(after)")
        await client.shutdown()
        await gate.stop()
        await sim.stop()
    }

    @Test func anOperatorChangesTheStrategyAtRuntimeAndItIsAudited() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]]) { sim, gate, client in
            let path = gate.adminURL + "/admin/v1/routes/chat/strategy"
            let bad = try await client.request("PUT", path, body: Data(#"{"strategy":"fastest"}"#.utf8), headers: op)
            #expect(bad.status == 400 && bad.json?["error"]?["field"]?.stringValue == "strategy", "\(bad.text)")
            let unknown = try await client.request("PUT", gate.adminURL + "/admin/v1/routes/nope/strategy", body: Data(#"{"strategy":"cost"}"#.utf8), headers: op)
            #expect(unknown.status == 404)
            #expect(gate.gateway.state.operatorState.revision == 0, "refusals change nothing")
            let ok = try await client.request("PUT", path, body: AdminAPI.encode(StrategyBody(strategy: "least_outstanding", reason: "herding")), headers: op)
            #expect(ok.status == 200 && ok.json?["state"]?["strategies"] == ["chat": "least_outstanding"], "\(ok.text)")
            #expect(gate.gateway.snapshot().routes[0].strategy == "least_outstanding")
            let audit = try await client.request("GET", gate.adminURL + "/admin/v1/audit", headers: op)
            let entry = audit.json?["entries"]?.arrayValue?.last
            #expect(entry?["action"]?.stringValue == "route.strategy" && entry?["after"]?["strategy"]?.stringValue == "least_outstanding")
            // Back to the configured one: the override goes.
            let back = try await client.request("PUT", path, body: Data(#"{"strategy":"weighted"}"#.utf8), headers: op)
            #expect(back.json?["state"]?["strategies"] == [:])
        }
    }

    @Test func aClientThatAsksGetsTheDecisionWithEveryCandidate() async throws {
        let providers = [TestFleet.provider("a", ["latency_ms": 2, "latency_p99_ms": 3]), TestFleet.provider("b", ["latency_ms": 30, "latency_p99_ms": 31])]
        try await TestFleet.withFleet(providers, routes: ["chat": [[("a", 50), ("b", 50)]]], configure: { $0.routes[0].strategy = .leastOutstanding }) { sim, gate, client in
            let body = Data(#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#.utf8)
            let plain = try await client.request("POST", gate.url + "/v1/chat/completions", body: body)
            #expect(plain.status == 200 && plain.header("x-clawgate-decision") == nil, "only when asked")
            // Prices, weights and in-flight counts answer an operator only: any value, a viewer token, nothing.
            for value in ["1", "Bearer \(TestFleet.viewerToken)"] {
                let refused = try await client.request("POST", gate.url + "/v1/chat/completions", body: body, headers: ["x-clawgate-decision": value])
                #expect(refused.status == 200 && refused.header("x-clawgate-decision") == nil, "\(value)")
            }
            let asked = try await client.request("POST", gate.url + "/v1/chat/completions", body: body, headers: ["x-clawgate-decision": "Bearer \(TestFleet.operatorToken)"])
            let header = try #require(asked.header("x-clawgate-decision"))
            let decision = try AdminAPI.decode(Decision.self, from: Array(header.utf8))
            #expect(decision.strategy == "least_outstanding" && decision.winner == asked.header("x-clawgate-provider"))
            #expect(Set(decision.candidates.map(\.provider)) == ["a", "b"] && decision.candidates.allSatisfy { $0.compared && $0.score != nil })
            #expect(decision.reason.contains("fewer requests in flight"), "\(decision.reason)")
            // A stream says the same in its head.
            let stream = try await client.request("POST", gate.url + "/v1/chat/completions",
                                                  body: Data(#"{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}"#.utf8),
                                                  headers: ["x-clawgate-decision": TestFleet.operatorToken])
            #expect(stream.header("x-clawgate-decision")?.contains("\"strategy\":\"least_outstanding\"") == true)
        }
    }
}
