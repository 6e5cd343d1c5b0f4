import ClawShared
import Foundation
import HTTPTypes
import Hummingbird

extension SimProvider {
    static let googleKeyHeader = HTTPField.Name("x-goog-api-key")!

    /// Gemini's key check: `x-goog-api-key` or `?key=`, else 403 `PERMISSION_DENIED`.
    func geminiRefusal(_ request: Request) -> Response? {
        let header = request.headers[Self.googleKeyHeader] ?? ""
        let query = request.uri.queryParameters["key"].map(String.init) ?? ""
        if header.isEmpty, query.isEmpty {
            return Self.shapedError(.gemini, 403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
        }
        return nil
    }

    /// `GET /v1beta/models` in Gemini's shape.
    func geminiModels(request: Request) -> Response {
        let format = self.format
        guard format == .gemini else { return wrongRoute(format, request) }
        if let refused = geminiRefusal(request) { return refused }
        if behaviour.outage { return Self.shapedError(.gemini, 503, "\(id) is down (simulated outage)") }
        let names = models.isEmpty ? ["sim-default"] : models
        let data: JSONValue = ["models": .array(names.map {
            [
                "name": .string("models/\($0)"), "version": "001", "displayName": .string("\($0) (\(id))"),
                "inputTokenLimit": 1_048_576, "outputTokenLimit": 65_536,
                "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
            ]
        })]
        return Self.json(data.encoded(sorted: true), status: .ok)
    }

    static let geminiMethods = ["generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"]

    /// `POST /v1beta/models/{model}:{method}` for generateContent, streamGenerateContent (SSE with
    /// `?alt=sse`, else one JSON list), countTokens, embedContent and batchEmbedContents.
    func geminiCall(request: Request, context: SimContext, call: String) async throws -> Response {
        var request = request
        let bytes = try await request.collectBody(upTo: 4 << 20)
        let format = keep(body: Array(bytes.readableBytesView), head: request.head)
        guard format == .gemini else { return wrongRoute(format, request) }
        guard let colon = call.lastIndex(of: ":") else {
            return Self.shapedError(.gemini, 404, "models/\(call) needs a method: models/MODEL:generateContent")
        }
        let model = String(call[..<colon])
        let method = String(call[call.index(after: colon)...])
        guard Self.geminiMethods.contains(method) else {
            return Self.shapedError(.gemini, 404, "method '\(method)' is not served here; known: \(Self.geminiMethods.joined(separator: ", "))")
        }
        if let refused = geminiRefusal(request) { return refused }
        guard let fields = (try? JSONValue.parse(bytes.readableBytesView))?.objectValue else {
            return Self.shapedError(.gemini, 400, "Invalid JSON payload received: the body is not a JSON object")
        }
        if method == "embedContent" || method == "batchEmbedContents" {
            return try await geminiEmbed(fields: fields, model: model, batch: method == "batchEmbedContents", context: context)
        }
        if let problem = GeminiRules.problem(in: fields) { return Self.shapedError(.gemini, 400, problem) }
        if !models.isEmpty, !models.contains(model) {
            return Self.shapedError(.gemini, 404, "models/\(model) is not found for API version v1beta on \(id)")
        }
        let promptTokens = max(1, GeminiRules.textCharacters(fields) / 4)
        if method == "countTokens" {
            return Self.json(JSONValue.object(["totalTokens": JSONValue(promptTokens)]).encoded(sorted: true), status: .ok)
        }
        let streaming = method == "streamGenerateContent"
        let sse = request.uri.queryParameters["alt"] == "sse"
        let (outcome, behaviour, sequence) = nextOutcome(streaming: streaming)
        if let failure = try await failureAnswer(outcome, format: .gemini, streaming: streaming, context: context) { return failure }
        guard case .ok(let delay, let cut) = outcome else { return Self.shapedError(.gemini, 500, "unreachable") }
        if delay > 0 { try await Task.sleep(for: .seconds(delay)) }

        var outputTokens = behaviour.completionTokens
        if let cap = fields.field("generationConfig")?.field("maxOutputTokens")?.intValue, cap > 0 { outputTokens = min(outputTokens, cap) }
        let capped = outputTokens < behaviour.completionTokens
        var calls: [SimToolCall] = []
        let offered = GeminiRules.tools(fields)
        if !offered.isEmpty, SimTools.asks(GeminiRules.lastUserText(fields)) {
            calls = SimTools.calls(offered, parallel: behaviour.parallelToolCalls)
        }
        let responseID = "sim-\(sequence)-\(id)"
        func usage(_ candidates: Int) -> JSONValue {
            ["promptTokenCount": JSONValue(promptTokens), "candidatesTokenCount": JSONValue(candidates), "totalTokenCount": JSONValue(promptTokens + candidates)]
        }
        func response(_ parts: [JSONValue], finish: String?, candidates: Int) -> JSONValue {
            var candidate: [String: JSONValue] = ["content": ["parts": .array(parts), "role": "model"], "index": 0]
            if let finish { candidate["finishReason"] = .string(finish) }
            return ["candidates": [.object(candidate)], "usageMetadata": usage(candidates), "modelVersion": .string(model), "responseId": .string(responseID)]
        }
        let callParts: [JSONValue] = calls.map { ["functionCall": ["name": .string($0.name), "args": $0.arguments]] }
        let finish = capped && calls.isEmpty ? "MAX_TOKENS" : "STOP"
        let words = Self.words(count: outputTokens, provider: id)

        if !streaming {
            let parts = calls.isEmpty ? [["text": .string(words.joined())]] : callParts
            return Self.json(response(parts, finish: finish, candidates: outputTokens).encoded(sorted: true), status: .ok)
        }
        var chunks: [JSONValue] = []
        if calls.isEmpty {
            for (index, word) in words.enumerated() {
                let last = index == words.count - 1
                chunks.append(response([["text": .string(word)]], finish: last ? finish : nil, candidates: index + 1))
            }
        } else {
            // Gemini sends whole function calls, all of them in one chunk.
            chunks.append(response(callParts, finish: finish, candidates: outputTokens))
        }
        if !sse {
            return Self.json(JSONValue.array(chunks).encoded(sorted: true), status: .ok)
        }
        let events = chunks.map { SimEvent(text: "data: " + String(decoding: $0.encoded(sorted: true), as: UTF8.self) + "\r\n\r\n", paced: true) }
        let interval = behaviour.tokensPerSecond > 0 ? 1 / behaviour.tokensPerSecond : 0
        return Self.stream(events, interval: interval, cut: cut, split: behaviour.writeBytes)
    }
}
