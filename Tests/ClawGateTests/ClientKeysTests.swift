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
        }
    }

    @Test func withoutClientsTheGatewayStaysOpen() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]]) { sim, gate, client throws in
            #expect(try await chat(client, gate, key: nil).status == 200)
            #expect(try await chat(client, gate, key: "anything at all here").status == 200)
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
}
