import ClawShared

/// OpenAI chat to Google Gemini (`generateContent`) and back, for whole answers and errors.
enum GeminiTranslator {
    static func request(_ c: ChatConversation, provider: GatewayConfig.Provider) throws(ChatRequestError) -> [UInt8] {
        var unsupported = c.otherFields
        // An Anthropic client's metadata.user_id is bookkeeping Gemini has no field for; an OpenAI
        // client's `user` was asked for explicitly.
        if c.user != nil, !c.userFromMetadata { unsupported.append("user") }
        if c.thinking != nil { unsupported.append("thinking") }
        if c.parallelToolCalls == false, !c.tools.isEmpty { unsupported.append("parallel_tool_calls") }
        try ChatConversation.refuse(unsupported, for: provider)
        var body: [String: JSONValue] = [:]
        if !c.system.isEmpty {
            body["systemInstruction"] = ["parts": .array(c.system.map { ["text": .string($0)] })]
        }
        var contents = MergedTurns()
        func add(_ role: String, _ parts: [JSONValue]) { contents.add(role, parts) }
        for turn in c.turns {
            switch turn {
            case .user(let parts):
                add("user", try rendered(parts))
            case .assistant(let parts, let calls):
                add("model", try rendered(parts) + calls.map { ["functionCall": ["name": .string($0.name), "args": $0.arguments]] })
            case .tool(_, let name, let content):
                // A function's response must be an object: a JSON object as sent, else wrapped.
                let parsed = try? JSONValue.parse(bytes: Array(content.utf8))
                let response: JSONValue = parsed?.objectValue != nil ? parsed! : ["content": .string(content)]
                add("user", [["functionResponse": ["name": .string(name), "response": response]]])
            }
        }
        body["contents"] = .array(contents.turns.map { ["role": .string($0.role), "parts": .array($0.items)] })
        var generation: [String: JSONValue] = [:]
        if let n = c.maxTokens { generation["maxOutputTokens"] = JSONValue(n) }
        if let t = c.temperature { generation["temperature"] = .number(t) }
        if let p = c.topP { generation["topP"] = .number(p) }
        if let k = c.topK { generation["topK"] = JSONValue(k) }
        if !c.stop.isEmpty { generation["stopSequences"] = .array(c.stop.map { .string($0) }) }
        if let s = c.seed { generation["seed"] = JSONValue(s) }
        if let p = c.presencePenalty { generation["presencePenalty"] = .number(p) }
        if let f = c.frequencyPenalty { generation["frequencyPenalty"] = .number(f) }
        switch c.responseFormat {
        case .jsonObject?: generation["responseMimeType"] = "application/json"
        case .jsonSchema(_, let schema)?:
            generation["responseMimeType"] = "application/json"
            generation["responseJsonSchema"] = schema
        default: break
        }
        if !generation.isEmpty { body["generationConfig"] = .object(generation) }
        if !c.tools.isEmpty {
            body["tools"] = [["functionDeclarations": .array(c.tools.map { tool in
                var d: [String: JSONValue] = ["name": .string(tool.name)]
                if let text = tool.description { d["description"] = .string(text) }
                if let p = tool.parameters { d["parametersJsonSchema"] = p }
                return .object(d)
            })]]
        }
        switch c.tools.isEmpty ? nil : c.toolChoice {
        case .auto?: body["toolConfig"] = ["functionCallingConfig": ["mode": "AUTO"]]
        case .none?: body["toolConfig"] = ["functionCallingConfig": ["mode": "NONE"]]
        case .required?: body["toolConfig"] = ["functionCallingConfig": ["mode": "ANY"]]
        case .function(let name)?: body["toolConfig"] = ["functionCallingConfig": ["mode": "ANY", "allowedFunctionNames": [.string(name)]]]
        case nil: break
        }
        return JSONValue.object(body).bytes(sorted: true)
    }

    static func rendered(_ parts: [ChatConversation.Part]) throws(ChatRequestError) -> [JSONValue] {
        var out: [JSONValue] = []
        for p in parts {
            if let rendered = try part(p) { out.append(rendered) }
        }
        return out
    }

    static func part(_ part: ChatConversation.Part) throws(ChatRequestError) -> JSONValue? {
        switch part {
        case .text(let s): return s.isEmpty ? nil : ["text": .string(s)]
        case .inlineImage(let media, let data): return ["inlineData": ["mimeType": .string(media), "data": .string(data)]]
        case .imageURL(_, let path):
            throw ChatConversation.fail("'\(path)' is an http(s) image URL, which Gemini does not fetch; send the image as a data: URL (base64).",
                                        param: path, code: "unsupported_image_url")
        }
    }

