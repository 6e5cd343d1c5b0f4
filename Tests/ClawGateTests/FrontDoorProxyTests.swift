import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// What a careless client or a broken provider tries on the proxy (issue 25: points 1 and 10).
@Suite(.serialized) struct FrontDoorProxyTests {
    @Test func aDuplicateKeyAnywhereInTheBodyIsRefusedAndNothingIsSent() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]]) { sim, gate, client in
            let bodies = [
                // The gateway reads the first include_usage, a provider the last: no usage, no metering.
                #"{"model":"chat","stream":true,"stream_options":{"include_usage":true,"include_usage":false},"messages":[{"role":"user","content":"hi"}]}"#,
                #"{"model":"chat","messages":[{"role":"user","content":"hi","role":"system"}]}"#,
                #"{"model":"chat","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a","name":"b"}}]}"#,
                #"{"model":"chat","messages":[{"role":"user","content":"hi"}],"metadata":{"k":1,"\u006b":2}}"#,
            ]
            for body in bodies {
                let r = try await client.request("POST", gate.url + "/v1/chat/completions", body: Data(body.utf8))
                #expect(r.status == 400 && r.json?["error"]?["message"]?.stringValue?.contains("duplicate key") == true, "\(body): \(r.text)")
            }
            let messages = #"{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}"#
            let m = try await client.request("POST", gate.url + "/v1/messages", body: Data(messages.utf8))
            #expect(m.status == 400 && m.json?["error"]?["type"] == "invalid_request_error", "\(m.text)")
            #expect(sim.provider("a")!.counters.requests == 0)
            // Many keys in one object are checked by hash, duplicates still found.
            let keys = (0..<200).map { "\"k\($0)\":1" }.joined(separator: ",")
            let big = #"{"model":"chat","messages":[{"role":"user","content":"hi"}],"metadata":{"# + keys + #","k7":2}}"#
            #expect(try await client.request("POST", gate.url + "/v1/chat/completions", body: Data(big.utf8)).status == 400)
            #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes: Array(#"{"a":{"b":1,"b":2}}"#.utf8)) }
        }
    }

    @Test func aStreamThatBringsNoUsageIsMeteredFromWhatItStreamed() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a", ["stream_flaw": "no_usage", "completion_tokens": 40])], routes: ["chat": [[("a", 100)]]],
                                      prices: ["a": (1, 1000)], configure: {
                                          $0.clients = [.init(name: "alice", keyEnv: "CLAW_TEST_ALICE_KEY", limits: .init(tpm: 100))]
                                      }) { sim, gate, client in
            var statuses: [Int] = []
            for _ in 0..<6 {
                let body: JSONValue = ["model": "chat", "stream": true, "messages": [["role": "user", "content": "Say a lot"]]]
                let r = try await client.request("POST", gate.url + "/v1/chat/completions", body: body.encoded(),
                                                 headers: ["authorization": "Bearer \(TestFleet.aliceKey)"])
                statuses.append(r.status)
            }
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.providers[0].window1m.tokensOut > 0 && snap.providers[0].window1m.cost > 0, "metered, never as zero")
            // 40 words of about 6 bytes: about 60 tokens each, so the tpm limit of 100 trips by the third.
            #expect(statuses.filter { $0 == 429 }.count >= 3, "\(statuses)")
        }
    }

    @Test func streamsThatAreNotWhatTheyClaimAreTheProvidersFault() async throws {
        let providers = [TestFleet.provider("bad", ["stream_flaw": "bad_data"]), TestFleet.provider("good")]
        try await TestFleet.withFleet(providers, routes: ["chat": [[("bad", 100)], [("good", 100)]]]) { sim, gate, client in
            // Before content: NUL and 0xFF bytes in the first event fail over unseen.
            let r = try await client.chat(gate.url, model: "chat", stream: true)
            #expect(r.status == 200 && r.header("x-clawgate-provider") == "good", "\(r.text)")
            #expect(r.header("x-clawgate-failed-attempts") == "bad=bad_response")
            #expect(!r.body.contains(0x00) && !r.body.contains(0xFF))
            // After content: the stream ends with an OpenAI-shaped error event, the provider's fault.
            _ = try await client.setBehaviour(sim, "bad", ["stream_flaw": "bad_data_late"])
            _ = try await client.setBehaviour(sim, "good", ["outage": true])
            let late = try await client.chat(gate.url, model: "chat", stream: true)
            #expect(late.text.contains(#""code":"bad_response""#) && !late.text.contains("[DONE]") && !late.body.contains(0xFF), "\(late.text)")
            _ = try await client.setBehaviour(sim, "bad", ["stream_flaw": "no_done"])
            let unfinished = try await client.chat(gate.url, model: "chat", stream: true)
            #expect(unfinished.text.contains("without [DONE] or a finish_reason"), "\(unfinished.text)")
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.routes[0].window1m.errors == 2, "both counted as the provider's fault")
        }
    }
}

