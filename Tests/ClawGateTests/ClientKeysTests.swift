import ClawAdminAPI
import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Client keys: with `clients:` only known callers spend the providers, each within its limits;
/// refusals never reach (or count against) a provider.
@Suite struct ClientKeysTests {
    func chat(_ client: TestClient, _ gate: GatewayServer, key: String?, model: String = "chat") async throws -> TestResponse {
        var headers: [String: String] = [:]
        if let key { headers["authorization"] = "Bearer \(key)" }
        return try await client.request("POST", gate.url + "/v1/chat/completions",
                                        body: Data(#"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"#.utf8), headers: headers)
    }

    @Test func onlyAValidKeyCallsAndEachRefusalSaysWhy() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]], "other": [[("a", 100)]]], prices: ["a": (1000, 1000)], configure: {
            $0.clients = [
                .init(name: "alice", keyEnv: "CLAW_TEST_ALICE_KEY", routes: ["chat"], limits: .init(rpm: 3)),
                .init(name: "bob", keyEnv: "CLAW_TEST_BOB_KEY", limits: .init(spendPerDay: 0.000001)),
            ]
        }) { sim, gate, client throws in
            for key in [nil, "sk-wrong-0123456789abcdef", TestFleet.aliceKey + "x"] {
                let r = try await chat(client, gate, key: key)
                #expect(r.status == 401 && r.json?["error"]?["code"]?.stringValue == "invalid_api_key", "\(r.text)")
            }
            #expect(sim.provider("a")?.counters.requests == 0, "a refused request never reaches a provider")
            // The route list is the callers' business too.
            #expect(try await client.request("GET", gate.url + "/v1/models").status == 401)
            let models = try await client.request("GET", gate.url + "/v1/models", headers: ["authorization": "Bearer \(TestFleet.aliceKey)"])
            #expect(models.status == 200 && models.json?["data"]?.arrayValue?.count == 2)
            let denied = try await chat(client, gate, key: TestFleet.aliceKey, model: "other")
            #expect(denied.status == 403 && denied.json?["error"]?["code"]?.stringValue == "model_not_allowed")
            for _ in 0..<3 { #expect(try await chat(client, gate, key: TestFleet.aliceKey).status == 200) }
            let limited = try await chat(client, gate, key: TestFleet.aliceKey)
            #expect(limited.status == 429 && limited.json?["error"]?["code"]?.stringValue == "client_rpm", "\(limited.text)")
            #expect(Int(limited.header("retry-after") ?? "") .map { (1...60).contains($0) } == true)
            // bob spends more than his day's budget in one request; the next is refused until midnight.
            #expect(try await chat(client, gate, key: TestFleet.bobKey).status == 200)
            let broke = try await chat(client, gate, key: TestFleet.bobKey)
            #expect(broke.status == 429 && broke.json?["error"]?["code"]?.stringValue == "client_spend_per_day" && (Int(broke.header("retry-after") ?? "") ?? 0) > 0)
            // Four requests reached the provider; none of the refusals counts against it.
            #expect(sim.provider("a")?.counters.requests == 4)
            let provider = gate.gateway.snapshot().providers[0]
            #expect(provider.state == .healthy && provider.circuit.consecutiveFailures == 0)
            // The snapshot says who called and what they spent; never a key.
            let snapshot = gate.gateway.snapshot()
            #expect(snapshot.clientAuth == "on")
            let alice = try #require(snapshot.clients?.first { $0.name == "alice" })
            #expect(alice.requests1m == 3 && alice.served == 3 && alice.refused == 2 && alice.inFlight == 0 && alice.limits.rpm == 3, "\(alice)")
            #expect(alice.routes == ["chat"] && alice.tokens1m > 0)
            let bob = try #require(snapshot.clients?.first { $0.name == "bob" })
            #expect(bob.spendTodayDollars > 0.000001 && bob.refused == 1 && abs(bob.spendPerHourDollars - bob.spendTodayDollars * 60) < 1e-6)
            let raw = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: ["authorization": "Bearer \(TestFleet.operatorToken)"]).text
            #expect(!raw.contains(TestFleet.aliceKey) && !raw.contains(TestFleet.bobKey))
            // /metrics: a client label from the configured names only (none for an unknown key).
            let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
            #expect(metrics.contains(#"clawgate_client_requests_total{client="alice",outcome="ok"} 3"#), "\(metrics)")
            #expect(metrics.contains(#"clawgate_client_requests_total{client="alice",outcome="rpm"} 1"#))
            #expect(metrics.contains(#"clawgate_client_requests_total{client="alice",outcome="route"} 1"#))
            #expect(metrics.contains(#"clawgate_client_requests_total{client="none",outcome="unauthorized"} 3"#))
            #expect(metrics.contains(#"clawgate_client_spend_dollars_total{client="bob"}"#) && metrics.contains(#"clawgate_client_requests_in_flight{client="alice"} 0"#))
            #expect(!metrics.contains(TestFleet.aliceKey) && !metrics.contains("sk-wrong"))
        }
    }

    @Test func withoutClientsTheGatewayStaysOpen() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]]) { sim, gate, client throws in
            #expect(try await chat(client, gate, key: nil).status == 200)
            #expect(try await chat(client, gate, key: "anything at all here").status == 200)
            #expect(gate.gateway.snapshot().clientAuth == "off" && gate.gateway.snapshot().clients == [])
        }
    }

    @Test func concurrencyIsAClientLimitToo() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a", ["latency_ms": 300, "latency_p99_ms": 310])], routes: ["chat": [[("a", 100)]]], configure: {
            $0.clients = [.init(name: "alice", keyEnv: "CLAW_TEST_ALICE_KEY", limits: .init(concurrency: 1))]
        }) { sim, gate, client throws in
            async let first = chat(client, gate, key: TestFleet.aliceKey)
            try await Task.sleep(for: .milliseconds(100))
            let second = try await chat(client, gate, key: TestFleet.aliceKey)
            #expect(second.status == 429 && second.json?["error"]?["code"]?.stringValue == "client_concurrency")
            let firstResult = try await first
            #expect(firstResult.status == 200)
            #expect(try await chat(client, gate, key: TestFleet.aliceKey).status == 200, "the slot is free again")
        }
    }

    @Test func operatorsBlockUnblockAndChangeLimitsAtRuntimeAudited() async throws {
        let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]], configure: {
            $0.clients = [.init(name: "alice", keyEnv: "CLAW_TEST_ALICE_KEY")]
        }) { sim, gate, client throws in
            #expect(try await chat(client, gate, key: TestFleet.aliceKey).status == 200)
            let blocked = try await client.request("POST", gate.adminURL + "/admin/v1/clients/alice/block", body: Data(#"{"reason":"runaway retry loop"}"#.utf8), headers: op)
            #expect(blocked.status == 200, "\(blocked.text)")
            let refused = try await chat(client, gate, key: TestFleet.aliceKey)
            #expect(refused.status == 403 && refused.json?["error"]?["code"]?.stringValue == "client_blocked")
            #expect(gate.gateway.snapshot().clients?.first?.blocked == true)
            #expect(try await client.request("POST", gate.adminURL + "/admin/v1/clients/alice/unblock", headers: op).status == 200)
            #expect(try await chat(client, gate, key: TestFleet.aliceKey).status == 200)
            // Limits at runtime: rpm 2 now (two requests already in this minute).
            let limits = try await client.request("PUT", gate.adminURL + "/admin/v1/clients/alice/limits", body: Data(#"{"limits":{"rpm":2}}"#.utf8), headers: op)
            #expect(limits.status == 200 && limits.json?["state"]?["client_limits"]?["alice"]?["rpm"]?.intValue == 2, "\(limits.text)")
            #expect(try await chat(client, gate, key: TestFleet.aliceKey).json?["error"]?["code"]?.stringValue == "client_rpm")
            #expect(gate.gateway.snapshot().clients?.first?.limits.rpm == 2)
            // Wrong names and limits are refused, naming what is wrong; nothing changes.
            #expect(try await client.request("POST", gate.adminURL + "/admin/v1/clients/mallory/block", headers: op).status == 404)
            let bad = try await client.request("PUT", gate.adminURL + "/admin/v1/clients/alice/limits", body: Data(#"{"limits":{"rpm":0}}"#.utf8), headers: op)
            #expect(bad.status == 400 && bad.json?["error"]?["field"]?.stringValue == "limits.rpm")
            let audit = try await client.request("GET", gate.adminURL + "/admin/v1/audit", headers: op)
            let actions = audit.json?["entries"]?.arrayValue?.map { $0["action"]?.stringValue ?? "" } ?? []
            #expect(actions == ["client.block", "client.unblock", "client.limits"], "\(actions)")
            #expect(audit.json?["entries"]?.arrayValue?.first?["reason"]?.stringValue == "runaway retry loop")
            #expect(!audit.text.contains(TestFleet.aliceKey))
        }
    }

    @Test func tokensPerMinuteIsALimitToo() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a", ["completion_tokens": 50])], routes: ["chat": [[("a", 100)]]], configure: {
            $0.clients = [.init(name: "alice", keyEnv: "CLAW_TEST_ALICE_KEY", limits: .init(tpm: 60))]
        }) { sim, gate, client throws in
            #expect(try await chat(client, gate, key: TestFleet.aliceKey).status == 200)  // 50+ tokens
            #expect(try await chat(client, gate, key: TestFleet.aliceKey).status == 200)  // over 60 now
            let limited = try await chat(client, gate, key: TestFleet.aliceKey)
            #expect(limited.status == 429 && limited.json?["error"]?["code"]?.stringValue == "client_tpm" && Int(limited.header("retry-after") ?? "") != nil,
                    "\(limited.text)")
            #expect(gate.gateway.snapshot().providers[0].state == .healthy)
        }
    }
}