    /// Gemini's finish reasons in OpenAI's words; `STOP` with a function call is `tool_calls`.
    static func finishReason(_ reason: String?, calledTools: Bool) -> String {
        switch reason {
        case "MAX_TOKENS": "length"
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": "content_filter"
        default: calledTools ? "tool_calls" : "stop"
        }
    }

    /// Gemini's usage: `promptTokenCount` already counts cached tokens; thoughts are completion tokens.
    static func usage(_ u: JSONValue?, into usage: inout TokenUsage) {
        guard let u, u.objectValue != nil else { return }
        let thoughts = u["thoughtsTokenCount"]?.intValue ?? 0
        usage.prompt = u["promptTokenCount"]?.intValue ?? usage.prompt
        usage.cached = u["cachedContentTokenCount"]?.intValue ?? 0
        usage.completion = (u["candidatesTokenCount"]?.intValue ?? 0) + thoughts
        usage.reasoning = thoughts
    }

    /// The text and function calls of a response's first candidate (thought parts are not content).
    static func content(_ response: JSONValue) -> (text: String, calls: [(name: String, args: JSONValue, id: String?)]) {
        var text = ""
        var calls: [(String, JSONValue, String?)] = []
        for part in response["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue ?? [] {
            if part["thought"]?.boolValue == true { continue }
            if let t = part["text"]?.stringValue { text += t }
            if let call = part["functionCall"], let name = call["name"]?.stringValue {
                calls.append((name, call["args"] ?? [:], call["id"]?.stringValue))
            }
        }
        return (text, calls)
    }

    static func answer(_ body: [UInt8], created: Int, model: String, fallbackID: String) -> Result<TranslatedAnswer, NotAnAnswer> {
        guard let response = try? JSONValue.parse(bytes: body), response.objectValue != nil,
              response["candidates"]?.arrayValue != nil || response["promptFeedback"] != nil
        else { return .failure(NotAnAnswer(why: "not a Gemini GenerateContentResponse")) }
        var usage = TokenUsage()
        Self.usage(response["usageMetadata"], into: &usage)
        let blocked = response["promptFeedback"]?["blockReason"]?.stringValue != nil && (response["candidates"]?.arrayValue?.isEmpty ?? true)
        let (text, calls) = content(response)
        let id = response["responseId"]?.stringValue ?? fallbackID
        var reply: [String: JSONValue] = ["role": "assistant", "content": blocked || (text.isEmpty && !calls.isEmpty) ? .null : .string(text)]
        if !calls.isEmpty {
            reply["tool_calls"] = .array(calls.enumerated().map { i, call in
                ["id": .string(call.id ?? "call_\(id)_\(i)"), "type": "function",
                 "function": ["name": .string(call.name), "arguments": .string(String(decoding: call.args.bytes(sorted: true), as: UTF8.self))]]
            })
        }
        let reason = blocked ? "content_filter"
            : finishReason(response["candidates"]?.arrayValue?.first?["finishReason"]?.stringValue, calledTools: !calls.isEmpty)
        let answer: JSONValue = [
            "id": .string(id), "object": "chat.completion", "created": JSONValue(created),
            "model": .string(response["modelVersion"]?.stringValue ?? model),
            "choices": [["index": 0, "message": .object(reply), "finish_reason": .string(reason), "logprobs": .null]],
            "usage": usage.json,
        ]
        return .success(TranslatedAnswer(body: answer.bytes(sorted: true), usage: usage))
    }

    /// The statuses that are the provider's fault whatever the HTTP status says.
    static let providerStatuses: Set<String> = ["RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "PERMISSION_DENIED",
                                                "UNAUTHENTICATED"]

    static func error(status: Int, headers: [(String, String)], body: [UInt8]) -> UpstreamError {
        let parsed = try? JSONValue.parse(bytes: body)
        let error = parsed?["error"] ?? parsed?.arrayValue?.first?["error"]
        let word = error?["status"]?.stringValue
        let message = error?["message"]?.stringValue ?? "status \(status) from the provider"
        var outcome = AttemptOutcome.classify(status: status)
        if outcome.fault == .client, let word, providerStatuses.contains(word) { outcome = .status(status) }
        var retryAfter = RetryHint.retryAfter(headers)
        if retryAfter == nil {
            // google.rpc.RetryInfo: {"retryDelay": "30s"}
            for detail in error?["details"]?.arrayValue ?? [] {
                if let delay = detail["retryDelay"]?.stringValue, delay.hasSuffix("s"), let seconds = Double(delay.dropLast()) {
                    retryAfter = seconds
                }
            }
        }
        return UpstreamError(outcome: outcome, message: message, type: word, retryAfter: retryAfter)
    }
}
