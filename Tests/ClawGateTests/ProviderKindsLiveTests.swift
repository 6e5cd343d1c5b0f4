import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Real clawsim providers speaking each kind's own format behind a real clawgate node: failover
/// across kinds, tool calls through each, errors in each kind's words. clawsim checks what it
/// receives against each provider's rules, so a translation bug fails here loudly.
@Suite(.serialized) struct ProviderKindsLiveTests {
    static let kinds: [ProviderKind] = [.openai, .anthropic, .gemini, .azureOpenAI]

    func provider(_ id: String, _ kind: ProviderKind, _ patch: [String: JSONValue] = [:]) -> SimConfig.Provider {
        var patch = patch
        patch["format"] = .string(kind.rawValue)
        return TestFleet.provider(id, patch)
    }

    static let tools: JSONValue = [[
        "type": "function",
        "function": ["name": "get_weather", "description": "Weather of a city",
                     "parameters": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]],
    ]]

    /// The chunks of an OpenAI stream, parsed (`[DONE]` left out), and whether it ended with `[DONE]`.
    static func chunks(_ text: String) -> (chunks: [JSONValue], done: Bool) {
        var scanner = SSEScanner()
        var out: [JSONValue] = []
        var done = false
        for event in scanner.feed(Array(text.utf8)) {
            guard let data = SSEScanner.data(of: event) else { continue }
            if data == Array("[DONE]".utf8) { done = true; continue }
            if let json = try? JSONValue.parse(bytes: data) { out.append(json) }
        }
        return (out, done)
    }

    @Test(arguments: kinds)
    func answersAndStreamsThroughEachKind(kind: ProviderKind) async throws {
        try await TestFleet.withFleet([provider("p", kind, ["completion_tokens": 6])], routes: ["chat": [[("p", 100)]]], prices: ["p": (2, 10)],
                                      configure: { TestFleet.speak(["p": kind], in: &$0) }) { sim, gate, client in
            let whole = try await client.chat(gate.url, model: "chat", prompt: "Say hello to the gateway")
            #expect(whole.status == 200, "\(kind): \(whole.text)")
            let message = whole.json?["choices"]?.arrayValue?.first?["message"]
            #expect((message?["content"]?.stringValue ?? "").isEmpty == false, "\(kind)")
            #expect(whole.json?["choices"]?.arrayValue?.first?["finish_reason"] == "stop")
            let tokensIn = try #require(whole.json?["usage"]?["prompt_tokens"]?.intValue)
            let tokensOut = try #require(whole.json?["usage"]?["completion_tokens"]?.intValue)
            #expect(tokensIn > 0 && tokensOut == 6, "\(kind)")
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(abs(snap.providers[0].window1m.cost - (Double(tokensIn) * 2 + Double(tokensOut) * 10) / 1_000_000) < 1e-12)

            let stream = try await client.chat(gate.url, model: "chat", stream: true, includeUsage: true, prompt: "Stream hello")
            #expect(stream.status == 200, "\(kind): \(stream.text)")
            let (chunks, done) = Self.chunks(stream.text)
            #expect(done, "\(kind): \(stream.text)")
            let text = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
            // Every word arrives: the stream says what the whole answer said.
            #expect(text == message?["content"]?.stringValue, "\(kind): \(stream.text)")
            #expect(chunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue }.last == "stop")
            #expect(chunks.last?["usage"]?["completion_tokens"]?.intValue == 6, "\(kind): \(stream.text)")
            // The provider's key went in the kind's own header; the path is the kind's own.
            let info = try await client.request("GET", sim.controlURL + "/sim/providers/p/last-request-info")
            let headers = info.json?["headers"]
            switch kind {
            case .openai: #expect(headers?["authorization"]?.stringValue == "Bearer \(TestFleet.upstreamKey)")
            case .anthropic:
                #expect(headers?["x-api-key"]?.stringValue == TestFleet.upstreamKey && headers?["anthropic-version"] == "2023-06-01")
                #expect(info.json?["path"] == "/v1/messages")
            case .gemini:
                #expect(headers?["x-goog-api-key"]?.stringValue == TestFleet.upstreamKey)
                #expect(info.json?["path"] == "/v1beta/models/sim-model:streamGenerateContent")
            case .azureOpenAI:
                #expect(headers?["api-key"]?.stringValue == TestFleet.upstreamKey)
                #expect(info.json?["path"] == "/openai/deployments/sim-model/chat/completions")
            }
            #expect(headers?["authorization"] == nil || kind == .openai, "\(kind): the client's or the gateway's bearer leaked")
            // Health probes use each kind's own model list.
            await gate.gateway.probeProviders()
            #expect(gate.gateway.state.snapshot(now: Gateway.monotonic()).providers[0].health.healthy)
            #expect(gate.gateway.snapshot().providers[0].kind == kind.rawValue)
        }
    }

    @Test(arguments: kinds)
    func toolCallsStreamThroughEachKind(kind: ProviderKind) async throws {
        try await TestFleet.withFleet([provider("p", kind, ["parallel_tool_calls": true])], routes: ["chat": [[("p", 100)]]],
                                      configure: { TestFleet.speak(["p": kind], in: &$0) }) { sim, gate, client in
            let body: JSONValue = ["model": "chat", "stream": true, "tools": Self.tools,
                                   "messages": [["role": "user", "content": "Use the tool for Paris"]]]
            let response = try await client.request("POST", gate.url + "/v1/chat/completions", body: body.encoded())
            #expect(response.status == 200, "\(kind): \(response.text)")
            let (chunks, done) = Self.chunks(response.text)
            #expect(done)
            // Reassemble the calls as an OpenAI client does: by index, arguments concatenated.
            var calls: [Int: (id: String, name: String, arguments: String)] = [:]
            for chunk in chunks {
                for call in chunk["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue ?? [] {
                    let index = try #require(call["index"]?.intValue)
                    var entry = calls[index] ?? ("", "", "")
                    if let id = call["id"]?.stringValue { entry.id = id }
                    if let name = call["function"]?["name"]?.stringValue { entry.name = name }
                    entry.arguments += call["function"]?["arguments"]?.stringValue ?? ""
                    calls[index] = entry
                }
            }
            #expect(calls.keys.sorted() == [0, 1], "\(kind): \(response.text)")
            for (_, call) in calls {
                #expect(call.name == "get_weather" && !call.id.isEmpty)
                let arguments = try JSONValue.parse(bytes: Array(call.arguments.utf8))
                #expect(arguments["city"]?.stringValue != nil, "\(kind): \(call.arguments)")
            }
            #expect(Set(calls.values.map(\.id)).count == 2, "\(kind): tool call ids must differ")
            #expect(chunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue }.last == "tool_calls")

            // The next turn answers both calls; each kind's rules (tool_result ids, functionResponse names) hold.
            let ids = calls.keys.sorted().map { calls[$0]!.id }
            let followUp: JSONValue = ["model": "chat", "tools": Self.tools, "messages": [
                ["role": "system", "content": "Be brief."],
                ["role": "user", "content": "Use the tool for Paris"],
                ["role": "assistant", "content": .null, "tool_calls": .array(ids.map { id in
                    ["id": .string(id), "type": "function", "function": ["name": "get_weather", "arguments": #"{"city":"Paris"}"#]]
                })],
                ["role": "tool", "tool_call_id": .string(ids[0]), "content": "sunny"],
                ["role": "tool", "tool_call_id": .string(ids[1]), "content": #"{"sky":"clear"}"#],
                ["role": "developer", "content": "Answer in one line."],
                ["role": "user", "content": "Thanks, summarise"],
            ]]
            let answer = try await client.request("POST", gate.url + "/v1/chat/completions", body: followUp.encoded())
            #expect(answer.status == 200, "\(kind): \(answer.text)")
            #expect(answer.json?["choices"]?.arrayValue?.first?["finish_reason"] == "stop", "\(kind): \(answer.text)")
        }
    }

    @Test func anOverloadedAnthropicTierFailsOverToGeminiWithNoClientErrors() async throws {
        let providers = [provider("claude", .anthropic, ["overloaded_rate": 1]), provider("google", .gemini)]
        try await TestFleet.withFleet(providers, routes: ["chat": [[("claude", 100)], [("google", 100)]]],
                                      configure: { TestFleet.speak(["claude": .anthropic, "google": .gemini], in: &$0) }) { sim, gate, client in
            for i in 0..<12 {
                let response = try await client.chat(gate.url, model: "chat", stream: i % 2 == 0, prompt: "request \(i)")
                #expect(response.status == 200, "\(i): \(response.text)")
                #expect(response.header("x-clawgate-provider") == "google")
                #expect(!response.text.contains("\"error\""), "\(i): \(response.text)")
            }
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.routes[0].window1m.errors == 0 && snap.routes[0].window1m.clientErrors == 0)
            // The overloads counted against claude (its breaker opened), none against the client.
            #expect(snap.providers[0].window1m.errors > 0 && snap.providers[0].breaker.state != .closed)
        }
    }

    @Test func anErrorEventInsideA200StreamFailsOverUnseenBeforeContent() async throws {
        let providers = [provider("claude", .anthropic, ["midstream_error_rate": 1]), provider("google", .gemini)]
        try await TestFleet.withFleet(providers, routes: ["chat": [[("claude", 100)], [("google", 100)]]],
                                      configure: { TestFleet.speak(["claude": .anthropic, "google": .gemini], in: &$0) }) { sim, gate, client in
            let response = try await client.chat(gate.url, model: "chat", stream: true)
            #expect(response.status == 200)
            #expect(response.header("x-clawgate-provider") == "google")
            #expect(response.header("x-clawgate-failed-attempts") == "claude=status_529")
            #expect(!response.text.contains("error") && response.text.hasSuffix("data: [DONE]\n\n"), "\(response.text)")
        }
        // The OpenAI kind's error event opening a stream fails over the same way.
        let openai = [provider("o", .openai, ["midstream_error_rate": 1]), provider("google", .gemini)]
        try await TestFleet.withFleet(openai, routes: ["chat": [[("o", 100)], [("google", 100)]]],
                                      configure: { TestFleet.speak(["o": .openai, "google": .gemini], in: &$0) }) { sim, gate, client in
            let response = try await client.chat(gate.url, model: "chat", stream: true)
            #expect(response.status == 200 && response.header("x-clawgate-provider") == "google", "\(response.text)")
        }
    }

    @Test func aRateLimitedProviderStaysOutForItsRetryAfter() async throws {
        let providers = [provider("claude", .anthropic, ["rate_limit_rate": 1, "retry_after_seconds": 30]), provider("google", .gemini)]
        try await TestFleet.withFleet(providers, routes: ["chat": [[("claude", 100)], [("google", 100)]]],
                                      configure: { TestFleet.speak(["claude": .anthropic, "google": .gemini], in: &$0) }) { sim, gate, client in
            for _ in 0..<5 {
                let response = try await client.chat(gate.url, model: "chat")
                #expect(response.status == 200 && response.header("x-clawgate-provider") == "google")
            }
            // One 429 from claude, then it is left alone for its 30 s.
            #expect(sim.provider("claude")!.counters.requests == 1)
        }
    }

    @Test func aParameterTheKindCannotHonourIsA400NamingItAndNothingIsSent() async throws {
        try await TestFleet.withFleet([provider("claude", .anthropic)], routes: ["chat": [[("claude", 100)]]],
                                      configure: { TestFleet.speak(["claude": .anthropic], in: &$0) }) { sim, gate, client in
            let body: JSONValue = ["model": "chat", "logprobs": true, "messages": [["role": "user", "content": "hi"]]]
            let response = try await client.request("POST", gate.url + "/v1/chat/completions", body: body.encoded())
            #expect(response.status == 400)
            #expect(response.json?["error"]?["param"] == "logprobs" && response.json?["error"]?["code"] == "unsupported_parameter")
            #expect(sim.provider("claude")!.counters.requests == 0)
            // A request the provider itself refuses reaches the client as an OpenAI error in its words.
            _ = try await client.setBehaviour(sim, "claude", ["answer_status": 400])
            let refused = try await client.chat(gate.url, model: "chat")
            #expect(refused.status == 400 && refused.json?["error"]?["type"] == "invalid_request_error", "\(refused.text)")
            #expect(refused.json?["error"]?["message"]?.stringValue?.isEmpty == false)
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.providers[0].breaker.state == .closed && snap.providers[0].window1m.errors == 0)
        }
    }

    /// `/v1/messages` to an anthropic provider: the client's bytes go through unchanged but `model`,
    /// and the answer as it came; keys as `x-api-key`; refusals in Anthropic's error shape.
    @Test func messagesPassThroughToAnthropicByteForByteAndRefuseInAnthropicsShape() async throws {
        try await TestFleet.withFleet([provider("claude", .anthropic)], routes: ["chat": [[("claude", 100)]]],
                                      configure: {
                                          TestFleet.speak(["claude": .anthropic], in: &$0)
                                          $0.clients = [.init(name: "alice", keyEnv: "CLAW_TEST_ALICE_KEY", limits: .init(rpm: 2))]
                                      }) { sim, gate, client in
            let body = #"{"model" : "chat","max_tokens":16, "messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00"}],"metadata":{"user_id":"u"},"top_k":3,"x_unknown":1.50}"#
            let answer = try await client.request("POST", gate.url + "/v1/messages", body: Data(body.utf8), headers: ["x-api-key": TestFleet.aliceKey])
            #expect(answer.status == 200 && answer.json?["type"] == "message", "\(answer.text)")
            let sent = try await client.request("GET", sim.controlURL + "/sim/providers/claude/last-request")
            #expect(sent.text == body.replacingOccurrences(of: #""model" : "chat""#, with: #""model" : "sim-model""#))
            let info = try await client.request("GET", sim.controlURL + "/sim/providers/claude/last-request-info")
            #expect(info.json?["headers"]?["x-api-key"]?.stringValue == TestFleet.upstreamKey, "the client's key never goes upstream")
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.providers[0].window1m.tokensOut == answer.json?["usage"]?["output_tokens"]?.intValue)

            let noKey = try await client.request("POST", gate.url + "/v1/messages", body: Data(body.utf8))
            #expect(noKey.status == 401 && noKey.json?["type"] == "error" && noKey.json?["error"]?["type"] == "authentication_error", "\(noKey.text)")
            _ = try await client.request("POST", gate.url + "/v1/messages", body: Data(body.utf8), headers: ["authorization": "Bearer " + TestFleet.aliceKey])
            let limited = try await client.request("POST", gate.url + "/v1/messages", body: Data(body.utf8), headers: ["x-api-key": TestFleet.aliceKey])
            #expect(limited.status == 429 && limited.json?["error"]?["type"] == "rate_limit_error" && limited.header("retry-after") != nil, "\(limited.text)")
            let noMax = try await client.request("POST", gate.url + "/v1/messages", body: Data(#"{"model":"chat","messages":[{"role":"user","content":"x"}]}"#.utf8),
                                                 headers: ["x-api-key": TestFleet.aliceKey])
            #expect(noMax.status == 400 && noMax.json?["error"]?["type"] == "invalid_request_error", "\(noMax.text)")
        }
    }

    /// An Anthropic stream forwarded as it came; an overloaded_error inside its 200 stream before
    /// content fails over to an openai provider, whose answer comes back as Anthropic events.
    @Test func messagesStreamFailsOverFromAnthropicToOpenAIInAnthropicsEvents() async throws {
        let providers = [provider("claude", .anthropic, ["midstream_error_rate": 1]), provider("gpt", .openai, ["completion_tokens": 5])]
        try await TestFleet.withFleet(providers, routes: ["chat": [[("claude", 100)], [("gpt", 100)]]],
                                      configure: { TestFleet.speak(["claude": .anthropic, "gpt": .openai], in: &$0) }) { sim, gate, client in
            let body: JSONValue = ["model": "chat", "max_tokens": 50, "stream": true, "messages": [["role": "user", "content": "hi"]]]
            let response = try await client.request("POST", gate.url + "/v1/messages", body: body.encoded())
            #expect(response.status == 200 && response.header("x-clawgate-provider") == "gpt", "\(response.text)")
            let names = response.text.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            #expect(names.first == "message_start" && names.last == "message_stop" && !names.contains("error"), "\(names)")
            #expect(response.text.contains(#""output_tokens":5"#), "\(response.text)")
            #expect(response.header("x-clawgate-failed-attempts") == "claude=status_529")
        }
    }

    /// `/v1/embeddings` and `/v1/responses` through the same routes: passed through to openai and
    /// azure_openai, embeddings translated for gemini, kinds without the endpoint skipped and named.
    @Test func embeddingsAndResponsesGoWhereTheyCanAndSkipTheRest() async throws {
        let providers = [provider("claude", .anthropic), provider("google", .gemini), provider("gpt", .openai), provider("az", .azureOpenAI)]
        try await TestFleet.withFleet(providers, routes: ["embed": [[("claude", 100)], [("google", 100)]], "plain": [[("gpt", 100)]],
                                                         "azure": [[("az", 100)]], "claude-only": [[("claude", 100)]], "mixed": [[("google", 100)], [("gpt", 100)]]],
                                      prices: ["google": (1, 1), "gpt": (1, 2)],
                                      configure: {
                                          TestFleet.speak(["claude": .anthropic, "google": .gemini, "gpt": .openai, "az": .azureOpenAI], in: &$0)
                                          $0.providers[1].price.embeddingPer1M = 1000
                                      }) { sim, gate, client in
            // Passed through byte for byte but `model`.
            let raw = #"{"model":"plain", "input":["a b c","d"],"encoding_format":"float","dimensions":4}"#
            let plain = try await client.request("POST", gate.url + "/v1/embeddings", body: Data(raw.utf8))
            #expect(plain.status == 200 && plain.json?["data"]?.arrayValue?.count == 2, "\(plain.text)")
            #expect(try await client.request("GET", sim.controlURL + "/sim/providers/gpt/last-request").text
                    == raw.replacingOccurrences(of: #""model":"plain""#, with: #""model":"sim-model""#))
            // Gemini: translated, in the encoding asked (the openai SDK asks for base64), anthropic skipped and named.
            for encoding in ["float", "base64"] {
                let body: JSONValue = ["model": "embed", "input": ["hello", "world"], "dimensions": 8, "encoding_format": .string(encoding)]
                let r = try await client.request("POST", gate.url + "/v1/embeddings", body: body.encoded())
                #expect(r.status == 200 && r.header("x-clawgate-provider") == "google", "\(r.text)")
                #expect(r.header("x-clawgate-skipped") == "claude (anthropic has no embeddings)")
                let first = r.json?["data"]?.arrayValue?.first?["embedding"]
                if encoding == "float" {
                    #expect(first?.arrayValue?.count == 8)
                } else {
                    #expect(first?.stringValue.flatMap { Data(base64Encoded: $0) }?.count == 32, "8 float32 values")
                }
                #expect((r.json?["usage"]?["prompt_tokens"]?.intValue ?? 0) > 0)
            }
            let sent = try await client.request("GET", sim.controlURL + "/sim/providers/google/last-request-info")
            #expect(sent.json?["path"] == "/v1beta/models/sim-model:batchEmbedContents", "\(sent.text)")
            #expect(sim.provider("claude")!.counters.requests == 0)
            let snap = gate.gateway.state.snapshot(now: Gateway.monotonic())
            #expect(snap.providers[1].window1m.cost > 0.000_001, "embedding_per_1m prices gemini's embeddings")
            // A route with nothing that embeds: a 400 that says so.
            let none = try await client.request("POST", gate.url + "/v1/embeddings", body: Data(#"{"model":"claude-only","input":"x"}"#.utf8))
            #expect(none.status == 400 && none.json?["error"]?["code"] == "unsupported_endpoint", "\(none.text)")
            #expect(none.json?["error"]?["message"]?.stringValue?.contains("claude (anthropic has no embeddings)") == true)

            // Responses: JSON and streamed through openai and azure; gemini skipped.
            for alias in ["plain", "azure", "mixed"] {
                let body: JSONValue = ["model": .string(alias), "input": "Say hello"]
                let r = try await client.request("POST", gate.url + "/v1/responses", body: body.encoded())
                #expect(r.status == 200 && r.json?["status"] == "completed", "\(alias): \(r.text)")
                var stream: JSONValue = body
                if case .object(var o) = stream { o["stream"] = true; stream = .object(o) }
                let s = try await client.request("POST", gate.url + "/v1/responses", body: stream.encoded())
                #expect(s.status == 200 && s.text.contains("response.completed") && !s.text.contains(#""code":"bad_response""#), "\(alias): \(s.text)")
            }
            let gptStats = gate.gateway.state.snapshot(now: Gateway.monotonic()).providers[2].window1m
            #expect(gptStats.tokensOut > 0 && gptStats.errors == 0, "usage read from response.completed")
            let gemOnly = try await client.request("POST", gate.url + "/v1/responses", body: Data(#"{"model":"embed","input":"x"}"#.utf8))
            #expect(gemOnly.status == 400 && gemOnly.header("x-clawgate-skipped")?.contains("google (gemini has no responses endpoint)") == true, "\(gemOnly.text)")
            let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
            #expect(metrics.contains(#"endpoint="embeddings""#) && metrics.contains(#"endpoint="responses""#))
            // The snapshot counts each route's requests by the API called.
            let routes = gate.gateway.snapshot().routes
            #expect(routes.first { $0.alias == "embed" }?.requestsByEndpoint1m == ["chat": 0, "messages": 0, "embeddings": 2, "responses": 1])
            #expect(routes.first { $0.alias == "plain" }?.requestsByEndpoint1m == ["chat": 0, "messages": 0, "embeddings": 1, "responses": 2])
        }
    }
}
