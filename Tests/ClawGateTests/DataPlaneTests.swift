@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import NIOCore
import AsyncHTTPClient
import NIOPosix
import Testing

/// The data plane under real traffic: what reaches the provider, whose fault an answer is, and
/// what happens at the node's limits. Real clawsim and clawgate on loopback.
@Suite(.serialized) struct DataPlaneTests {
    func withFleet(
        _ providers: [SimConfig.Provider],
        routes: [String: [[(String, Int)]]],
        limits: GatewayConfig.Limits = .init(),
        connections: Int = 64,
        _ body: (Simulator, GatewayServer, TestClient) async throws -> Void
    ) async throws {
        try await TestFleet.withFleet(providers, routes: routes, connections: connections, configure: { $0.limits = limits }, body)
    }

    // MARK: Body fidelity

    /// Client bodies with `MODEL` where the route alias goes; the provider must get the same bytes
    /// with `MODEL` naming its own model.
    static let corpus: [String] = {
        var deep = "0"
        for _ in 0..<200 { deep = "[" + deep + "]" }
        let big = String(repeating: "Lorem ipsum dolor sit amet, 🦀 ünïcödé \\\"quoted\\\" \\n line. ", count: 16_000)  // about 1 MB
        return [
            #"{"model":MODEL,"messages":[{"role":"user","content":"hi"}],"seed":9007199254740993,"max_tokens":12345678901234567}"#,
            #"{"messages":[{"role":"user","content":"floats"}],"temperature":0.7,"top_p":1.0,"x":1e5,"y":-0.0,"z":1E+2,"w":0.1e-3,"v":-12.50,"model":MODEL}"#,
            """
            {
              "messages" : [ { "role" : "user", "content" : "pretty, with \\u00e9 and \\/ and \\ud83e\\udd80 and raw 🦀" } ],
              "unknown_field" : { "nested" : [ true, false, null, { } , [ ] ] },
              "model" : MODEL ,
              "deep": \(deep)
            }
            """,
            #"{"model":MODEL,"messages":[{"role":"user","content":"\#(big)"}],"metadata":{"b":2,"a":1}}"#,
        ]
    }()

