import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// clawsim's provider formats on the wire: each format's routes, answers, streams, auth headers,
/// request rules and failure shapes, against a real simulator on loopback.
@Suite struct SimFormatTests {
    static let anthropicHeaders = ["x-api-key": "k", "anthropic-version": "2023-06-01"]
    static let geminiHeaders = ["x-goog-api-key": "k"]
    static let azureHeaders = ["api-key": "k"]

    /// Run `body` against a simulator with one provider `p` of `format` with `patch` set.
    func withProvider(
        _ format: String, _ patch: [String: JSONValue] = [:], models: [String] = [],
        _ body: (Simulator, String, TestClient) async throws -> Void
    ) async throws {
        var all = patch
        all["format"] = .string(format)
        var provider = TestFleet.provider("p", all)
        provider.models = models
        let sim = try await TestFleet.simulator([provider])
        let client = TestClient()
        var failure: (any Error)?
        do { try await body(sim, sim.providerURLs["p"]!, client) } catch { failure = error }
        await client.shutdown()
        await sim.stop()
        if let failure { throw failure }
    }

    /// The SSE events of a body: (event name or nil, parsed data) each.
    static func events(_ text: String) -> [(name: String?, data: JSONValue?)] {
        text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
            var name: String?
            var data: JSONValue?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = try? JSONValue.parse(Array(line.dropFirst(6).utf8)) }
            }
            return (name, data)
        }
    }

    static func anthropicBody(_ extra: [String: JSONValue] = [:], prompt: String = "Say hello") -> Data {
        var body: [String: JSONValue] = ["model": "claude-sim", "max_tokens": 100, "messages": [["role": "user", "content": .string(prompt)]]]
        for (k, v) in extra { body[k] = v }
        return JSONValue.object(body).encoded()
    }

    static func geminiBody(_ extra: [String: JSONValue] = [:], prompt: String = "Say hello") -> Data {
        var body: [String: JSONValue] = ["contents": [["role": "user", "parts": [["text": .string(prompt)]]]]]
        for (k, v) in extra { body[k] = v }
        return JSONValue.object(body).encoded()
    }

    static let weatherSchema: JSONValue = [
        "type": "object",
        "properties": ["city": ["type": "string"], "days": ["type": "integer"], "metric": ["type": "boolean"], "note": ["type": "string"]],
        "required": ["city", "days", "metric"],
    ]

    // MARK: Anthropic

    @Test func anthropicAnswersAMessage() async throws {
        try await withProvider("anthropic", ["completion_tokens": 5]) { _, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(prompt: String(repeating: "x", count: 40)), headers: Self.anthropicHeaders)
            #expect(r.status == 200)
            #expect(r.header("request-id") != nil)
            let j = try #require(r.json)
            #expect(j["type"] == "message")
            #expect(j["role"] == "assistant")
            #expect(j["model"] == "claude-sim")
            #expect(j["id"]?.stringValue?.hasPrefix("msg_") == true)
            #expect(j["content"]?.arrayValue?.first?["type"] == "text")
            #expect(j["content"]?.arrayValue?.first?["text"]?.stringValue?.hasSuffix("p.") == true)
            #expect(j["stop_reason"] == "end_turn")
            #expect(j["stop_sequence"] == .null)
            #expect(j["usage"]?["input_tokens"] == 10)
            #expect(j["usage"]?["output_tokens"] == 5)
            #expect(j["usage"]?["cache_read_input_tokens"] == 0)
            #expect(j["usage"]?["cache_creation_input_tokens"] == 0)
        }
    }

    @Test func anthropicMaxTokensCapsTheAnswer() async throws {
        try await withProvider("anthropic", ["completion_tokens": 20]) { _, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(["max_tokens": 3]), headers: Self.anthropicHeaders)
            #expect(r.json?["stop_reason"] == "max_tokens")
            #expect(r.json?["usage"]?["output_tokens"] == 3)
        }
    }

    @Test func anthropicStreamsItsEvents() async throws {
        try await withProvider("anthropic", ["completion_tokens": 4]) { _, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(["stream": true]), headers: Self.anthropicHeaders)
            #expect(r.status == 200)
            #expect(r.header("content-type") == "text/event-stream")
            let events = Self.events(r.text)
            let names = events.map { $0.name ?? "-" }
            #expect(names == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                              "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"])
            for event in events { #expect(event.data?["type"]?.stringValue == event.name) }
            let start = events[0].data?["message"]
            #expect(start?["content"] == [])
            #expect(start?["usage"]?["output_tokens"] == 1)
            #expect(start?["usage"]?["input_tokens"] == 2)
            #expect(events[1].data?["content_block"] == ["type": "text", "text": ""])
            let text = events.compactMap { $0.data?["delta"]?["text"]?.stringValue }.joined()
            #expect(text.hasSuffix("p."))
            #expect(events[8].data?["delta"] == ["stop_reason": "end_turn", "stop_sequence": .null])
            #expect(events[8].data?["usage"]?["output_tokens"] == 4)
            #expect(!r.text.contains("[DONE]"))
        }
    }

    @Test func anthropicRequiresItsHeaders() async throws {
        try await withProvider("anthropic") { _, url, client in
            let noKey = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: ["anthropic-version": "2023-06-01"])
            #expect(noKey.status == 401)
            #expect(noKey.json?["type"] == "error")
            #expect(noKey.json?["error"]?["type"] == "authentication_error")
            #expect(noKey.header("request-id") != nil)
            let noVersion = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: ["x-api-key": "k"])
            #expect(noVersion.status == 400)
            #expect(noVersion.json?["error"]?["type"] == "invalid_request_error")
            #expect(noVersion.json?["error"]?["message"]?.stringValue?.contains("anthropic-version") == true)
            let models = try await client.request("GET", url + "/v1/models")
            #expect(models.status == 401)
            // The official Python SDK 2.x sends its key as a bearer token; that counts as a key.
            let bearer = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(),
                                                  headers: ["authorization": "Bearer k", "anthropic-version": "2023-06-01"])
            #expect(bearer.status == 200)
        }
    }

    static let anthropicViolations: [(String, String, String)] = [
        ("no max_tokens", #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#, "max_tokens"),
        ("max_tokens 0", #"{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}"#, "max_tokens"),
        ("max_tokens 1.5", #"{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"hi"}]}"#, "max_tokens"),
        ("empty messages", #"{"model":"m","max_tokens":5,"messages":[]}"#, "messages: must not be empty"),
        ("system role", #"{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"be nice"},{"role":"user","content":"hi"}]}"#, "top-level 'system'"),
        ("first is assistant", #"{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":"hi"}]}"#, "first message must be 'user'"),
        ("two users", #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"#, "alternate"),
        ("bad role", #"{"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"a"}]}"#, "must be 'user' or 'assistant'"),
        ("system object", #"{"model":"m","max_tokens":5,"system":{"text":"x"},"messages":[{"role":"user","content":"a"}]}"#, "system"),
        ("system block not text", #"{"model":"m","max_tokens":5,"system":[{"type":"image"}],"messages":[{"role":"user","content":"a"}]}"#, "system.0"),
        ("unknown block", #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}"#, "unknown content block type 'image_url'"),
        ("content number", #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":5}]}"#, "content"),
        ("orphan tool_result", #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t2","content":"r"}]}]}"#, "tool_use_id: 't2'"),
        ("tool without schema", #"{"model":"m","max_tokens":5,"tools":[{"name":"f"}],"messages":[{"role":"user","content":"a"}]}"#, "tools.0.input_schema"),
        ("tool without name", #"{"model":"m","max_tokens":5,"tools":[{"input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"a"}]}"#, "tools.0.name"),
        ("tool_choice string", #"{"model":"m","max_tokens":5,"tool_choice":"auto","messages":[{"role":"user","content":"a"}]}"#, "tool_choice"),
        ("tool_choice required", #"{"model":"m","max_tokens":5,"tool_choice":{"type":"required"},"messages":[{"role":"user","content":"a"}]}"#, "tool_choice"),
        ("tool_choice tool no name", #"{"model":"m","max_tokens":5,"tool_choice":{"type":"tool"},"messages":[{"role":"user","content":"a"}]}"#, "tool_choice.name"),
    ]

    @Test(arguments: anthropicViolations)
    func anthropicRuleViolationsAreA400NamingTheRule(_ violation: (String, String, String)) async throws {
        try await withProvider("anthropic") { _, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Data(violation.1.utf8), headers: Self.anthropicHeaders)
            #expect(r.status == 400, "\(violation.0)")
            #expect(r.json?["type"] == "error", "\(violation.0)")
            #expect(r.json?["error"]?["type"] == "invalid_request_error", "\(violation.0)")
            let message = r.json?["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains(violation.2), "\(violation.0): \(message)")
        }
    }

    @Test func anthropicAcceptsAToolRoundTrip() async throws {
        let body = #"{"model":"m","max_tokens":500,"system":[{"type":"text","text":"sys"}],"tool_choice":{"type":"tool","name":"f"},"tools":[{"name":"f","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"use the tool"},{"role":"assistant","content":[{"type":"text","text":"ok"},{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"}]}]}"#
        try await withProvider("anthropic") { _, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Data(body.utf8), headers: Self.anthropicHeaders)
            #expect(r.status == 200, "\(r.text)")
            // The last user turn holds only a tool result, so the answer is text, not another call.
            #expect(r.json?["stop_reason"] == "end_turn")
        }
    }

    @Test func anthropicListsModelsAndCountsTokens() async throws {
        try await withProvider("anthropic", models: ["claude-a", "claude-b"]) { _, url, client in
            let models = try await client.request("GET", url + "/v1/models", headers: Self.anthropicHeaders)
            #expect(models.status == 200)
            let list = try #require(models.json)
            #expect(list["data"]?.arrayValue?.map { $0["id"] } == ["claude-a", "claude-b"])
            #expect(list["data"]?.arrayValue?.first?["type"] == "model")
            #expect(list["data"]?.arrayValue?.first?["display_name"]?.stringValue != nil)
            #expect(list["data"]?.arrayValue?.first?["created_at"]?.stringValue != nil)
            #expect(list["has_more"] == false)
            #expect(list["first_id"] == "claude-a")
            #expect(list["last_id"] == "claude-b")
            let count = try await client.request("POST", url + "/v1/messages/count_tokens",
                                                 body: Data(#"{"model":"claude-a","system":"abcd","messages":[{"role":"user","content":"12345678"}]}"#.utf8),
                                                 headers: Self.anthropicHeaders)
            #expect(count.status == 200)
            #expect(count.json == ["input_tokens": 3])
            let unknown = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect(unknown.status == 404)
            #expect(unknown.json?["error"]?["type"] == "not_found_error")
            // The OpenAI route is not served while the provider speaks anthropic.
            let chat = try await client.chat(url, model: "claude-a")
            #expect(chat.status == 404)
            #expect(chat.json?["error"]?["type"] == "not_found_error")
        }
    }

    // MARK: Gemini

    @Test func geminiAnswersGenerateContent() async throws {
        try await withProvider("gemini", ["completion_tokens": 5]) { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/gemini-sim:generateContent",
                                             body: Self.geminiBody(["systemInstruction": ["parts": [["text": "abcd"]]]], prompt: "12345678"),
                                             headers: Self.geminiHeaders)
            #expect(r.status == 200, "\(r.text)")
            let j = try #require(r.json)
            let candidate = j["candidates"]?.arrayValue?.first
            #expect(candidate?["content"]?["role"] == "model")
            #expect(candidate?["content"]?["parts"]?.arrayValue?.first?["text"]?.stringValue?.hasSuffix("p.") == true)
            #expect(candidate?["finishReason"] == "STOP")
            #expect(candidate?["index"] == 0)
            #expect(j["usageMetadata"] == ["promptTokenCount": 3, "candidatesTokenCount": 5, "totalTokenCount": 8])
            #expect(j["modelVersion"] == "gemini-sim")
            #expect(j["responseId"]?.stringValue != nil)
            let capped = try await client.request("POST", url + "/v1beta/models/gemini-sim:generateContent",
                                                  body: Self.geminiBody(["generationConfig": ["maxOutputTokens": 2]]), headers: Self.geminiHeaders)
            #expect(capped.json?["candidates"]?.arrayValue?.first?["finishReason"] == "MAX_TOKENS")
            #expect(capped.json?["usageMetadata"]?["candidatesTokenCount"] == 2)
        }
    }

    @Test func geminiStreamsServerSentEvents() async throws {
        try await withProvider("gemini", ["completion_tokens": 4]) { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/gemini-sim:streamGenerateContent?alt=sse",
                                             body: Self.geminiBody(), headers: Self.geminiHeaders)
            #expect(r.status == 200)
            #expect(r.header("content-type") == "text/event-stream")
            #expect(r.text.contains("\r\n\r\n"))
            #expect(!r.text.contains("[DONE]"))
            let events = Self.events(r.text).compactMap(\.data)
            #expect(events.count == 4)
            #expect(events.map { $0["usageMetadata"]?["candidatesTokenCount"] } == [1, 2, 3, 4])
            #expect(events.dropLast().allSatisfy { $0["candidates"]?.arrayValue?.first?["finishReason"] == nil })
            #expect(events.last?["candidates"]?.arrayValue?.first?["finishReason"] == "STOP")
            let text = events.compactMap { $0["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["text"]?.stringValue }.joined()
            #expect(text.hasSuffix("p."))
        }
    }

    @Test func geminiRequiresAKeyAndHonoursTheModelList() async throws {
        try await withProvider("gemini", models: ["gemini-a"]) { _, url, client in
            let none = try await client.request("POST", url + "/v1beta/models/gemini-a:generateContent", body: Self.geminiBody())
            #expect(none.status == 403)
            #expect(none.json?["error"]?["status"] == "PERMISSION_DENIED")
            #expect(none.json?["error"]?["code"] == 403)
            let query = try await client.request("POST", url + "/v1beta/models/gemini-a:generateContent?key=k", body: Self.geminiBody())
            #expect(query.status == 200)
            let other = try await client.request("POST", url + "/v1beta/models/gemini-b:generateContent", body: Self.geminiBody(), headers: Self.geminiHeaders)
            #expect(other.status == 404)
            #expect(other.json?["error"]?["status"] == "NOT_FOUND")
            let models = try await client.request("GET", url + "/v1beta/models", headers: Self.geminiHeaders)
            #expect(models.json?["models"]?.arrayValue?.first?["name"] == "models/gemini-a")
            #expect(models.json?["models"]?.arrayValue?.first?["displayName"]?.stringValue != nil)
            #expect(models.json?["models"]?.arrayValue?.first?["supportedGenerationMethods"]?.arrayValue?.contains("streamGenerateContent") == true)
        }
    }

    static let geminiViolations: [(String, String, String)] = [
        ("no contents", #"{}"#, "contents"),
        ("empty contents", #"{"contents":[]}"#, "contents: must not be empty"),
        ("assistant role", #"{"contents":[{"role":"assistant","parts":[{"text":"a"}]}]}"#, "must be 'user' or 'model'"),
        ("unknown part", #"{"contents":[{"role":"user","parts":[{"image_url":"x"}]}]}"#, "image_url"),
        ("two data keys", #"{"contents":[{"role":"user","parts":[{"text":"a","inlineData":{"mimeType":"image/png","data":"AA=="}}]}]}"#, "exactly one"),
        ("inlineData no mime", #"{"contents":[{"role":"user","parts":[{"inlineData":{"data":"AA=="}}]}]}"#, "mimeType"),
        ("functionResponse no name", #"{"contents":[{"role":"user","parts":[{"functionResponse":{"response":{"a":1}}}]}]}"#, "functionResponse.name"),
        ("functionResponse empty name", #"{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"","response":{}}}]}]}"#, "functionResponse.name"),
        ("systemInstruction string", #"{"systemInstruction":"be nice","contents":[{"role":"user","parts":[{"text":"a"}]}]}"#, "systemInstruction"),
        ("systemInstruction no parts", #"{"systemInstruction":{"role":"system"},"contents":[{"role":"user","parts":[{"text":"a"}]}]}"#, "systemInstruction.parts"),
        ("declaration no name", #"{"tools":[{"functionDeclarations":[{"description":"x"}]}],"contents":[{"role":"user","parts":[{"text":"a"}]}]}"#, "functionDeclarations[0].name"),
        ("unknown generationConfig", #"{"generationConfig":{"max_tokens":5},"contents":[{"role":"user","parts":[{"text":"a"}]}]}"#, "generationConfig.max_tokens"),
        ("unknown top level", #"{"messages":[],"model":"x","contents":[{"role":"user","parts":[{"text":"a"}]}]}"#, "\"messages\", \"model\""),
    ]

    @Test(arguments: geminiViolations)
    func geminiRuleViolationsAreA400NamingTheRule(_ violation: (String, String, String)) async throws {
        try await withProvider("gemini") { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/g:generateContent", body: Data(violation.1.utf8), headers: Self.geminiHeaders)
            #expect(r.status == 400, "\(violation.0)")
            #expect(r.json?["error"]?["status"] == "INVALID_ARGUMENT", "\(violation.0)")
            #expect(r.json?["error"]?["code"] == 400, "\(violation.0)")
            let message = r.json?["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains(violation.2), "\(violation.0): \(message)")
        }
    }

    @Test func geminiTakesSnakeCaseNamesAsItsParserDoes() async throws {
        let body = #"{"contents":[{"role":"user","parts":[{"text":"use the tool"}]}],"system_instruction":{"parts":[{"text":"s"}]},"generation_config":{"max_output_tokens":2},"tools":[{"function_declarations":[{"name":"f","parameters_json_schema":{"type":"object","properties":{"a":{"type":"string"}}}}]}]}"#
        try await withProvider("gemini") { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/g:generateContent", body: Data(body.utf8), headers: Self.geminiHeaders)
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json?["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["functionCall"] == ["name": "f", "args": ["a": "sim"]])
        }
    }

    // MARK: Azure OpenAI

    @Test func azureAnswersOnItsDeploymentRoute() async throws {
        try await withProvider("azure_openai", ["completion_tokens": 3], models: ["gpt-dep"]) { _, url, client in
            let body = JSONValue.object(["messages": [["role": "user", "content": "hi"]]]).encoded()
            let path = url + "/openai/deployments/gpt-dep/chat/completions"
            let r = try await client.request("POST", path + "?api-version=2024-10-21", body: body, headers: Self.azureHeaders)
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json?["object"] == "chat.completion")
            #expect(r.json?["model"] == "gpt-dep")
            #expect(r.json?["usage"]?["completion_tokens"] == 3)
            let noVersion = try await client.request("POST", path, body: body, headers: Self.azureHeaders)
            #expect(noVersion.status == 400)
            #expect(noVersion.json?["error"]?["code"] == "MissingApiVersionParameter")
            let noKey = try await client.request("POST", path + "?api-version=2024-10-21", body: body)
            #expect(noKey.status == 401)
            let other = try await client.request("POST", url + "/openai/deployments/nope/chat/completions?api-version=1", body: body, headers: Self.azureHeaders)
            #expect(other.status == 404)
            #expect(other.json?["error"]?["message"] != nil)
            let models = try await client.request("GET", url + "/openai/models?api-version=2024-10-21", headers: Self.azureHeaders)
            #expect(models.json?["data"]?.arrayValue?.first?["id"] == "gpt-dep")
            let stream = try await client.request("POST", path + "?api-version=2024-10-21",
                                                  body: JSONValue.object(["messages": [["role": "user", "content": "hi"]], "stream": true]).encoded(),
                                                  headers: Self.azureHeaders)
            #expect(stream.text.hasSuffix("data: [DONE]\n\n"))
        }
    }

    // MARK: Failures in each shape

    @Test func overloadedRateAnswersEachFormatsOverload() async throws {
        try await withProvider("anthropic", ["overloaded_rate": 1]) { sim, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect(r.status == 529)
            #expect(r.json?["error"]?["type"] == "overloaded_error")
            #expect(sim.provider("p")?.counters.outcomes["overloaded"] == 1)
        }
        try await withProvider("gemini", ["overloaded_rate": 1]) { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/g:generateContent", body: Self.geminiBody(), headers: Self.geminiHeaders)
            #expect(r.status == 503)
            #expect(r.json?["error"]?["status"] == "UNAVAILABLE")
        }
        try await withProvider("openai", ["overloaded_rate": 1]) { _, url, client in
            let r = try await client.chat(url, model: "m")
            #expect(r.status == 503)
            #expect(r.json?["error"]?["code"] == "overloaded")
        }
    }

    @Test func midstreamErrorRateSendsAnErrorEventFirst() async throws {
        try await withProvider("anthropic", ["midstream_error_rate": 1]) { sim, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(["stream": true]), headers: Self.anthropicHeaders)
            #expect(r.status == 200)
            #expect(r.header("content-type") == "text/event-stream")
            #expect(r.text == #"event: error"# + "\n" + #"data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"# + "\n\n"
                || Self.events(r.text).map { $0.name } == ["error"])
            #expect(Self.events(r.text).first?.data?["error"]?["type"] == "overloaded_error")
            // A request that does not stream is answered normally.
            let plain = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect(plain.status == 200)
            #expect(plain.json?["type"] == "message")
            #expect(sim.provider("p")?.counters.outcomes["midstream_error"] == 1)
        }
        try await withProvider("gemini", ["midstream_error_rate": 1]) { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/g:streamGenerateContent?alt=sse", body: Self.geminiBody(), headers: Self.geminiHeaders)
            #expect(r.status == 200)
            let events = Self.events(r.text)
            #expect(events.count == 1)
            #expect(events.first?.data?["error"]?["status"] == "UNAVAILABLE")
            #expect(events.first?.data?["error"]?["code"] == 503)
        }
        try await withProvider("openai", ["midstream_error_rate": 1]) { _, url, client in
            let r = try await client.chat(url, model: "m", stream: true)
            #expect(r.status == 200)
            let events = Self.events(r.text)
            #expect(events.count == 1)
            #expect(events.first?.data?["error"]?["type"] == "server_error")
            #expect(events.first?.data?["error"]?["code"] == "overloaded")
        }
    }

    @Test func rateLimitsCarryEachFormatsRetryHints() async throws {
        try await withProvider("anthropic", ["rate_limit_rate": 1, "retry_after_seconds": 7]) { _, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect(r.status == 429)
            #expect(r.json?["error"]?["type"] == "rate_limit_error")
            #expect(r.header("retry-after") == "7")
            let reset = try #require(r.header("anthropic-ratelimit-requests-reset"))
            let date = try #require(try? Date(reset, strategy: .iso8601))
            #expect(abs(date.timeIntervalSinceNow - 7) < 3)
        }
        try await withProvider("gemini", ["rate_limit_rate": 1, "retry_after_seconds": 7]) { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/g:generateContent", body: Self.geminiBody(), headers: Self.geminiHeaders)
            #expect(r.status == 429)
            #expect(r.header("retry-after") == "7")
            #expect(r.json?["error"]?["status"] == "RESOURCE_EXHAUSTED")
            #expect(r.json?["error"]?["details"] == [["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"]])
        }
    }

    @Test func answerStatusErrorsOutageAndMalformedTakeTheFormatsShape() async throws {
        try await withProvider("anthropic", ["answer_status": 403]) { sim, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect(r.status == 403)
            #expect(r.json?["error"]?["type"] == "permission_error")
            _ = try await client.setBehaviour(sim, "p", ["answer_status": 0, "error_rate": 1])
            let e = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect([500, 503].contains(e.status))
            #expect(e.json?["error"]?["type"] == "api_error")
            _ = try await client.setBehaviour(sim, "p", ["error_rate": 0, "outage": true])
            let o = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect(o.status == 503)
            #expect(o.json == ["type": "error", "error": ["type": "api_error", "message": "p is down (simulated outage)"]])
            _ = try await client.setBehaviour(sim, "p", ["outage": false, "malformed_rate": 1])
            let m = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect(m.status == 200)
            #expect(m.json == nil)
        }
        try await withProvider("gemini", ["answer_status": 400]) { sim, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/g:generateContent", body: Self.geminiBody(), headers: Self.geminiHeaders)
            #expect(r.status == 400)
            #expect(r.json?["error"]?["status"] == "INVALID_ARGUMENT")
            _ = try await client.setBehaviour(sim, "p", ["answer_status": 0, "outage": true])
            let o = try await client.request("POST", url + "/v1beta/models/g:generateContent", body: Self.geminiBody(), headers: Self.geminiHeaders)
            #expect(o.status == 503)
            #expect(o.json?["error"]?["status"] == "UNAVAILABLE")
        }
    }

    @Test func streamCutStopsHalfWay() async throws {
        try await withProvider("anthropic", ["stream_cut_rate": 1, "completion_tokens": 8]) { _, url, client in
            let r = try? await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(["stream": true]), headers: Self.anthropicHeaders)
            #expect(r.map { !$0.text.contains("message_stop") } ?? true)
        }
        try await withProvider("gemini", ["stream_cut_rate": 1, "completion_tokens": 8]) { _, url, client in
            let r = try? await client.request("POST", url + "/v1beta/models/g:streamGenerateContent?alt=sse", body: Self.geminiBody(), headers: Self.geminiHeaders)
            #expect(r.map { !$0.text.contains("finishReason") } ?? true)
        }
    }

    // MARK: Tools

    @Test func anthropicCallsTheFirstTool() async throws {
        let tools: JSONValue = [["name": "weather", "description": "w", "input_schema": Self.weatherSchema], ["name": "time", "input_schema": ["type": "object"]]]
        try await withProvider("anthropic", ["parallel_tool_calls": false]) { sim, url, client in
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(["tools": tools], prompt: "use a tool please"), headers: Self.anthropicHeaders)
            #expect(r.json?["stop_reason"] == "tool_use")
            let content = r.json?["content"]?.arrayValue ?? []
            #expect(content.map { $0["type"] } == ["text", "tool_use"])
            #expect(content.last?["name"] == "weather")
            #expect(content.last?["id"]?.stringValue?.hasPrefix("toolu_") == true)
            #expect(content.last?["input"] == ["city": "sim", "days": 1, "metric": true])

            let s = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(["tools": tools, "stream": true], prompt: "use a tool please"), headers: Self.anthropicHeaders)
            let events = Self.events(s.text)
            let toolStart = events.first { $0.data?["content_block"]?["type"] == "tool_use" }?.data
            #expect(toolStart?["index"] == 1)
            #expect(toolStart?["content_block"]?["input"] == [:])
            #expect(toolStart?["content_block"]?["name"] == "weather")
            let pieces = events.compactMap { $0.data?["delta"]?["type"] == "input_json_delta" ? $0.data?["delta"]?["partial_json"]?.stringValue : nil }
            #expect(pieces.count >= 3)
            #expect(try JSONValue.parse(Array(pieces.joined().utf8)) == ["city": "sim", "days": 1, "metric": true])
            #expect(events.first { $0.name == "message_delta" }?.data?["delta"]?["stop_reason"] == "tool_use")

            _ = try await client.setBehaviour(sim, "p", ["parallel_tool_calls": true])
            let two = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(["tools": tools], prompt: "tool"), headers: Self.anthropicHeaders)
            #expect(two.json?["content"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["weather", "time"])
            let plain = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(["tools": tools], prompt: "hello"), headers: Self.anthropicHeaders)
            #expect(plain.json?["stop_reason"] == "end_turn")
        }
    }

    @Test func geminiCallsTheFirstFunction() async throws {
        let tools: JSONValue = [["functionDeclarations": [["name": "weather", "parameters": ["type": "OBJECT", "properties": ["city": ["type": "STRING"], "n": ["type": "NUMBER"]]]]]]]
        try await withProvider("gemini", ["parallel_tool_calls": true]) { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/g:generateContent", body: Self.geminiBody(["tools": tools], prompt: "call the tool"), headers: Self.geminiHeaders)
            let parts = r.json?["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue ?? []
            #expect(parts.count == 2)
            #expect(parts.first?["functionCall"] == ["name": "weather", "args": ["city": "sim", "n": 1]])
            #expect(r.json?["candidates"]?.arrayValue?.first?["finishReason"] == "STOP")
            let s = try await client.request("POST", url + "/v1beta/models/g:streamGenerateContent?alt=sse", body: Self.geminiBody(["tools": tools], prompt: "call the tool"), headers: Self.geminiHeaders)
            let events = Self.events(s.text).compactMap(\.data)
            #expect(events.count == 1)
            #expect(events.first?["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["functionCall"]?["name"] == "weather")
        }
    }

    @Test func openAICallsTheFirstTool() async throws {
        let tools: JSONValue = [["type": "function", "function": ["name": "weather", "parameters": Self.weatherSchema]]]
        try await withProvider("openai") { _, url, client in
            let body: JSONValue = ["model": "m", "tools": tools, "messages": [["role": "user", "content": "use the tool"]]]
            let r = try await client.request("POST", url + "/v1/chat/completions", body: body.encoded())
            let choice = r.json?["choices"]?.arrayValue?.first
            #expect(choice?["finish_reason"] == "tool_calls")
            let call = choice?["message"]?["tool_calls"]?.arrayValue?.first
            #expect(call?["type"] == "function")
            #expect(call?["id"]?.stringValue?.hasPrefix("call_") == true)
            #expect(call?["function"]?["name"] == "weather")
            let args = try #require(call?["function"]?["arguments"]?.stringValue)
            #expect(try JSONValue.parse(Array(args.utf8)) == ["city": "sim", "days": 1, "metric": true])

            guard case .object(var streamed) = body else { return }
            streamed["stream"] = true
            let s = try await client.request("POST", url + "/v1/chat/completions", body: JSONValue.object(streamed).encoded())
            let deltas = Self.events(s.text).compactMap { $0.data?["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first }
            #expect(deltas.first?["index"] == 0)
            #expect(deltas.first?["id"]?.stringValue?.hasPrefix("call_") == true)
            #expect(deltas.first?["type"] == "function")
            #expect(deltas.first?["function"]?["name"] == "weather")
            #expect(deltas.first?["function"]?["arguments"] == "")
            #expect(deltas.count >= 4)
            let joined = deltas.compactMap { $0["function"]?["arguments"]?.stringValue }.joined()
            #expect(try JSONValue.parse(Array(joined.utf8)) == ["city": "sim", "days": 1, "metric": true])
            #expect(s.text.contains(#""finish_reason":"tool_calls""#))
            #expect(s.text.hasSuffix("data: [DONE]\n\n"))
        }
    }

    // MARK: Control

    @Test func formatIsSetByFlagYAMLAndTheControlAPI() async throws {
        #expect(try SimConfig.provider(fromFlag: "c:0,format=anthropic,latency_ms=1").format == .anthropic)
        #expect(try SimConfig.provider(fromFlag: "c").format == .openai)
        #expect(throws: SimConfigError.self) { try SimConfig.provider(fromFlag: "c,format=claude") }
        let config = try SimConfig.load(yaml: "providers:\n  - {id: g, format: gemini}\n  - {id: z, format: azure_openai}\n")
        #expect(config.providers.map(\.format) == [.gemini, .azureOpenAI])
        #expect(throws: SimConfigError.self) { try SimConfig.load(yaml: "providers:\n  - {id: g, format: bard}\n") }

        try await withProvider("openai") { sim, url, client in
            let shown = try await client.request("GET", sim.controlURL + "/sim/providers/p")
            #expect(shown.json?["format"] == "openai")
            let bad = try await client.setBehaviour(sim, "p", ["format": "claude", "latency_ms": 5])
            #expect(bad.status == 400)
            #expect(bad.json?["error"]?["message"]?.stringValue?.contains("format") == true)
            #expect(sim.provider("p")?.behaviour.latencyMs == 1)
            let good = try await client.setBehaviour(sim, "p", ["format": "anthropic", "latency_ms": 5])
            #expect(good.status == 200)
            #expect(good.json?["format"] == "anthropic")
            let list = try await client.request("GET", sim.controlURL + "/sim/providers")
            #expect(list.json?["providers"]?.arrayValue?.first?["format"] == "anthropic")
            let r = try await client.request("POST", url + "/v1/messages", body: Self.anthropicBody(), headers: Self.anthropicHeaders)
            #expect(r.status == 200)
        }
    }

    @Test func lastRequestInfoShowsPathQueryAndHeaders() async throws {
        try await withProvider("gemini") { sim, url, client in
            let body = Self.geminiBody()
            _ = try await client.request("POST", url + "/v1beta/models/g:streamGenerateContent?alt=sse&key=abc", body: body, headers: ["X-Custom": "v"])
            let info = try await client.request("GET", sim.controlURL + "/sim/providers/p/last-request-info")
            #expect(info.status == 200)
            #expect(info.json?["path"] == "/v1beta/models/g:streamGenerateContent")
            #expect(info.json?["query"] == "alt=sse&key=abc")
            #expect(info.json?["headers"]?["x-custom"] == "v")
            #expect(info.json?["headers"]?["content-type"] == "application/json")
            let raw = try await client.request("GET", sim.controlURL + "/sim/providers/p/last-request")
            #expect(raw.body == body)
        }
    }
}
