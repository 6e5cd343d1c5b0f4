import ClawShared
import Foundation
import HTTPTypes
import Hummingbird

extension SimProvider {
    /// Which door a Responses request came in by: OpenAI's `/v1/responses`, Azure's
    /// `/openai/responses?api-version=...`, or Azure's v1 surface `/openai/v1/responses` (no
    /// api-version; `api-key` or a bearer token).
    enum ResponsesRoute {
        case openai, azure, azureV1
        var format: SimFormat { self == .openai ? .openai : .azureOpenAI }
    }

    /// Azure's v1 surface takes `api-key` or `authorization: Bearer ...`, and no api-version.
    func azureV1Refusal(_ request: Request) -> Response? {
        let bearer = request.headers[.authorization].map { $0.hasPrefix("Bearer ") && $0.count > 7 } ?? false
        if request.headers[Self.azureKeyHeader]?.isEmpty ?? true, !bearer {
            let body: JSONValue = ["error": [
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
            ]]
            return Self.json(body.encoded(sorted: true), status: .unauthorized)
        }
        return nil
    }

    /// `POST /v1/responses` (and Azure's two routes to it): JSON, or SSE with `"stream": true`.
    func responses(request: Request, context: SimContext, route: ResponsesRoute) async throws -> Response {
        var request = request
        let bytes = try await request.collectBody(upTo: 4 << 20)
        let format = keep(body: Array(bytes.readableBytesView), head: request.head)
        if format != route.format { return wrongRoute(format, request) }
        switch route {
        case .openai: break
        case .azure: if let refused = azureRefusal(request) { return refused }
        case .azureV1: if let refused = azureV1Refusal(request) { return refused }
        }
        guard let fields = (try? JSONValue.parse(bytes.readableBytesView))?.objectValue else {
            return Self.error(.badRequest, "request body is not a JSON object", type: "invalid_request_error")
        }
        if let problem = ResponsesRules.problem(in: fields) { return Self.fieldError(problem.field, code: problem.code) }
        let model = fields["model"]?.stringValue ?? ""
        if !models.isEmpty, !models.contains(model) {
            if route != .openai {
                return Self.error(.notFound, "The API deployment '\(model)' does not exist on \(id)", type: "invalid_request_error", code: "DeploymentNotFound")
            }
            return Self.error(.notFound, "model '\(model)' does not exist on \(id)", type: "invalid_request_error", code: "model_not_found")
        }
        let streaming = fields["stream"]?.boolValue ?? false
        let inputTokens = max(1, ResponsesRules.textCharacters(fields) / 4)
        let (outcome, behaviour, sequence) = nextOutcome(streaming: streaming)
        let responseID = "resp_sim_\(sequence)_\(id)"
        let created = JSONValue(Int(Date().timeIntervalSince1970))
        func response(status: String, output: [JSONValue], usage: JSONValue = .null, incomplete: JSONValue = .null, error: JSONValue = .null) -> JSONValue {
            [
                "id": .string(responseID), "object": "response", "created_at": created, "status": .string(status),
                "background": false, "error": error, "incomplete_details": incomplete,
                "instructions": fields["instructions"] ?? .null, "max_output_tokens": fields["max_output_tokens"] ?? .null,
                "max_tool_calls": .null, "model": .string(model), "output": .array(output),
                "parallel_tool_calls": fields["parallel_tool_calls"] ?? true, "previous_response_id": .null,
                "reasoning": ["effort": .null, "summary": .null], "service_tier": "default", "store": fields["store"] ?? true,
                "temperature": fields["temperature"] ?? 1.0, "text": fields["text"] ?? ["format": ["type": "text"], "verbosity": "medium"],
                "tool_choice": fields["tool_choice"] ?? "auto", "tools": fields["tools"] ?? [], "top_p": fields["top_p"] ?? 1.0,
                "truncation": "disabled", "usage": usage, "user": .null, "metadata": fields["metadata"] ?? [:],
                "completed_at": status == "completed" ? created : .null,
            ]
        }
        if case .midstreamError(let delay) = outcome {
            // The Responses API's own failure events, not chat's bare `data: {"error": ...}` line.
            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
            let message = "\(id) is overloaded (simulated, mid-stream)"
            let error: JSONValue = ["type": "error", "code": "overloaded", "message": .string(message), "param": .null, "sequence_number": 0]
            let failed: JSONValue = [
                "type": "response.failed", "sequence_number": 1,
                "response": response(status: "failed", output: [], error: ["code": "server_error", "message": .string(message)]),
            ]
            return Self.stream([SimEvent(text: Self.sse("error", error)), SimEvent(text: Self.sse("response.failed", failed))], interval: 0, cut: false)
        }
        if let failure = try await failureAnswer(outcome, format: route.format, streaming: streaming, context: context) { return failure }
        guard case .ok(let delay, let cut) = outcome else { return Self.error(.internalServerError, "unreachable", type: "server_error") }
        if delay > 0 { try await Task.sleep(for: .seconds(delay)) }

        var outputTokens = behaviour.completionTokens
        if let cap = fields["max_output_tokens"]?.intValue { outputTokens = min(outputTokens, cap) }
        let offered = ResponsesRules.tools(fields)
        let calls = !offered.isEmpty && SimTools.asks(ResponsesRules.lastUserText(fields))
            ? SimTools.calls(offered, parallel: fields["parallel_tool_calls"]?.boolValue ?? behaviour.parallelToolCalls) : []
        let capped = calls.isEmpty && outputTokens < behaviour.completionTokens
        let finalStatus = capped ? "incomplete" : "completed"
        let incomplete: JSONValue = capped ? ["reason": "max_output_tokens"] : .null
        let usage: JSONValue = [
            "input_tokens": JSONValue(inputTokens), "input_tokens_details": ["cached_tokens": 0, "cache_write_tokens": 0],
            "output_tokens": JSONValue(outputTokens), "output_tokens_details": ["reasoning_tokens": 0],
            "total_tokens": JSONValue(inputTokens + outputTokens),
        ]
        let words = Self.words(count: outputTokens, provider: id)
        let messageID = "msg_sim_\(sequence)_\(id)"
        func message(_ text: String?, status: String) -> JSONValue {
            let content: [JSONValue] = text.map { [["type": "output_text", "text": .string($0), "annotations": [], "logprobs": []]] } ?? []
            return ["type": "message", "id": .string(messageID), "status": .string(status), "role": "assistant", "content": .array(content)]
        }
        func call(_ index: Int, arguments: String, status: String) -> JSONValue {
            [
                "type": "function_call", "id": .string("fc_sim_\(sequence)_\(index)"), "call_id": .string("call_sim_\(sequence)_\(index)"),
                "name": .string(calls[index].name), "arguments": .string(arguments), "status": .string(status),
            ]
        }
        let finalOutput: [JSONValue] = calls.isEmpty
            ? [message(words.joined(), status: finalStatus)]
            : calls.indices.map { call($0, arguments: calls[$0].argumentsText, status: "completed") }
        let final = response(status: finalStatus, output: finalOutput, usage: usage, incomplete: incomplete)
        if !streaming { return Self.json(final.encoded(sorted: true), status: .ok) }

        var number = 0
        var events: [SimEvent] = []
        func add(_ type: String, _ fields: [String: JSONValue], paced: Bool = false) {
            var data = fields
            data["type"] = .string(type)
            data["sequence_number"] = JSONValue(number)
            number += 1
            events.append(SimEvent(text: Self.sse(type, .object(data)), paced: paced))
        }
        add("response.created", ["response": response(status: "in_progress", output: [])])
        add("response.in_progress", ["response": response(status: "in_progress", output: [])])
        if calls.isEmpty {
            let item: [String: JSONValue] = ["item_id": .string(messageID), "output_index": 0, "content_index": 0]
            add("response.output_item.added", ["output_index": 0, "item": message(nil, status: "in_progress")])
            add("response.content_part.added", item.merging(["part": ["type": "output_text", "text": "", "annotations": [], "logprobs": []]]) { $1 })
            for word in words {
                add("response.output_text.delta", item.merging(["delta": .string(word), "logprobs": []]) { $1 }, paced: true)
            }
            add("response.output_text.done", item.merging(["text": .string(words.joined()), "logprobs": []]) { $1 })
            add("response.content_part.done", item.merging(["part": ["type": "output_text", "text": .string(words.joined()), "annotations": [], "logprobs": []]]) { $1 })
            add("response.output_item.done", ["output_index": 0, "item": finalOutput[0]])
        } else {
            for index in calls.indices {
                let itemID = JSONValue.string("fc_sim_\(sequence)_\(index)")
                add("response.output_item.added", ["output_index": JSONValue(index), "item": call(index, arguments: "", status: "in_progress")])
                for piece in SimTools.pieces(calls[index].argumentsText) {
                    add("response.function_call_arguments.delta", ["item_id": itemID, "output_index": JSONValue(index), "delta": .string(piece)], paced: true)
                }
                add("response.function_call_arguments.done", ["item_id": itemID, "output_index": JSONValue(index), "name": .string(calls[index].name),
                                                              "arguments": .string(calls[index].argumentsText)])
                add("response.output_item.done", ["output_index": JSONValue(index), "item": finalOutput[index]])
            }
        }
        add(capped ? "response.incomplete" : "response.completed", ["response": final])
        let interval = behaviour.tokensPerSecond > 0 ? 1 / behaviour.tokensPerSecond : 0
        return Self.stream(events, interval: interval, cut: cut, split: behaviour.writeBytes)
    }

    /// One named server-sent event, as the Responses API writes them.
    static func sse(_ name: String, _ data: JSONValue) -> String {
        "event: \(name)\ndata: " + String(decoding: data.encoded(sorted: true), as: UTF8.self) + "\n\n"
    }
}