    /// Where two byte strings first differ, with a little context, or nil when they are equal.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String? {
        guard a != b else { return nil }
        let at = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
        func around(_ x: [UInt8]) -> String { String(decoding: x[max(0, at - 20)..<min(x.count, at + 20)], as: UTF8.self) }
        return "byte \(at): got '\(around(a))', expected '\(around(b))'"
    }

    static func fill(_ template: String, _ model: String) -> Data {
        Data(template.replacingOccurrences(of: "MODEL", with: "\"\(model)\"").utf8)
    }

    @Test func theProviderReceivesTheClientsBytesWithOnlyTheModelChanged() async throws {
        try await withFleet([TestFleet.provider("p")], routes: ["chat": [[("p", 100)]]]) { sim, gate, client in
            for (index, template) in Self.corpus.enumerated() {
                let response = try await client.request("POST", gate.url + "/v1/chat/completions", body: Self.fill(template, "chat"))
                #expect(response.status == 200, "corpus \(index): \(response.text.prefix(300))")
                let received = try #require(sim.provider("p")?.lastBody())
                let expected = Array(Self.fill(template, "sim-model"))
                #expect(Self.firstDifference(received, expected) == nil, "corpus \(index): \(received.count) bytes received, \(expected.count) expected")
            }
        }
    }

    @Test func aStreamAsksForUsageAndChangesNothingElse() async throws {
        let cases: [(sent: String, forwarded: String, usageShown: Bool)] = [
            (#"{"model":MODEL,"stream":true,"messages":[{"role":"user","content":"a"}],"n":12345678901234567}"#,
             #"{"model":MODEL,"stream":true,"messages":[{"role":"user","content":"a"}],"n":12345678901234567,"stream_options":{"include_usage":true}}"#, false),
            (#"{"model":MODEL,"stream":true,"stream_options":{"include_usage":false,"x":1.50},"messages":[{"role":"user","content":"b"}]}"#,
             #"{"model":MODEL,"stream":true,"stream_options":{"include_usage":true,"x":1.50},"messages":[{"role":"user","content":"b"}]}"#, false),
            (#"{"model":MODEL,"stream":true,"stream_options": { },"messages":[{"role":"user","content":"c"}]}"#,
             #"{"model":MODEL,"stream":true,"stream_options": {"include_usage":true },"messages":[{"role":"user","content":"c"}]}"#, false),
            (#"{"model":MODEL,"stream":true,"stream_options":{"x":[1]},"messages":[{"role":"user","content":"d"}]}"#,
             #"{"model":MODEL,"stream":true,"stream_options":{"include_usage":true,"x":[1]},"messages":[{"role":"user","content":"d"}]}"#, false),
            (#"{"model":MODEL,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"e"}]}"#,
             #"{"model":MODEL,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"e"}]}"#, true),
            (#"{"stream":true,"messages":[{"role":"user","content":"f"}],"stream_options":null,"model":MODEL}"#,
             #"{"stream":true,"messages":[{"role":"user","content":"f"}],"stream_options":{"include_usage":true},"model":MODEL}"#, false),
        ]
        try await withFleet([TestFleet.provider("p")], routes: ["chat": [[("p", 100)]]]) { sim, gate, client in
            for (index, c) in cases.enumerated() {
                let response = try await client.request("POST", gate.url + "/v1/chat/completions", body: Self.fill(c.sent, "chat"))
                #expect(response.status == 200, "case \(index)")
                #expect(response.text.hasSuffix("data: [DONE]\n\n"), "case \(index)")
                #expect(response.text.contains("\"usage\"") == c.usageShown, "case \(index)")
                let received = try #require(sim.provider("p")?.lastBody())
                #expect(String(decoding: received, as: UTF8.self) == String(decoding: Self.fill(c.forwarded, "sim-model"), as: UTF8.self), "case \(index)")
            }
            // Usage was counted from every stream, asked for or not.
            try await Task.sleep(for: .milliseconds(50))
            let stats = gate.gateway.state.snapshot(now: Gateway.monotonic()).providers[0].window1m
            #expect(stats.requests == cases.count && stats.tokensOut == cases.count * 16)
        }
    }

    @Test func aBodyThatIsNotJSONOrNotUTF8IsRefusedAndNothingIsForwarded() async throws {
        var invalidUTF8 = Array(#"{"model":"chat","messages":[{"role":"user","content":"caf"#.utf8)
        invalidUTF8 += [0xC3, 0x28]  // a lead byte without its continuation
        invalidUTF8 += Array(#""}]}"#.utf8)
        let overlong = Array(#"{"model":"chat","messages":[{"role":"user","content":""#.utf8) + [0xC0, 0xAF] + Array(#""}]}"#.utf8)
        let bodies: [(Data, String)] = [
            (Data(#"{"model":"chat","messages":[{"role":"user","content":"x"}]"#.utf8), "invalid_json"),
            (Data(#"{"model":"chat","messages":[{"role":"user","content":"x"}]} trailing"#.utf8), "invalid_json"),
            (Data(#"{"model":"chat","messages":[{"role":"user","content":"x"}],"n":01}"#.utf8), "invalid_json"),
            (Data(#"{"model":"chat","messages":[{"role":"user","content":"bad \q escape"}]}"#.utf8), "invalid_json"),
            (Data(#"{"model":"chat","model":"gpt-4-expensive","messages":[{"role":"user","content":"x"}]}"#.utf8), "invalid_json"),
            (Data(invalidUTF8), "invalid_json"),
            (Data(overlong), "invalid_json"),
            (Data(#"[1,2]"#.utf8), "invalid_json"),
            (Data(#"{"model":7,"messages":[{"role":"user","content":"x"}]}"#.utf8), "missing_model"),
            (Data(#"{"model":"chat","messages":[ ]}"#.utf8), "invalid_messages"),
            (Data(#"{"model":"chat","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#.utf8), "invalid_stream"),
            (Data(#"{"model":"chat","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":[]}"#.utf8), "invalid_stream_options"),
        ]
        try await withFleet([TestFleet.provider("p")], routes: ["chat": [[("p", 100)]]]) { sim, gate, client in
            for (body, code) in bodies {
                let response = try await client.request("POST", gate.url + "/v1/chat/completions", body: body)
                #expect(response.status == 400, "\(String(decoding: body, as: UTF8.self))")
                #expect(response.json?["error"]?["code"]?.stringValue == code, "\(response.text)")
                #expect(response.json?["error"]?["message"]?.stringValue?.isEmpty == false)
            }
            #expect(sim.provider("p")?.counters.requests == 0, "nothing may be forwarded")
            #expect(sim.provider("p")?.lastBody() == nil)
        }
    }

    @Test func theUTF8CheckFindsTheFirstBadByte() {
        #expect(JSONSkimmer.firstInvalidUTF8(Array("plain ascii, é, 🦀, 中".utf8)) == nil)
        #expect(JSONSkimmer.firstInvalidUTF8([0x61, 0xC3, 0x28]) == 1)
        #expect(JSONSkimmer.firstInvalidUTF8([0x61, 0x62, 0xE0, 0x80, 0x80]) == 2)  // overlong
        #expect(JSONSkimmer.firstInvalidUTF8([0xED, 0xA0, 0x80]) == 0)  // a surrogate
        #expect(JSONSkimmer.firstInvalidUTF8([0xF4, 0x90, 0x80, 0x80]) == 0)  // past U+10FFFF
        #expect(JSONSkimmer.firstInvalidUTF8([0x61, 0xF0, 0x9F, 0xA6]) == 1)  // cut short
    }

    // MARK: Whose fault

    @Test func clientFaultsReachTheClientUnchangedAndLeaveTheProviderHealthy() async throws {
        for status in [400, 409, 413, 422] {
            try await withFleet([TestFleet.provider("picky"), TestFleet.provider("other")],
                                routes: ["chat": [[("picky", 100)], [("other", 100)]]]) { sim, gate, client in
                _ = try await client.setBehaviour(sim, "picky", ["answer_status": .number(Double(status))])
                for _ in 0..<8 {
                    let response = try await client.chat(gate.url, model: "chat")
                    #expect(response.status == status)
                    #expect(response.json?["error"]?["code"]?.stringValue == "simulated_\(status)", "the provider's own body")
                    #expect(response.header("x-clawgate-provider") == "picky", "not retried elsewhere")
                }
                #expect(sim.provider("other")?.counters.requests == 0)
                let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
                let picky = snap.providers[0]
                #expect(picky.state == .healthy, "status \(status) made it \(picky.state)")
                #expect(picky.breaker.state == .closed && picky.breaker.consecutiveFailures == 0)
                #expect(picky.window1m.errors == 0 && picky.window1m.clientErrors == 8 && picky.window1m.errorRatio == 0)
                #expect(snap.routes[0].window1m.errors == 0 && snap.routes[0].window1m.clientErrors == 8)
                let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
                #expect(metrics.contains(#"clawgate_upstream_attempts_total{provider="picky",route="chat",outcome="status_\#(status)",fault="client"} 8"#),
                        "\(metrics.split(separator: "\n").filter { $0.contains("attempts_total{") })")
                let json = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: ["authorization": "Bearer \(TestFleet.viewerToken)"]).json
                #expect(json?["providers"]?.arrayValue?.first?["stats"]?["1m"]?["client_errors"]?.intValue == 8)
            }
        }
    }

    @Test func refusalsOfTheGatewaysOwnKeyOrModelAreTheProvidersFaultAndFailOver() async throws {
        let expectations: [(Int, String)] = [(401, "check api_key_env"), (403, "check api_key_env"), (404, "check the route's model"),
                                             (402, "check its billing")]
        for (status, hint) in expectations {
            try await withFleet([TestFleet.provider("misconfigured"), TestFleet.provider("backup")],
                                routes: ["chat": [[("misconfigured", 100)], [("backup", 100)]]]) { sim, gate, client in
                _ = try await client.setBehaviour(sim, "misconfigured", ["answer_status": .number(Double(status))])
                let response = try await client.chat(gate.url, model: "chat")
                #expect(response.status == 200)
                #expect(response.header("x-clawgate-provider") == "backup")
                #expect(response.header("x-clawgate-failed-attempts") == "misconfigured=status_\(status)")
                let p = gate.gateway.state.snapshot(now: Gateway.monotonic()).providers[0]
                #expect(p.window1m.errors == 1 && p.window1m.clientErrors == 0)
                #expect(p.breaker.recentFailures.last?.reason.contains(hint) == true, "\(p.breaker.recentFailures)")
            }
        }
    }

    @Test func theStatusTableIsWhatREADMESays() {
        #expect(AttemptOutcome.classify(status: 200) == .ok)
        for s in [400, 409, 413, 415, 422] { #expect(AttemptOutcome.classify(status: s).fault == .client, "\(s)") }
        for s in [401, 402, 403, 404, 405, 408, 429, 500, 502, 503, 504] { #expect(AttemptOutcome.classify(status: s).fault == .provider, "\(s)") }
        #expect(AttemptOutcome.classify(status: 302) == .badResponse("unexpected status 302"))
    }

    // MARK: The request as a state machine

    @Test func theRequestMachineRetriesProviderFaultsOnlyAndEndsOnce() {
        let a = GatewayState.Choice(provider: 0, model: "m", tier: 0, panic: false)
        let b = GatewayState.Choice(provider: 1, model: "m", tier: 0, panic: false)
        var m = RequestMachine(maxAttempts: 3)
        #expect(m.start() == .choose(attempt: 1))
        #expect(m.chosen(.success(a)) == .send(a))
        #expect(m.attemptEnded(providerID: "a", outcome: .status(503)) == .choose(attempt: 2))
        #expect(m.tried == [0])
        #expect(m.chosen(.success(b)) == .send(b))
        #expect(m.attemptEnded(providerID: "b", outcome: .clientError(status: 422)) == .finish(.passedThrough(provider: 1, status: 422)))

        var limited = RequestMachine(maxAttempts: 2)
        _ = limited.chosen(.success(a))
        #expect(limited.attemptEnded(providerID: "a", outcome: .status(429), retryAfter: "7") == .choose(attempt: 2))
        _ = limited.chosen(.success(b))
        #expect(limited.attemptEnded(providerID: "b", outcome: .status(429)) == .finish(.allFailed(status: 429)))
        #expect(limited.retryAfter == "7")

        var full = RequestMachine(maxAttempts: 3)
        #expect(full.chosen(.failure(.providersFull)) == .finish(.providersFull))
        var none = RequestMachine(maxAttempts: 3)
        #expect(none.chosen(.failure(.exhausted)) == .finish(.noProvider))
        var budget = RequestMachine(maxAttempts: 3)
        _ = budget.chosen(.success(a))
        _ = budget.attemptEnded(providerID: "a", outcome: .timeout)
        #expect(budget.chosen(.failure(.retryBudget)) == .finish(.allFailed(status: 504)))
        #expect(budget.budgetRefused)
    }

    // MARK: Limits

    @Test func atMaxInFlightTheExcessGets429WithRetryAfterAndTheRestIsServed() async throws {
        let slow = TestFleet.provider("slow", ["latency_ms": 400, "latency_p99_ms": 400])
        try await withFleet([slow], routes: ["chat": [[("slow", 100)]]], limits: .init(maxInFlight: 100), connections: 300) { sim, gate, client in
            let results = await withTaskGroup(of: TestResponse?.self) { group in
                for _ in 0..<300 { group.addTask { try? await client.chat(gate.url, model: "chat") } }
                var all: [TestResponse?] = []
                for await r in group { all.append(r) }
                return all
            }
            let served = results.filter { $0?.status == 200 }.count
            let refused = results.compactMap { $0 }.filter { $0.status == 429 }
            #expect(served >= 100, "served \(served)")
            #expect(!refused.isEmpty)
            #expect(served + refused.count == 300, "statuses: \(Set(results.map { $0?.status ?? -1 }))")
            #expect(refused.allSatisfy { $0.header("retry-after") == "1" && $0.json?["error"]?["code"]?.stringValue == "max_in_flight" })
            #expect(refused.first?.json?["error"]?["message"]?.stringValue?.contains("limits.max_in_flight") == true)
            #expect(sim.provider("slow")?.counters.requests == served, "a refused request never reaches the provider")
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.providers[0].state == .healthy && snap.providers[0].window1m.errors == 0)
            #expect(snap.refusedMaxInFlight == refused.count)
        }
    }

    @Test func aFullProviderIsSkippedAndWhenAllAreFullTheClientGets429NotBlame() async throws {
        let slow = TestFleet.provider("slow", ["latency_ms": 400, "latency_p99_ms": 400])
        let spare = TestFleet.provider("spare", ["latency_ms": 400, "latency_p99_ms": 400])
        try await withFleet([slow, spare], routes: ["chat": [[("slow", 100)], [("spare", 100)]]],
                            limits: .init(maxInFlight: 1000, maxInFlightPerProvider: 10), connections: 40) { sim, gate, client in
            let results = await withTaskGroup(of: TestResponse?.self) { group in
                for _ in 0..<40 { group.addTask { try? await client.chat(gate.url, model: "chat") } }
                var all: [TestResponse?] = []
                for await r in group { all.append(r) }
                return all
            }
            let byProvider = Dictionary(grouping: results.compactMap { $0?.header("x-clawgate-provider") }, by: { $0 }).mapValues(\.count)
            let refused = results.compactMap { $0 }.filter { $0.status == 429 }
            #expect(byProvider["slow"] == 10 && byProvider["spare"] == 10, "\(byProvider)")
            #expect(refused.count == 20)
            #expect(refused.allSatisfy { $0.json?["error"]?["code"]?.stringValue == "max_in_flight_per_provider" && $0.header("retry-after") == "1" })
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.providers.allSatisfy { $0.state == .healthy && $0.window1m.errors == 0 })
            #expect(snap.refusedProviderFull == 20)
        }
    }

    @Test func aLimitTheProcessCannotHoldIsRefusedWithWhatToDo() throws {
        #expect(throws: LimitsError.self) { try Gateway.resolveLimits(.init(maxInFlight: 5000), openFiles: 1024) }
        do {
            _ = try Gateway.resolveLimits(.init(maxInFlight: 5000), openFiles: 1024)
        } catch {
            #expect(error.description.contains("ulimit -n 10256") && error.description.contains("limits.max_in_flight"))
        }
        let derived = try Gateway.resolveLimits(.init(), openFiles: 20_000)
        #expect(derived.maxInFlight == 9872 && derived.maxInFlightPerProvider == 9872)
        #expect(try Gateway.resolveLimits(.init(), openFiles: 1_048_576).maxInFlight == 10_000)
        let set = try Gateway.resolveLimits(.init(maxInFlight: 100, maxInFlightPerProvider: 30), openFiles: 1024)
        #expect(set == .init(maxInFlight: 100, maxInFlightPerProvider: 30, maxConnections: 668))
        // Connections and provider sockets fit in the descriptors together, below the limit.
        let low = try Gateway.resolveLimits(.init(), openFiles: 1024)
        #expect(low.maxInFlight == 384 && low.maxConnections == 384)
        #expect(try Gateway.resolveLimits(.init(), openFiles: 1_048_576).maxConnections == 20_000)
        do {
            _ = try Gateway.resolveLimits(.init(maxConnections: 900), openFiles: 1024)
            Issue.record("900 connections cannot fit in 1024 descriptors")
        } catch {
            #expect(error.description.contains("limits.max_connections is 900") && error.description.contains("at most 384"))
        }
    }
}

/// Error kinds come from the errors' types, not their text.
@Suite struct ErrorKindTests {
    @Test func upstreamErrorsAreClassifiedByType() {
        #expect(Gateway.classify(HTTPClientError.connectTimeout) == .connectError)
        #expect(Gateway.classify(HTTPClientError.readTimeout) == .timeout)
        #expect(Gateway.classify(HTTPClientError.deadlineExceeded) == .timeout)
        #expect(Gateway.classify(HTTPClientError.remoteConnectionClosed) == .reset)
        #expect(Gateway.classify(IOError(errnoCode: ECONNREFUSED, reason: "connect")) == .connectError)
        #expect(Gateway.classify(IOError(errnoCode: ECONNRESET, reason: "read")) == .reset)
        #expect(Gateway.classify(ChannelError.connectTimeout(.seconds(1))) == .connectError)
        #expect(Gateway.classify(ChannelError.eof) == .reset)
        #expect(Gateway.classify(CancellationError()) == .timeout)
        struct Odd: Error {}
        #expect(Gateway.classify(Odd()) == .badResponse("Odd"))
    }

    @Test func aProviderThatRefusesConnectionsIsAConnectErrorAndTheNextServes() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("up")])
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("down", 100)], [("up", 100)]]])
        // A port nothing listens on: bind one, learn it, close it.
        let socket = try LoopbackPort.free()
        config.providers.insert(GatewayConfig.Provider(id: "down", baseURL: "http://127.0.0.1:\(socket)/v1",
                                                       timeouts: .init(connect: 1, firstByte: 2, total: 30)), at: 0)
        config.routes = [GatewayConfig.Route(alias: "chat", tiers: [[.init(provider: "down", model: "m", weight: 100)],
                                                                     [.init(provider: "up", model: "m", weight: 100)]])]
        let gate = try await TestFleet.gateway(config)
        let client = TestClient()
        let response = try await client.chat(gate.url, model: "chat")
        #expect(response.status == 200)
        #expect(response.header("x-clawgate-failed-attempts") == "down=connect_error")
        await client.shutdown()
        await gate.stop()
        await sim.stop()
    }
}
