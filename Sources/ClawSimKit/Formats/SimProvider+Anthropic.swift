import ClawShared
import Foundation
import HTTPTypes
import Hummingbird

extension SimProvider {
    static let anthropicKeyHeader = HTTPField.Name("x-api-key")!
    static let anthropicVersionHeader = HTTPField.Name("anthropic-version")!

    /// Anthropic's header checks: a key (401) and `anthropic-version` (400). The key is `x-api-key`;
    /// `authorization: Bearer ...` counts too, as the official Python SDK (2.x) sends its key that way.
    func anthropicRefusal(_ request: Request) -> Response? {
        let bearer = request.headers[.authorization].map { $0.hasPrefix("Bearer ") && $0.count > 7 } ?? false
        if request.headers[Self.anthropicKeyHeader]?.isEmpty ?? true, !bearer {
            return Self.shapedError(.anthropic, 401, "x-api-key header is required")
        }
        if request.headers[Self.anthropicVersionHeader]?.isEmpty ?? true {
            return Self.shapedError(.anthropic, 400, "anthropic-version: header is required")
        }
        return nil
    }

    /// `GET /v1/models` in Anthropic's shape.
    func anthropicModels(request: Request) -> Response {
        if let refused = anthropicRefusal(request) { return refused }
        if behaviour.outage { return Self.shapedError(.anthropic, 503, "\(id) is down (simulated outage)") }
        let names = models.isEmpty ? ["sim-default"] : models
        let data: JSONValue = [
            "data": .array(names.map { ["type": "model", "id": .string($0), "display_name": .string("\($0) (\(id))"), "created_at": "2025-01-01T00:00:00Z"] }),
            "has_more": false,
            "first_id": .string(names.first!),
            "last_id": .string(names.last!),
        ]
        return Self.json(data.encoded(sorted: true), status: .ok)
    }

    /// The body of an Anthropic request, kept and checked: the parsed fields, or the answer refusing it.
    func anthropicBody(_ request: inout Request, countTokens: Bool) async throws -> Result<[String: JSONValue], AnswerNow> {
        let bytes = try await request.collectBody(upTo: 4 << 20)
        let format = keep(body: Array(bytes.readableBytesView), head: request.head)
        guard format == .anthropic else { return .failure(AnswerNow(wrongRoute(format, request))) }
        if let refused = anthropicRefusal(request) { return .failure(AnswerNow(refused)) }
        guard let fields = (try? JSONValue.parse(bytes.readableBytesView))?.objectValue else {
            return .failure(AnswerNow(Self.shapedError(.anthropic, 400, "request body is not a JSON object")))
        }
        if let problem = AnthropicRules.problem(in: fields, countTokens: countTokens) {
            return .failure(AnswerNow(Self.shapedError(.anthropic, 400, problem)))
        }
        let model = fields["model"]?.stringValue ?? ""
        if !models.isEmpty, !models.contains(model) {
            return .failure(AnswerNow(Self.shapedError(.anthropic, 404, "model: \(model) does not exist on \(id)")))
        }
        return .success(fields)
    }

    /// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, the same count `/v1/messages` reports.
    func anthropicCountTokens(request: Request) async throws -> Response {
        var request = request
        let fields: [String: JSONValue]
        switch try await anthropicBody(&request, countTokens: true) {
        case .failure(let refused): return refused.response
        case .success(let body): fields = body
        }
        if behaviour.outage { return Self.shapedError(.anthropic, 503, "\(id) is down (simulated outage)") }
        let tokens = max(1, AnthropicRules.textCharacters(fields) / 4)
        return Self.json(JSONValue.object(["input_tokens": JSONValue(tokens)]).encoded(sorted: true), status: .ok)
    }

