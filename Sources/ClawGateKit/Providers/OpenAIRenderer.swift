import ClawShared

/// A conversation written as an OpenAI chat request, for a client of another format (Anthropic
/// Messages) reaching an `openai` or `azure_openai` provider.
enum OpenAIRenderer {
    static func request(_ c: ChatConversation, model: String, provider: GatewayConfig.Provider) throws(ChatRequestError) -> [UInt8] {
        let unsupported = AnthropicClientTranslator.unsupported(c, kind: provider.kind)
        try ChatConversation.refuse(unsupported, for: provider)
        var messages: [JSONValue] = c.system.map { ["role": "system", "content": .string($0)] }
        for turn in c.turns {
            switch turn {
            case .user(let parts):
                messages.append(["role": "user", "content": content(parts)])
            case .assistant(let parts, let calls):
                var m: [String: JSONValue] = ["role": "assistant"]
                let text = parts.compactMap { if case .text(let s) = $0 { s } else { nil } }.joined()
                m["content"] = text.isEmpty && !calls.isEmpty ? .null : .string(text)
                if !calls.isEmpty {
                    m["tool_calls"] = .array(calls.map { call in
                        ["id": .string(call.id), "type": "function",
                         "function": ["name": .string(call.name), "arguments": .string(String(decoding: call.arguments.bytes(sorted: true), as: UTF8.self))]]
                    })
                }
                messages.append(.object(m))
            case .tool(let id, _, let content):
                messages.append(["role": "tool", "tool_call_id": .string(id), "content": .string(content)])
            }
        }
        var body: [String: JSONValue] = ["model": .string(model), "messages": .array(messages)]
        if let n = c.maxTokens { body["max_tokens"] = JSONValue(n) }
        if let t = c.temperature { body["temperature"] = .number(t) }
        if let p = c.topP { body["top_p"] = .number(p) }
        if !c.stop.isEmpty { body["stop"] = .array(c.stop.map { .string($0) }) }
        if let user = c.user { body["user"] = .string(user) }
        if c.streaming {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        }
        if !c.tools.isEmpty {
            body["tools"] = .array(c.tools.map { tool in
                var f: [String: JSONValue] = ["name": .string(tool.name)]
                if let d = tool.description { f["description"] = .string(d) }
                if let p = tool.parameters { f["parameters"] = p }
                return ["type": "function", "function": .object(f)]
            })
            switch c.toolChoice {
            case .auto?: body["tool_choice"] = "auto"
            case .none?: body["tool_choice"] = "none"
            case .required?: body["tool_choice"] = "required"
            case .function(let name)?: body["tool_choice"] = ["type": "function", "function": ["name": .string(name)]]
            case nil: break
            }
            if c.parallelToolCalls == false { body["parallel_tool_calls"] = false }
        }
        return JSONValue.object(body).bytes(sorted: true)
    }

    static func content(_ parts: [ChatConversation.Part]) -> JSONValue {
        if parts.count == 1, case .text(let s) = parts[0] { return .string(s) }
        return .array(parts.map { part in
            switch part {
            case .text(let s): ["type": "text", "text": .string(s)]
            case .inlineImage(let media, let data): ["type": "image_url", "image_url": ["url": .string("data:\(media);base64,\(data)")]]
            case .imageURL(let url, _): ["type": "image_url", "image_url": ["url": .string(url)]]
            }
        })
    }
}
