import ClawShared
import Foundation

/// OpenAI chat to Anthropic Messages (`POST /v1/messages`) and back, for whole answers and errors.
enum AnthropicTranslator {
    /// The Messages request for a conversation. System and developer messages become top-level
    /// `system` blocks in order; consecutive turns of one role are merged (Anthropic requires
    /// alternating roles), so tool results become one user turn of `tool_result` blocks.
    static func request(_ c: ChatConversation, model: String, provider: GatewayConfig.Provider) throws(ChatRequestError) -> [UInt8] {
        var unsupported = c.otherFields
        if c.seed != nil { unsupported.append("seed") }
        if c.presencePenalty != nil { unsupported.append("presence_penalty") }
        if c.frequencyPenalty != nil { unsupported.append("frequency_penalty") }
        switch c.responseFormat {
        case .jsonObject?, .jsonSchema?: unsupported.append("response_format")
        default: break
        }
        if c.tools.contains(where: \.strict) { unsupported.append("tools[].function.strict") }
        try ChatConversation.refuse(unsupported, for: provider)
        var body: [String: JSONValue] = [
            "model": .string(model),
            "max_tokens": JSONValue(c.maxTokens ?? provider.maxTokensDefault ?? ProviderKind.anthropicDefaultMaxTokens),
        ]
        if !c.system.isEmpty {
            body["system"] = .array(c.system.map { ["type": "text", "text": .string($0)] })
        }
        var messages = MergedTurns()
        func add(_ role: String, _ blocks: [JSONValue]) { messages.add(role, blocks) }
        for turn in c.turns {
            switch turn {
            case .user(let parts):
                add("user", parts.compactMap(block))
            case .assistant(let parts, let calls):
                add("assistant", parts.compactMap(block) + calls.map { call in
                    ["type": "tool_use", "id": .string(call.id), "name": .string(call.name), "input": call.arguments]
                })
            case .tool(let id, _, let content):
                add("user", [["type": "tool_result", "tool_use_id": .string(id), "content": .string(content)]])
            }
        }
        body["messages"] = .array(messages.turns.map { ["role": .string($0.role), "content": .array($0.items)] })
        if let t = c.temperature { body["temperature"] = .number(t) }
        if let p = c.topP { body["top_p"] = .number(p) }
        if !c.stop.isEmpty { body["stop_sequences"] = .array(c.stop.map { .string($0) }) }
        if c.streaming { body["stream"] = true }
        if let user = c.user { body["metadata"] = ["user_id": .string(user)] }
        if !c.tools.isEmpty {
            body["tools"] = .array(c.tools.map { tool in
                var t: [String: JSONValue] = ["name": .string(tool.name),
                                              "input_schema": tool.parameters ?? ["type": "object", "properties": [:]]]
                if let d = tool.description { t["description"] = .string(d) }
                return .object(t)
            })
        }
        var choice: [String: JSONValue]?
        switch c.toolChoice {
        case .auto?: choice = ["type": "auto"]
        case .none?: choice = ["type": "none"]
        case .required?: choice = ["type": "any"]
        case .function(let name)?: choice = ["type": "tool", "name": .string(name)]
        case nil: choice = nil
        }
        if c.parallelToolCalls == false, !c.tools.isEmpty {
            var with = choice ?? ["type": "auto"]
            if with["type"] != "none" { with["disable_parallel_tool_use"] = true }
            choice = with
        }
        if let choice, !c.tools.isEmpty || choice["type"] == "none" { body["tool_choice"] = .object(choice) }
        return JSONValue.object(body).bytes(sorted: true)
    }

    static func block(_ part: ChatConversation.Part) -> JSONValue? {
        switch part {
        case .text(let s):
            // Anthropic refuses empty text blocks; an empty part says nothing.
            return s.isEmpty ? nil : ["type": "text", "text": .string(s)]
        case .inlineImage(let media, let data):
            return ["type": "image", "source": ["type": "base64", "media_type": .string(media), "data": .string(data)]]
        case .imageURL(let url, _):
            return ["type": "image", "source": ["type": "url", "url": .string(url)]]
        }
    }

