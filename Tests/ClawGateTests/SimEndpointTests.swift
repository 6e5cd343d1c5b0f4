import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// clawsim's embeddings and Responses API on the wire, in each format's shapes: answers, streams,
/// request rules and the usual faults, against a real simulator on loopback.
@Suite struct SimEndpointTests {
    static let geminiHeaders = SimFormatTests.geminiHeaders
    static let azureHeaders = SimFormatTests.azureHeaders
    static let azureQuery = "?api-version=2024-10-21"

    func withProvider(
        _ format: String, _ patch: [String: JSONValue] = [:], models: [String] = [],
        _ body: (Simulator, String, TestClient) async throws -> Void
    ) async throws {
        try await SimFormatTests().withProvider(format, patch, models: models, body)
    }

    static func embedBody(_ fields: [String: JSONValue]) -> Data {
        var body: [String: JSONValue] = ["model": "text-embedding-sim"]
        for (k, v) in fields { body[k] = v }
        return JSONValue.object(body).encoded()
    }

    static func floats(_ value: JSONValue?) -> [Double] { (value?.arrayValue ?? []).compactMap(\.doubleValue) }

    static func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// Little-endian float32s from OpenAI's base64 form.
    static func decode(_ base64: String?) -> [Double] {
        guard let base64, let data = Data(base64Encoded: base64) else { return [] }
        let bytes = Array(data)
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            let bits = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            return Double(Float(bitPattern: bits))
        }
    }

    // MARK: OpenAI and Azure embeddings

    @Test func openAIEmbeddingsAnswerUnitVectorsAsFloatsOrBase64() async throws {
        try await withProvider("openai") { _, url, client in
            let one = try await client.request("POST", url + "/v1/embeddings", body: Self.embedBody(["input": .string(String(repeating: "a", count: 40))]))
            #expect(one.status == 200, "\(one.text)")
            let j = try #require(one.json)
            #expect(j["object"] == "list")
            #expect(j["model"] == "text-embedding-sim")
            #expect(j["usage"] == ["prompt_tokens": 10, "total_tokens": 10])
            let data = try #require(j["data"]?.arrayValue)
            #expect(data.count == 1)
            #expect(data[0]["object"] == "embedding")
            #expect(data[0]["index"] == 0)
            let vector = Self.floats(data[0]["embedding"])
            #expect(vector.count == 8)
            #expect(abs(Self.norm(vector) - 1) < 1e-5)

            let many = try await client.request("POST", url + "/v1/embeddings",
                                                body: Self.embedBody(["input": ["hello", .string(String(repeating: "a", count: 40)), "hello"], "dimensions": 16, "user": "u1"]))
            let rows = many.json?["data"]?.arrayValue ?? []
            #expect(rows.map { $0["index"] } == [0, 1, 2])
            #expect(rows.allSatisfy { Self.floats($0["embedding"]).count == 16 })
            #expect(Self.floats(rows[0]["embedding"]) == Self.floats(rows[2]["embedding"]), "the same text, the same vector")
            #expect(Self.floats(rows[0]["embedding"]) != Self.floats(rows[1]["embedding"]))
            #expect(many.json?["usage"]?["prompt_tokens"] == 12)
            // A shorter vector is the longer one's start, made unit again.
            let long = Self.floats(rows[1]["embedding"])
            let short = long.prefix(8).map { $0 / Self.norm(Array(long.prefix(8))) }
            #expect(zip(short, vector).allSatisfy { abs($0 - $1) < 1e-5 })

            let b64 = try await client.request("POST", url + "/v1/embeddings",
                                               body: Self.embedBody(["input": ["hello"], "dimensions": 16, "encoding_format": "base64"]))
            let decoded = Self.decode(b64.json?["data"]?.arrayValue?.first?["embedding"]?.stringValue)
            #expect(decoded == Self.floats(rows[0]["embedding"]), "base64 carries the same float32s")

            let tokens = try await client.request("POST", url + "/v1/embeddings", body: Self.embedBody(["input": [[1, 2, 3], [4, 5]]]))
            #expect(tokens.json?["data"]?.arrayValue?.count == 2)
            #expect(tokens.json?["usage"]?["prompt_tokens"] == 5)
            let flat = try await client.request("POST", url + "/v1/embeddings", body: Self.embedBody(["input": [1, 2, 3]]))
            #expect(flat.json?["data"]?.arrayValue?.count == 1)
            #expect(flat.json?["usage"]?["prompt_tokens"] == 3)
        }
    }

    static let embeddingViolations: [(String, String, String)] = [
        ("no model", #"{"input":"hi"}"#, "model"),
        ("no input", #"{"model":"m"}"#, "input"),
        ("empty input", #"{"model":"m","input":""}"#, "input"),
        ("empty list", #"{"model":"m","input":[]}"#, "input"),
        ("mixed list", #"{"model":"m","input":["a",1]}"#, "input"),
        ("object input", #"{"model":"m","input":{"text":"a"}}"#, "input"),
        ("negative token", #"{"model":"m","input":[1,-2]}"#, "input"),
        ("dimensions 0", #"{"model":"m","input":"a","dimensions":0}"#, "dimensions"),
        ("dimensions 1.5", #"{"model":"m","input":"a","dimensions":1.5}"#, "dimensions"),
        ("dimensions text", #"{"model":"m","input":"a","dimensions":"8"}"#, "dimensions"),
        ("encoding", #"{"model":"m","input":"a","encoding_format":"int8"}"#, "encoding_format"),
        ("user", #"{"model":"m","input":"a","user":7}"#, "user"),
    ]

    @Test(arguments: embeddingViolations)
    func openAIEmbeddingRulesNameTheField(_ name: String, _ body: String, _ param: String) async throws {
        try await withProvider("openai") { sim, url, client in
            let r = try await client.request("POST", url + "/v1/embeddings", body: Data(body.utf8))
            #expect(r.status == 400, "\(name)")
            #expect(r.json?["error"]?["type"] == "invalid_request_error", "\(name)")
            #expect(r.json?["error"]?["param"] == .string(param), "\(name): \(r.text)")
            #expect(r.json?["error"]?["message"]?.stringValue?.contains(param) == true, "\(name): \(r.text)")
            #expect(sim.provider("p")?.counters.requests == 0, "a refused request draws no outcome")
        }
    }

    @Test func azureEmbeddingsOnTheDeploymentRoute() async throws {
        try await withProvider("azure_openai", models: ["emb-dep"]) { sim, url, client in
            let path = url + "/openai/deployments/emb-dep/embeddings"
            let r = try await client.request("POST", path + Self.azureQuery, body: JSONValue.object(["input": ["a", "b"]]).encoded(), headers: Self.azureHeaders)
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json?["model"] == "emb-dep")
            #expect(r.json?["data"]?.arrayValue?.count == 2)
            let info = try await client.request("GET", sim.controlURL + "/sim/providers/p/last-request-info")
            #expect(info.json?["path"] == "/openai/deployments/emb-dep/embeddings")
            #expect(info.json?["query"] == "api-version=2024-10-21")
            let raw = try await client.request("GET", sim.controlURL + "/sim/providers/p/last-request")
            #expect(raw.json == ["input": ["a", "b"]])

            let noVersion = try await client.request("POST", path, body: Self.embedBody(["input": "a"]), headers: Self.azureHeaders)
            #expect(noVersion.status == 400)
            #expect(noVersion.json?["error"]?["code"] == "MissingApiVersionParameter")
            let noKey = try await client.request("POST", path + Self.azureQuery, body: Self.embedBody(["input": "a"]))
            #expect(noKey.status == 401)
            let other = try await client.request("POST", url + "/openai/deployments/nope/embeddings" + Self.azureQuery, body: Self.embedBody(["input": "a"]), headers: Self.azureHeaders)
            #expect(other.status == 404)
            #expect(other.json?["error"]?["code"] == "DeploymentNotFound")
            let bad = try await client.request("POST", path + Self.azureQuery, body: Self.embedBody(["input": "a", "dimensions": -1]), headers: Self.azureHeaders)
            #expect(bad.status == 400)
            #expect(bad.json?["error"]?["param"] == "dimensions")
            // OpenAI's own route is not Azure's.
            let openAIRoute = try await client.request("POST", url + "/v1/embeddings", body: Self.embedBody(["input": "a"]))
            #expect(openAIRoute.status == 404)
        }
    }

    // MARK: Gemini and Anthropic embeddings

    static func geminiContent(_ text: String) -> JSONValue { ["parts": [["text": .string(text)]]] }

    @Test func geminiEmbedsOneContentAndABatch() async throws {
        try await withProvider("gemini") { sim, url, client in
            let one = try await client.request("POST", url + "/v1beta/models/gemini-embedding-001:embedContent",
                                               body: JSONValue.object(["content": Self.geminiContent("hello")]).encoded(), headers: Self.geminiHeaders)
            #expect(one.status == 200, "\(one.text)")
            #expect(one.json?.objectValue?.keys.sorted() == ["embedding"], "Gemini sends no usage")
            let values = Self.floats(one.json?["embedding"]?["values"])
            #expect(values.count == 8)
            #expect(abs(Self.norm(values) - 1) < 1e-5)

            let batch: JSONValue = ["requests": [
                ["model": "models/gemini-embedding-001", "content": ["role": "user", "parts": [["text": "hello"]]], "taskType": "RETRIEVAL_QUERY"],
                ["model": "models/gemini-embedding-001", "content": Self.geminiContent("world"), "output_dimensionality": 16, "title": "t"],
            ]]
            for version in ["v1beta", "v1"] {
                let r = try await client.request("POST", url + "/\(version)/models/gemini-embedding-001:batchEmbedContents", body: batch.encoded(), headers: Self.geminiHeaders)
                #expect(r.status == 200, "\(version): \(r.text)")
                #expect(r.json?.objectValue?.keys.sorted() == ["embeddings"])
                let rows = r.json?["embeddings"]?.arrayValue ?? []
                #expect(rows.count == 2)
                #expect(Self.floats(rows.first?["values"]) == values, "the same text, the same vector")
                #expect(Self.floats(rows.last?["values"]).count == 16)
            }
            let info = try await client.request("GET", sim.controlURL + "/sim/providers/p/last-request-info")
            #expect(info.json?["path"] == "/v1/models/gemini-embedding-001:batchEmbedContents")
            let raw = try await client.request("GET", sim.controlURL + "/sim/providers/p/last-request")
            #expect(raw.body == batch.encoded())

            let noKey = try await client.request("POST", url + "/v1beta/models/g:embedContent", body: JSONValue.object(["content": Self.geminiContent("x")]).encoded())
            #expect(noKey.status == 403)
            #expect(noKey.json?["error"]?["status"] == "PERMISSION_DENIED")
        }
        // The same text embeds to the same vector in every format.
        try await withProvider("openai") { _, url, client in
            let r = try await client.request("POST", url + "/v1/embeddings", body: Self.embedBody(["input": "hello", "encoding_format": "float"]))
            let openAI = Self.floats(r.json?["data"]?.arrayValue?.first?["embedding"])
            try await withProvider("gemini") { _, gurl, gclient in
                let g = try await gclient.request("POST", gurl + "/v1beta/models/g:embedContent",
                                                  body: JSONValue.object(["content": Self.geminiContent("hello")]).encoded(), headers: Self.geminiHeaders)
                #expect(Self.floats(g.json?["embedding"]?["values"]) == openAI)
            }
        }
    }

    static let geminiEmbedViolations: [(String, String, String, String)] = [
        ("unknown field", "embedContent", #"{"content":{"parts":[{"text":"a"}]},"dimensions":8}"#, "dimensions"),
        ("no content", "embedContent", #"{"taskType":"RETRIEVAL_QUERY"}"#, "content"),
        ("empty parts", "embedContent", #"{"content":{"parts":[]}}"#, "content.parts"),
        ("bad part", "embedContent", #"{"content":{"parts":[{"txt":"a"}]}}"#, "content.parts[0]"),
        ("bad taskType", "embedContent", #"{"content":{"parts":[{"text":"a"}]},"taskType":"SEARCH"}"#, "taskType"),
        ("dims 0", "embedContent", #"{"content":{"parts":[{"text":"a"}]},"outputDimensionality":0}"#, "outputDimensionality"),
        ("batch unknown", "batchEmbedContents", #"{"requests":[],"model":"models/g"}"#, "\"model\""),
        ("batch empty", "batchEmbedContents", #"{"requests":[]}"#, "requests"),
        ("batch no model", "batchEmbedContents", #"{"requests":[{"content":{"parts":[{"text":"a"}]}}]}"#, "requests[0].model"),
        ("batch other model", "batchEmbedContents", #"{"requests":[{"model":"models/h","content":{"parts":[{"text":"a"}]}}]}"#, "requests[0].model"),
        ("batch inner unknown", "batchEmbedContents", #"{"requests":[{"model":"models/g","content":{"parts":[{"text":"a"}]},"dims":3}]}"#, "requests[0].dims"),
    ]

    @Test(arguments: geminiEmbedViolations)
    func geminiEmbedRulesNameTheField(_ name: String, _ method: String, _ body: String, _ named: String) async throws {
        try await withProvider("gemini") { _, url, client in
            let r = try await client.request("POST", url + "/v1beta/models/g:\(method)", body: Data(body.utf8), headers: Self.geminiHeaders)
            #expect(r.status == 400, "\(name)")
            #expect(r.json?["error"]?["status"] == "INVALID_ARGUMENT", "\(name)")
            #expect(r.json?["error"]?["message"]?.stringValue?.contains(named) == true, "\(name): \(r.text)")
        }
    }

    @Test func anthropicHasNoEmbeddingsNorResponses() async throws {
        try await withProvider("anthropic") { _, url, client in
            for path in ["/v1/embeddings", "/v1/responses"] {
                let r = try await client.request("POST", url + path, body: Self.embedBody(["input": "a"]), headers: SimFormatTests.anthropicHeaders)
                #expect(r.status == 404, "\(path)")
                #expect(r.json?["type"] == "error")
                #expect(r.json?["error"]?["type"] == "not_found_error")
            }
        }
        try await withProvider("gemini") { _, url, client in
            let r = try await client.request("POST", url + "/v1/embeddings", body: Self.embedBody(["input": "a"]), headers: Self.geminiHeaders)
            #expect(r.status == 404)
            #expect(r.json?["error"]?["status"] == "NOT_FOUND")
        }
    }

    // MARK: Responses API

    static func responsesBody(_ fields: [String: JSONValue] = [:]) -> Data {
        var body: [String: JSONValue] = ["model": "gpt-sim", "input": .string(String(repeating: "x", count: 40))]
        for (k, v) in fields { body[k] = v }
        return JSONValue.object(body).encoded()
    }

    @Test func responsesAnswerJSON() async throws {
        try await withProvider("openai", ["completion_tokens": 5]) { _, url, client in
            let r = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["instructions": "be brief"]))
            #expect(r.status == 200, "\(r.text)")
            let j = try #require(r.json)
            #expect(j["id"]?.stringValue?.hasPrefix("resp_") == true)
            #expect(j["object"] == "response")
            #expect(j["status"] == "completed")
            #expect(j["model"] == "gpt-sim")
            #expect(j["created_at"]?.intValue != nil)
            #expect(j["instructions"] == "be brief")
            #expect(j["error"] == .null)
            #expect(j["incomplete_details"] == .null)
            #expect(j["tools"] == [])
            #expect(j["tool_choice"] == "auto")
            #expect(j["parallel_tool_calls"] == true)
            let output = try #require(j["output"]?.arrayValue)
            #expect(output.count == 1)
            #expect(output[0]["type"] == "message")
            #expect(output[0]["id"]?.stringValue?.hasPrefix("msg_") == true)
            #expect(output[0]["status"] == "completed")
            #expect(output[0]["role"] == "assistant")
            let part = output[0]["content"]?.arrayValue?.first
            #expect(part?["type"] == "output_text")
            #expect(part?["annotations"] == [])
            #expect(part?["text"]?.stringValue?.hasSuffix("p.") == true)
            // 40 characters of input and 8 of instructions: 12 tokens.
            #expect(j["usage"]?["input_tokens"] == 12)
            #expect(j["usage"]?["output_tokens"] == 5)
            #expect(j["usage"]?["total_tokens"] == 17)
            #expect(j["usage"]?["input_tokens_details"]?["cached_tokens"] == 0)
            #expect(j["usage"]?["output_tokens_details"]?["reasoning_tokens"] == 0)

            let items: JSONValue = [
                ["role": "developer", "content": "rules"],
                ["type": "message", "role": "user", "content": [["type": "input_text", "text": "hello there"]]],
            ]
            let listed = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["input": items]))
            #expect(listed.status == 200, "\(listed.text)")
            #expect(listed.json?["usage"]?["input_tokens"] == 4)
        }
    }

    @Test func responsesStreamTheirEvents() async throws {
        try await withProvider("openai", ["completion_tokens": 4]) { _, url, client in
            let r = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["stream": true]))
            #expect(r.status == 200)
            #expect(r.header("content-type") == "text/event-stream")
            let events = SimFormatTests.events(r.text)
            #expect(events.map { $0.name ?? "-" } == [
                "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                "response.output_text.delta", "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
                "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
            ])
            for (index, event) in events.enumerated() {
                #expect(event.data?["type"]?.stringValue == event.name)
                #expect(event.data?["sequence_number"] == JSONValue(index))
            }
            #expect(events[0].data?["response"]?["status"] == "in_progress")
            #expect(events[0].data?["response"]?["output"] == [])
            let itemID = events[2].data?["item"]?["id"]
            #expect(events[2].data?["item"]?["status"] == "in_progress")
            #expect(events[3].data?["part"]?["text"] == "")
            let deltas = events.filter { $0.name == "response.output_text.delta" }
            #expect(deltas.allSatisfy { $0.data?["item_id"] == itemID && $0.data?["output_index"] == 0 && $0.data?["content_index"] == 0 })
            let text = deltas.compactMap { $0.data?["delta"]?.stringValue }.joined()
            #expect(text.hasSuffix("p."))
            #expect(events[8].data?["text"] == .string(text))
            #expect(events[9].data?["part"]?["text"] == .string(text))
            #expect(events[10].data?["item"]?["status"] == "completed")
            let done = events[11].data?["response"]
            #expect(done?["status"] == "completed")
            #expect(done?["usage"]?["output_tokens"] == 4)
            #expect(done?["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"] == .string(text))
            #expect(done?["id"] == events[0].data?["response"]?["id"])
            #expect(!r.text.contains("[DONE]"))
        }
    }

    @Test func responsesPaceTheirDeltasByTokensPerSecond() async throws {
        try await withProvider("openai", ["completion_tokens": 5, "tokens_per_second": 20]) { _, url, client in
            let start = ContinuousClock.now
            let r = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["stream": true]))
            #expect(r.status == 200)
            #expect(ContinuousClock.now - start >= .milliseconds(200), "5 tokens at 20/s take 250 ms")
        }
    }

    @Test func maxOutputTokensLeavesTheResponseIncomplete() async throws {
        try await withProvider("openai", ["completion_tokens": 40]) { _, url, client in
            let r = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["max_output_tokens": 16]))
            #expect(r.json?["status"] == "incomplete")
            #expect(r.json?["incomplete_details"] == ["reason": "max_output_tokens"])
            #expect(r.json?["usage"]?["output_tokens"] == 16)
            #expect(r.json?["max_output_tokens"] == 16)
            let s = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["max_output_tokens": 16, "stream": true]))
            #expect(SimFormatTests.events(s.text).last?.name == "response.incomplete")
        }
    }

    static let responsesViolations: [(String, String, String)] = [
        ("chat body", #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#, "messages"),
        ("no model", #"{"input":"hi"}"#, "model"),
        ("no input", #"{"model":"m"}"#, "input"),
        ("input number", #"{"model":"m","input":3}"#, "input"),
        ("empty list", #"{"model":"m","input":[]}"#, "input"),
        ("bad role", #"{"model":"m","input":[{"role":"tool","content":"x"}]}"#, "input[0].role"),
        ("no content", #"{"model":"m","input":[{"role":"user"}]}"#, "input[0].content"),
        ("bad part", #"{"model":"m","input":[{"role":"user","content":[{"type":"text","text":"x"}]}]}"#, "input[0].content[0].type"),
        ("bad item", #"{"model":"m","input":[{"type":"tool_result","content":"x"}]}"#, "input[0].type"),
        ("call output", #"{"model":"m","input":[{"type":"function_call_output","output":"x"}]}"#, "input[0].call_id"),
        ("instructions", #"{"model":"m","input":"hi","instructions":["a"]}"#, "instructions"),
        ("max tokens low", #"{"model":"m","input":"hi","max_output_tokens":8}"#, "max_output_tokens"),
        ("max tokens text", #"{"model":"m","input":"hi","max_output_tokens":"9"}"#, "max_output_tokens"),
        ("stream", #"{"model":"m","input":"hi","stream":"yes"}"#, "stream"),
        ("chat tool", #"{"model":"m","input":"hi","tools":[{"type":"function","function":{"name":"f"}}]}"#, "tools[0].name"),
    ]

    @Test(arguments: responsesViolations)
    func responsesRulesNameTheField(_ name: String, _ body: String, _ param: String) async throws {
        try await withProvider("openai") { _, url, client in
            let r = try await client.request("POST", url + "/v1/responses", body: Data(body.utf8))
            #expect(r.status == 400, "\(name)")
            #expect(r.json?["error"]?["type"] == "invalid_request_error", "\(name)")
            #expect(r.json?["error"]?["param"] == .string(param), "\(name): \(r.text)")
            #expect(r.json?["error"]?["message"]?.stringValue?.contains(param) == true, "\(name): \(r.text)")
        }
    }

    @Test func responsesCallTheFirstTool() async throws {
        let tools: JSONValue = [["type": "function", "name": "weather", "parameters": SimFormatTests.weatherSchema]]
        try await withProvider("openai") { _, url, client in
            let r = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["tools": tools, "input": "use the tool"]))
            let output = r.json?["output"]?.arrayValue ?? []
            #expect(output.count == 1)
            #expect(output.first?["type"] == "function_call")
            #expect(output.first?["name"] == "weather")
            #expect(output.first?["call_id"]?.stringValue?.hasPrefix("call_") == true)
            #expect(output.first?["id"]?.stringValue?.hasPrefix("fc_") == true)
            let args = try #require(output.first?["arguments"]?.stringValue)
            #expect(try JSONValue.parse(Array(args.utf8)) == ["city": "sim", "days": 1, "metric": true])
            #expect(r.json?["tools"] == tools)

            let s = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["tools": tools, "input": "use the tool", "stream": true]))
            let events = SimFormatTests.events(s.text)
            #expect(events.first { $0.name == "response.output_item.added" }?.data?["item"]?["arguments"] == "")
            let pieces = events.filter { $0.name == "response.function_call_arguments.delta" }.compactMap { $0.data?["delta"]?.stringValue }
            #expect(pieces.count >= 3)
            #expect(pieces.joined() == args)
            #expect(events.first { $0.name == "response.function_call_arguments.done" }?.data?["arguments"] == .string(args))
            #expect(events.last?.name == "response.completed")

            // The tool's result ends the loop with text.
            let loop: JSONValue = [
                ["role": "user", "content": "use the tool"],
                ["type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"],
                ["type": "function_call_output", "call_id": "call_1", "output": "sunny"],
            ]
            let after = try await client.request("POST", url + "/v1/responses", body: Self.responsesBody(["tools": tools, "input": loop]))
            #expect(after.json?["output"]?.arrayValue?.first?["type"] == "message")
        }
    }

    @Test func azureServesResponsesOnBothItsRoutes() async throws {
        try await withProvider("azure_openai", ["completion_tokens": 3], models: ["gpt-dep"]) { _, url, client in
            let body = JSONValue.object(["model": "gpt-dep", "input": "hi"]).encoded()
            let dated = try await client.request("POST", url + "/openai/responses" + Self.azureQuery, body: body, headers: Self.azureHeaders)
            #expect(dated.status == 200, "\(dated.text)")
            #expect(dated.json?["object"] == "response")
            #expect(dated.json?["model"] == "gpt-dep")
            let v1 = try await client.request("POST", url + "/openai/v1/responses", body: body, headers: ["authorization": "Bearer k"])
            #expect(v1.status == 200, "\(v1.text)")
            let noVersion = try await client.request("POST", url + "/openai/responses", body: body, headers: Self.azureHeaders)
            #expect(noVersion.status == 400)
            #expect(noVersion.json?["error"]?["code"] == "MissingApiVersionParameter")
            let noKey = try await client.request("POST", url + "/openai/v1/responses", body: body)
            #expect(noKey.status == 401)
            let other = try await client.request("POST", url + "/openai/v1/responses", body: JSONValue.object(["model": "nope", "input": "hi"]).encoded(), headers: Self.azureHeaders)
            #expect(other.status == 404)
            #expect(other.json?["error"]?["code"] == "DeploymentNotFound")
            let openAIRoute = try await client.request("POST", url + "/v1/responses", body: body)
            #expect(openAIRoute.status == 404)
        }
    }

    // MARK: Faults

    /// One request per new endpoint of a format: (name, path, body, headers).
    static func endpoints(_ format: String) -> [(String, String, Data, [String: String])] {
        switch format {
        case "gemini":
            return [
                ("embedContent", "/v1beta/models/g:embedContent", JSONValue.object(["content": geminiContent("a")]).encoded(), geminiHeaders),
                ("batchEmbedContents", "/v1beta/models/g:batchEmbedContents",
                 JSONValue.object(["requests": [["model": "models/g", "content": geminiContent("a")]]]).encoded(), geminiHeaders),
            ]
        case "azure_openai":
            return [
                ("embeddings", "/openai/deployments/d/embeddings" + azureQuery, embedBody(["input": "a"]), azureHeaders),
                ("responses", "/openai/responses" + azureQuery, responsesBody(), azureHeaders),
            ]
        default:
            return [("embeddings", "/v1/embeddings", embedBody(["input": "a"]), [:]), ("responses", "/v1/responses", responsesBody(), [:])]
        }
    }

    @Test(arguments: ["openai", "azure_openai", "gemini"])
    func faultsTakeTheFormatsShape(_ format: String) async throws {
        let google = format == "gemini"
        for (name, path, body, headers) in Self.endpoints(format) {
            try await withProvider(format, ["rate_limit_rate": 1, "retry_after_seconds": 7]) { sim, url, client in
                let r = try await client.request("POST", url + path, body: body, headers: headers)
                #expect(r.status == 429, "\(name)")
                #expect(r.header("retry-after") == "7", "\(name)")
                if google {
                    #expect(r.json?["error"]?["status"] == "RESOURCE_EXHAUSTED")
                    #expect(r.json?["error"]?["details"] == [["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"]])
                } else {
                    #expect(r.json?["error"]?["code"] == "rate_limit_exceeded", "\(name)")
                }
                _ = try await client.setBehaviour(sim, "p", ["rate_limit_rate": 0, "error_rate": 1])
                let e = try await client.request("POST", url + path, body: body, headers: headers)
                #expect([500, 503].contains(e.status), "\(name)")
                if google { #expect(["INTERNAL", "UNAVAILABLE"].contains(e.json?["error"]?["status"]?.stringValue ?? "")) } else { #expect(e.json?["error"]?["type"] == "server_error") }
                _ = try await client.setBehaviour(sim, "p", ["error_rate": 0, "overloaded_rate": 1])
                let o = try await client.request("POST", url + path, body: body, headers: headers)
                #expect(o.status == 503, "\(name)")
                if google { #expect(o.json?["error"]?["status"] == "UNAVAILABLE") } else { #expect(o.json?["error"]?["code"] == "overloaded") }
                _ = try await client.setBehaviour(sim, "p", ["overloaded_rate": 0, "answer_status": 418])
                let a = try await client.request("POST", url + path, body: body, headers: headers)
                #expect(a.status == 418, "\(name)")
                if !google { #expect(a.json?["error"]?["code"] == "simulated_418") }
                _ = try await client.setBehaviour(sim, "p", ["answer_status": 0, "outage": true])
                let down = try await client.request("POST", url + path, body: body, headers: headers)
                #expect(down.status == 503, "\(name)")
                #expect(down.json?["error"] != nil)
                _ = try await client.setBehaviour(sim, "p", ["outage": false, "malformed_rate": 1])
                let m = try await client.request("POST", url + path, body: body, headers: headers)
                #expect(m.status == 200, "\(name)")
                #expect(m.json == nil, "\(name)")
                _ = try await client.setBehaviour(sim, "p", ["malformed_rate": 0, "reset_rate": 1])
                await #expect(throws: (any Error).self, "\(name)") { _ = try await client.request("POST", url + path, body: body, headers: headers) }
                let outcomes = sim.provider("p")?.counters.outcomes ?? [:]
                #expect(outcomes["rate_limited"] == 1 && outcomes["overloaded"] == 1 && outcomes["malformed"] == 1 && outcomes["reset"] == 1, "\(name): \(outcomes)")
                let raw = try await client.request("GET", sim.controlURL + "/sim/providers/p/last-request")
                #expect(raw.body == body, "\(name): the body is kept")
            }
            try await withProvider(format, ["latency_ms": 300, "latency_p99_ms": 300]) { _, url, client in
                let start = ContinuousClock.now
                let r = try await client.request("POST", url + path, body: body, headers: headers)
                #expect(r.status == 200, "\(name): \(r.text)")
                #expect(ContinuousClock.now - start >= .milliseconds(250), "\(name) waits its latency")
            }
        }
    }

    @Test func hangHoldsAnEmbeddingUntilTheClientGivesUp() async throws {
        try await withProvider("openai", ["hang_rate": 1]) { sim, url, _ in
            let impatient = TestClient(readTimeout: 0.3)
            await #expect(throws: (any Error).self) {
                _ = try await impatient.request("POST", url + "/v1/embeddings", body: Self.embedBody(["input": "a"]))
            }
            await impatient.shutdown()
            #expect(sim.provider("p")?.counters.outcomes["hang"] == 1)
        }
    }

    @Test(arguments: ["openai", "azure_openai"])
    func streamedResponsesFailMidStreamAndCut(_ format: String) async throws {
        let (path, headers) = format == "openai" ? ("/v1/responses", [String: String]()) : ("/openai/responses" + Self.azureQuery, Self.azureHeaders)
        try await withProvider(format, ["midstream_error_rate": 1]) { sim, url, client in
            let r = try await client.request("POST", url + path, body: Self.responsesBody(["stream": true]), headers: headers)
            #expect(r.status == 200)
            #expect(r.header("content-type") == "text/event-stream")
            let events = SimFormatTests.events(r.text)
            try #require(events.map { $0.name } == ["error", "response.failed"])
            #expect(events[0].data?["type"] == "error")
            #expect(events[0].data?["code"] == "overloaded")
            #expect(events[0].data?["sequence_number"] == 0)
            #expect(events[1].data?["response"]?["status"] == "failed")
            #expect(events[1].data?["response"]?["error"]?["code"] == "server_error")
            // A request that does not stream is answered normally.
            let plain = try await client.request("POST", url + path, body: Self.responsesBody(), headers: headers)
            #expect(plain.json?["status"] == "completed")
            #expect(sim.provider("p")?.counters.outcomes["midstream_error"] == 1)
        }
        try await withProvider(format, ["stream_cut_rate": 1, "completion_tokens": 8]) { sim, url, client in
            let r = try? await client.request("POST", url + path, body: Self.responsesBody(["stream": true]), headers: headers)
            #expect(r.map { !$0.text.contains("response.completed") } ?? true)
            #expect(r.map { $0.text.contains("response.output_text.delta") } ?? true)
            #expect(sim.provider("p")?.counters.outcomes["stream_cut"] == 1)
        }
    }
}