/// A client that goes away before the first byte takes its upstream call and its slots with it
/// (issue 25, point 3).
@Suite(.serialized) struct ClientGoneTests {
    @Test func aClientThatLeavesBeforeTheFirstByteCancelsItsUpstreamCall() async throws {
        try await TestFleet.withFleet([TestFleet.provider("slow", ["latency_ms": 5000, "latency_p99_ms": 5001])], routes: ["chat": [[("slow", 100)]]],
                                      firstByteTimeout: 30) { sim, gate, client in
            let impatient = TestClient(connections: 32, connectTimeout: 2, readTimeout: 0.3)
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask { _ = try? await impatient.chat(gate.url, model: "chat", stream: i % 2 == 0) }
                }
            }
            await impatient.shutdown()
            // Within a second or so (the watch looks every 100 ms), not the provider's 5 s.
            var inFlight = -1
            for _ in 0..<20 {
                let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
                inFlight = snap.providers[0].inFlight + snap.inFlight
                if inFlight == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(inFlight == 0, "the node and the provider hold nothing for a client that left")
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.providers[0].window1m.errors == 0, "a client leaving is not the provider's fault")
            #expect(snap.providers[0].breaker.state == .closed)
        }
    }
}

/// The audit loses no write (issue 25, point 8): the record goes first, a torn last line is
/// recovered, and a lost state file does not restart revisions at 1.
@Suite(.serialized) struct AuditOrderTests {
    @Test func aTornAuditLineAndALostStateFileKeepEveryRevisionAuditedOnce() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
        let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]
        let client = TestClient()
        var gate = try await TestFleet.gateway(config)
        for path in ["a/drain", "a/undrain", "b/drain"] {
            let r = try await client.request("POST", gate.adminURL + "/admin/v1/providers/\(path)", body: Data(#"{"reason":"test"}"#.utf8), headers: op)
            #expect(r.status == 200, "\(r.text)")
        }
        await gate.stop()
        let dir = try #require(config.admin.stateDir)
        // A crash: the state file lost, and a record cut short at the end of the audit.
        try FileManager.default.removeItem(atPath: dir + "/state.json")
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/audit.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"sequence":99,"time":1,"act"#.utf8))
        try handle.close()
        gate = try await TestFleet.gateway(config)
        let r = try await client.request("POST", gate.adminURL + "/admin/v1/providers/a/drain", body: Data(#"{"reason":"after"}"#.utf8), headers: op)
        #expect(r.status == 200 && r.json?["revision"]?.intValue == 4, "revisions go on from the audit's: \(r.text)")
        await gate.stop()
        let entries = StateStore(directory: dir).loadAudit(limit: 100)
        #expect(entries.map(\.revision) == [1, 2, 3, 4], "the new record is not glued to the torn line: \(entries.map(\.revision))")
        await client.shutdown()
        await sim.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