    /// `POST /v1/messages`, JSON or streamed with `"stream": true`.
    func anthropicMessages(request: Request, context: SimContext) async throws -> Response {
        var request = request
        let fields: [String: JSONValue]
        switch try await anthropicBody(&request, countTokens: false) {
        case .failure(let refused): return refused.response
        case .success(let body): fields = body
        }
        let model = fields["model"]?.stringValue ?? ""
        let streaming = fields["stream"]?.boolValue ?? false
        let inputTokens = max(1, AnthropicRules.textCharacters(fields) / 4)
        let (outcome, behaviour, sequence) = nextOutcome(streaming: streaming)
        if let failure = try await failureAnswer(outcome, format: .anthropic, streaming: streaming, context: context) { return failure }
        guard case .ok(let delay, let cut) = outcome else { return Self.shapedError(.anthropic, 500, "unreachable") }
        if delay > 0 { try await Task.sleep(for: .seconds(delay)) }

        let maxTokens = fields["max_tokens"]?.intValue ?? behaviour.completionTokens
        let outputTokens = min(behaviour.completionTokens, maxTokens)
        var calls: [SimToolCall] = []
        if let tools = fields["tools"]?.arrayValue, SimTools.asks(AnthropicRules.lastUserText(fields)) {
            let offered = tools.compactMap { tool in tool["name"]?.stringValue.map { (name: $0, schema: tool["input_schema"]) } }
            calls = SimTools.calls(offered, parallel: behaviour.parallelToolCalls)
        }
        let stopReason = !calls.isEmpty ? "tool_use" : outputTokens < behaviour.completionTokens ? "max_tokens" : "end_turn"
        let text = calls.isEmpty ? Self.words(count: outputTokens, provider: id) : ["Calling ", calls[0].name, "."]
        let messageID = "msg_sim_\(sequence)_\(id)"
        let toolIDs = calls.indices.map { "toolu_sim_\(sequence)_\($0)" }
        let headers: HTTPFields = [Self.requestIDHeader: "req_sim_\(sequence)_\(id)"]
        let usage: JSONValue = [
            "input_tokens": JSONValue(inputTokens), "output_tokens": JSONValue(outputTokens),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
        ]

        if !streaming {
            var content: [JSONValue] = [["type": "text", "text": .string(text.joined())]]
            for (index, call) in calls.enumerated() {
                content.append(["type": "tool_use", "id": .string(toolIDs[index]), "name": .string(call.name), "input": call.arguments])
            }
            let answer: JSONValue = [
                "id": .string(messageID), "type": "message", "role": "assistant", "model": .string(model),
                "content": .array(content), "stop_reason": .string(stopReason), "stop_sequence": .null, "usage": usage,
            ]
            return Self.json(answer.encoded(sorted: true), status: .ok, headers: headers)
        }

        func event(_ name: String, _ data: JSONValue) -> String {
            "event: \(name)\ndata: " + String(decoding: data.encoded(sorted: true), as: UTF8.self) + "\n\n"
        }
        let startUsage: JSONValue = [
            "input_tokens": JSONValue(inputTokens), "output_tokens": 1,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
        ]
        var events = [
            SimEvent(text: event("message_start", ["type": "message_start", "message": [
                "id": .string(messageID), "type": "message", "role": "assistant", "model": .string(model), "content": [],
                "stop_reason": .null, "stop_sequence": .null, "usage": startUsage,
            ]])),
            SimEvent(text: event("content_block_start", ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]])),
            SimEvent(text: event("ping", ["type": "ping"])),
        ]
        for word in text {
            events.append(SimEvent(text: event("content_block_delta", [
                "type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": .string(word)],
            ]), paced: true))
        }
        events.append(SimEvent(text: event("content_block_stop", ["type": "content_block_stop", "index": 0])))
        for (offset, call) in calls.enumerated() {
            let index = JSONValue(offset + 1)
            events.append(SimEvent(text: event("content_block_start", [
                "type": "content_block_start", "index": index,
                "content_block": ["type": "tool_use", "id": .string(toolIDs[offset]), "name": .string(call.name), "input": [:]],
            ])))
            for piece in SimTools.pieces(call.argumentsText) {
                events.append(SimEvent(text: event("content_block_delta", [
                    "type": "content_block_delta", "index": index, "delta": ["type": "input_json_delta", "partial_json": .string(piece)],
                ]), paced: true))
            }
            events.append(SimEvent(text: event("content_block_stop", ["type": "content_block_stop", "index": index])))
        }
        events.append(SimEvent(text: event("message_delta", [
            "type": "message_delta", "delta": ["stop_reason": .string(stopReason), "stop_sequence": .null],
            "usage": ["output_tokens": JSONValue(outputTokens)],
        ])))
        events.append(SimEvent(text: event("message_stop", ["type": "message_stop"])))
        let interval = behaviour.tokensPerSecond > 0 ? 1 / behaviour.tokensPerSecond : 0
        return Self.stream(events, interval: interval, cut: cut, headers: headers, split: behaviour.writeBytes)
    }
}

/// An answer decided before the request reaches its behaviour (wrong route, auth, a broken rule).
struct AnswerNow: Error {
    let response: Response
    init(_ response: Response) { self.response = response }
}