    /// Anthropic's stop reasons in OpenAI's words.
    static func finishReason(_ reason: String?) -> String {
        switch reason {
        case "max_tokens": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"  // end_turn, stop_sequence, pause_turn
        }
    }

    /// Anthropic's usage in OpenAI's terms: every input token counts, cache writes and reads too.
    static func usage(_ u: JSONValue?, into usage: inout TokenUsage) {
        guard let u else { return }
        let input = u["input_tokens"]?.intValue
        let creation = u["cache_creation_input_tokens"]?.intValue
        let read = u["cache_read_input_tokens"]?.intValue
        if input != nil || creation != nil || read != nil {
            usage.prompt = (input ?? 0) + (creation ?? 0) + (read ?? 0)
            usage.cached = read ?? 0
        }
        if let output = u["output_tokens"]?.intValue { usage.completion = output }
    }

    static func answer(_ body: [UInt8], created: Int) -> Result<TranslatedAnswer, NotAnAnswer> {
        guard let message = try? JSONValue.parse(bytes: body), message["type"]?.stringValue == "message",
              let content = message["content"]?.arrayValue
        else { return .failure(NotAnAnswer(why: "not an Anthropic message")) }
        var text = ""
        var calls: [JSONValue] = []
        for block in content {
            switch block["type"]?.stringValue {
            case "text": text += block["text"]?.stringValue ?? ""
            case "tool_use":
                calls.append(["id": .string(block["id"]?.stringValue ?? ""), "type": "function",
                              "function": ["name": .string(block["name"]?.stringValue ?? ""),
                                           "arguments": .string(String(decoding: (block["input"] ?? [:]).bytes(sorted: true), as: UTF8.self))]])
            default: break  // thinking and redacted thinking are not content
            }
        }
        var usage = TokenUsage()
        Self.usage(message["usage"], into: &usage)
        var reply: [String: JSONValue] = ["role": "assistant", "content": text.isEmpty && !calls.isEmpty ? .null : .string(text)]
        if !calls.isEmpty { reply["tool_calls"] = .array(calls) }
        let answer: JSONValue = [
            "id": .string(message["id"]?.stringValue ?? ""), "object": "chat.completion", "created": JSONValue(created),
            "model": .string(message["model"]?.stringValue ?? ""),
            "choices": [["index": 0, "message": .object(reply), "finish_reason": .string(finishReason(message["stop_reason"]?.stringValue)),
                         "logprobs": .null]],
            "usage": usage.json,
        ]
        return .success(TranslatedAnswer(body: answer.bytes(sorted: true), usage: usage))
    }

    /// The error types that are the provider's fault whatever the status says.
    static let providerTypes: Set<String> = ["overloaded_error", "api_error", "rate_limit_error", "authentication_error", "permission_error"]

    static func error(status: Int, headers: [(String, String)], body: [UInt8], now: Double) -> UpstreamError {
        let parsed = try? JSONValue.parse(bytes: body)
        let type = parsed?["error"]?["type"]?.stringValue
        let message = parsed?["error"]?["message"]?.stringValue ?? "status \(status) from the provider"
        var outcome = AttemptOutcome.classify(status: status)
        if outcome.fault == .client, let type, providerTypes.contains(type) { outcome = .status(status) }
        var retryAfter = RetryHint.retryAfter(headers)
        if retryAfter == nil {
            // anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset: RFC 3339 times.
            let resets = headers.filter { $0.0.lowercased().hasPrefix("anthropic-ratelimit-") && $0.0.lowercased().hasSuffix("-reset") }
                .compactMap { Self.rfc3339($0.1) }
            if status == 429, let latest = resets.max() { retryAfter = max(0, latest - now) }
        }
        return UpstreamError(outcome: outcome, message: message, type: type, retryAfter: retryAfter)
    }

    static func rfc3339(_ text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }
}
