import ClawShared

/// Anthropic Messages clients (`/v1/messages`) reaching providers of other kinds: the request read
/// into a `ChatConversation` (the reverse of the chat translation) and OpenAI answers written back
/// in Anthropic's shapes.
enum AnthropicClientTranslator {
    static func fail(_ message: String, param: String, code: String = "invalid_request") -> ChatRequestError {
        ChatRequestError(message: message, code: code, param: param)
    }

    /// The fields this reader models; anything else is refused where it cannot be honoured.
    static let read: Set<String> = [
        "model", "messages", "system", "max_tokens", "stream", "temperature", "top_p", "top_k", "stop_sequences", "tools", "tool_choice",
        "metadata", "thinking",
    ]

    static func conversation(_ body: JSONValue) throws(ChatRequestError) -> ChatConversation {
        guard let fields = body.objectValue else { throw fail("The request body must be a JSON object.", param: "") }
        var c = ChatConversation()
        c.otherFields = fields.keys.filter { !read.contains($0) }.sorted()
        c.streaming = fields["stream"]?.boolValue ?? false
        c.includeUsage = true
        c.maxTokens = fields["max_tokens"]?.intValue
        if let t = fields["temperature"], t != .null {
            guard let d = t.doubleValue, d >= 0, d <= 1 else { throw fail("temperature: must be a number between 0 and 1.", param: "temperature") }
            c.temperature = d
        }
        if let p = fields["top_p"], p != .null {
            guard let d = p.doubleValue, d >= 0, d <= 1 else { throw fail("top_p: must be a number between 0 and 1.", param: "top_p") }
            c.topP = d
        }
        if let k = fields["top_k"], k != .null {
            guard let n = k.intValue, n >= 0 else { throw fail("top_k: must be a whole number.", param: "top_k") }
            c.topK = n
        }
        if let stop = fields["stop_sequences"], stop != .null {
            guard let list = stop.arrayValue?.compactMap(\.stringValue), list.count == stop.arrayValue?.count else {
                throw fail("stop_sequences: must be a list of strings.", param: "stop_sequences")
            }
            c.stop = list
        }
        if let user = fields["metadata"]?["user_id"]?.stringValue {
            c.user = user
            c.userFromMetadata = true
        }
        if let thinking = fields["thinking"], thinking != .null, thinking["type"]?.stringValue != "disabled" { c.thinking = thinking }
        switch fields["system"] {
        case nil, .null?: break
        case .string(let s)?: c.system = [s]
        case .array(let blocks)?:
            for (i, block) in blocks.enumerated() {
                guard block["type"]?.stringValue == "text", let text = block["text"]?.stringValue else {
                    throw fail("system.\(i): must be a text block.", param: "system.\(i)")
                }
                c.system.append(text)
            }
        default: throw fail("system: must be a string or a list of text blocks.", param: "system")
        }
        c.tools = try tools(fields["tools"])
        if let choice = fields["tool_choice"], choice != .null {
            switch choice["type"]?.stringValue {
            case "auto": c.toolChoice = .auto
            case "any": c.toolChoice = .required
            case "none": c.toolChoice = ChatConversation.ToolChoice.none
            case "tool":
                guard let name = choice["name"]?.stringValue else { throw fail("tool_choice.name: Field required.", param: "tool_choice.name") }
                c.toolChoice = .function(name)
            default: throw fail("tool_choice.type: must be auto, any, none or tool.", param: "tool_choice.type")
            }
            if choice["disable_parallel_tool_use"]?.boolValue == true { c.parallelToolCalls = false }
        }
        try messages(fields["messages"]?.arrayValue ?? [], into: &c)
        return c
    }

    static func tools(_ value: JSONValue?) throws(ChatRequestError) -> [ChatConversation.Tool] {
        guard let value, value != .null else { return [] }
        guard let list = value.arrayValue else { throw fail("tools: must be a list.", param: "tools") }
        var out: [ChatConversation.Tool] = []
        for (i, tool) in list.enumerated() {
            // Server tools (web search, code execution, ...) have a type and run at Anthropic only.
            if let type = tool["type"]?.stringValue, type != "custom" {
                throw fail("tools.\(i): '\(type)' is a tool only Anthropic runs; it cannot be sent to this provider.", param: "tools.\(i)",
                           code: "unsupported_parameter")
            }
            guard let name = tool["name"]?.stringValue, !name.isEmpty else { throw fail("tools.\(i).name: Field required.", param: "tools.\(i).name") }
            guard let schema = tool["input_schema"], schema.objectValue != nil else {
                throw fail("tools.\(i).input_schema: Field required (a JSON schema object).", param: "tools.\(i).input_schema")
            }
            out.append(.init(name: name, description: tool["description"]?.stringValue, parameters: schema, strict: false))
        }
        return out
    }

    static func messages(_ list: [JSONValue], into c: inout ChatConversation) throws(ChatRequestError) {
        var callNames: [String: String] = [:]
        for (i, message) in list.enumerated() {
            let at = "messages.\(i)"
            let role = message["role"]?.stringValue
            var parts: [ChatConversation.Part] = []
            var calls: [ChatConversation.ToolCall] = []
            var results: [ChatConversation.Turn] = []
            let blocks: [JSONValue]
            switch message["content"] {
            case .string(let s)?: blocks = [["type": "text", "text": .string(s)]]
            case .array(let b)?: blocks = b
            default: throw fail("\(at).content: must be a string or a list of content blocks.", param: "\(at).content")
            }
            for (j, block) in blocks.enumerated() {
                let blockAt = "\(at).content.\(j)"
                switch block["type"]?.stringValue {
                case "text":
                    parts.append(.text(block["text"]?.stringValue ?? ""))
                case "image":
                    let source = block["source"]
                    switch source?["type"]?.stringValue {
                    case "base64":
                        guard let media = source?["media_type"]?.stringValue, let data = source?["data"]?.stringValue else {
                            throw fail("\(blockAt).source: media_type and data are required.", param: "\(blockAt).source")
                        }
                        parts.append(.inlineImage(mediaType: media, base64: data))
                    case "url":
                        guard let url = source?["url"]?.stringValue else { throw fail("\(blockAt).source.url: Field required.", param: "\(blockAt).source.url") }
                        parts.append(.imageURL(url, path: blockAt))
                    default:
                        throw fail("\(blockAt).source.type: must be base64 or url here.", param: "\(blockAt).source.type")
                    }
                case "tool_use" where role == "assistant":
                    guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                        throw fail("\(blockAt): a tool_use block needs id and name.", param: blockAt)
                    }
                    callNames[id] = name
                    calls.append(.init(id: id, name: name, arguments: block["input"] ?? [:]))
                case "tool_result" where role == "user":
                    guard let id = block["tool_use_id"]?.stringValue else {
                        throw fail("\(blockAt).tool_use_id: Field required.", param: "\(blockAt).tool_use_id")
                    }
                    guard let name = callNames[id] else {
                        throw fail("\(blockAt).tool_use_id: '\(id)' answers no tool_use block of an earlier assistant message.", param: "\(blockAt).tool_use_id")
                    }
                    var content = ""
                    switch block["content"] {
                    case nil, .null?: break
                    case .string(let s)?: content = s
                    case .array(let inner)?:
                        for (k, piece) in inner.enumerated() {
                            guard piece["type"]?.stringValue == "text", let text = piece["text"]?.stringValue else {
                                throw fail("\(blockAt).content.\(k): only text can be sent to this provider in a tool result.", param: "\(blockAt).content.\(k)")
                            }
                            content += text
                        }
                    default: throw fail("\(blockAt).content: must be a string or a list of blocks.", param: "\(blockAt).content")
                    }
                    if block["is_error"]?.boolValue == true { content = "Error: " + content }
                    results.append(.tool(callID: id, name: name, content: content))
                case "thinking", "redacted_thinking":
                    // A past turn's thinking is Anthropic's own; other providers neither take nor need it.
                    continue
                case let other:
                    throw fail("\(blockAt): a '\(other ?? "untyped")' block cannot be sent to this provider from a \(role ?? "?") message.", param: blockAt)
                }
            }
            switch role {
            case "user":
                c.turns += results
                if !parts.isEmpty { c.turns.append(.user(parts)) }
            case "assistant":
                c.turns.append(.assistant(parts, toolCalls: calls))
            default:
                throw fail("\(at).role: must be user or assistant.", param: "\(at).role")
            }
        }
    }

    /// What an Anthropic-format request asks that only Anthropic honours, for a provider of `kind`.
    static func unsupported(_ c: ChatConversation, kind: ProviderKind) -> [String] {
        var out = c.otherFields
        if c.thinking != nil { out.append("thinking") }
        if c.topK != nil { out.append("top_k") }
        return out
    }

    // MARK: Answers: OpenAI in, Anthropic out

    static func stopReason(_ finish: String?) -> String {
        switch finish {
        case "length": "max_tokens"
        case "tool_calls", "function_call": "tool_use"
        case "content_filter": "refusal"
        default: "end_turn"
        }
    }

    /// Anthropic's usage from OpenAI's: input tokens exclude cache reads there.
    static func usage(_ u: TokenUsage) -> JSONValue {
        ["input_tokens": JSONValue(max(0, u.prompt - u.cached)), "output_tokens": JSONValue(u.completion),
         "cache_read_input_tokens": JSONValue(u.cached), "cache_creation_input_tokens": 0]
    }

    static func openAIUsage(_ u: JSONValue?) -> TokenUsage {
        TokenUsage(prompt: u?["prompt_tokens"]?.intValue ?? 0, completion: u?["completion_tokens"]?.intValue ?? 0,
                   cached: u?["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0,
                   reasoning: u?["completion_tokens_details"]?["reasoning_tokens"]?.intValue ?? 0)
    }

    /// An OpenAI chat completion as an Anthropic message.
    static func answer(openAI body: [UInt8]) -> Result<TranslatedAnswer, NotAnAnswer> {
        guard let answer = try? JSONValue.parse(bytes: body), let choice = answer["choices"]?.arrayValue?.first else {
            return .failure(NotAnAnswer(why: "not a chat completion JSON body"))
        }
        let message = choice["message"]
        var content: [JSONValue] = []
        if let text = message?["content"]?.stringValue, !text.isEmpty { content.append(["type": "text", "text": .string(text)]) }
        for call in message?["tool_calls"]?.arrayValue ?? [] {
            let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
            let input = (try? JSONValue.parse(bytes: Array((arguments.isEmpty ? "{}" : arguments).utf8))) ?? [:]
            content.append(["type": "tool_use", "id": .string(call["id"]?.stringValue ?? ""), "name": .string(call["function"]?["name"]?.stringValue ?? ""),
                            "input": input.objectValue != nil ? input : [:]])
        }
        let usage = openAIUsage(answer["usage"])
        let out: JSONValue = [
            "id": .string(answer["id"]?.stringValue ?? ""), "type": "message", "role": "assistant", "model": .string(answer["model"]?.stringValue ?? ""),
            "content": .array(content), "stop_reason": .string(stopReason(choice["finish_reason"]?.stringValue)), "stop_sequence": .null,
            "usage": Self.usage(usage),
        ]
        return .success(TranslatedAnswer(body: out.bytes(sorted: true), usage: usage))
    }
}

/// OpenAI chat chunks turned into Anthropic Messages stream events: `message_start`, a
/// `content_block_*` run per text or tool call (tool arguments as `input_json_delta`),
/// `message_delta` with the stop reason and usage, `message_stop`.
struct AnthropicEventWriter: Sendable {
    private var scanner = SSEScanner()
    private(set) var sawContent = false
    private(set) var finished = false
    private(set) var usage = TokenUsage()
    private(set) var contentBytes = 0
    private var started = false
    private var finish: String?
    private enum Open: Sendable, Equatable { case text(Int), tool(block: Int, call: Int) }
    private var open: Open?
    private var blocks = 0
    /// Anthropic block index of each OpenAI tool call index.
    private var toolBlocks: [Int: Int] = [:]
    /// Whether the OpenAI side reported usage itself (else it comes from the provider's translator).
    private(set) var sawUsage = false

    static func event(_ name: String, _ data: JSONValue, into out: inout [UInt8]) {
        out += Array("event: \(name)\ndata: ".utf8)
        data.write(into: &out, sorted: true)
        out += Array("\n\n".utf8)
    }

    mutating func feed(_ bytes: some Collection<UInt8>) -> StreamStep {
        var step = StreamStep()
        for event in scanner.feed(bytes) {
            guard !finished, step.error == nil, let data = SSEScanner.data(of: event) else { continue }
            if data == Array("[DONE]".utf8) {
                close(&step.out)
                Self.event("message_delta", ["type": "message_delta", "delta": ["stop_reason": .string(AnthropicClientTranslator.stopReason(finish)),
                                                                                "stop_sequence": .null],
                                             "usage": AnthropicClientTranslator.usage(usage)], into: &step.out)
                Self.event("message_stop", ["type": "message_stop"], into: &step.out)
                finished = true
                continue
            }
            guard let chunk = try? JSONValue.parse(bytes: data) else { continue }
            if let error = chunk["error"] {
                step.error = (error["code"]?.stringValue ?? error["type"]?.stringValue ?? "error", error["message"]?.stringValue ?? "an error event")
                continue
            }
            if !started {
                started = true
                Self.event("message_start", ["type": "message_start", "message": [
                    "id": .string(chunk["id"]?.stringValue ?? ""), "type": "message", "role": "assistant", "model": .string(chunk["model"]?.stringValue ?? ""),
                    "content": [], "stop_reason": .null, "stop_sequence": .null, "usage": ["input_tokens": 0, "output_tokens": 0],
                ]], into: &step.out)
            }
            if let u = chunk["usage"], u.objectValue != nil {
                usage = AnthropicClientTranslator.openAIUsage(u)
                sawUsage = true
            }
            guard let choice = chunk["choices"]?.arrayValue?.first else { continue }
            let delta = choice["delta"]
            if let text = delta?["content"]?.stringValue, !text.isEmpty {
                contentBytes += text.utf8.count
                if case .text(let index)? = open {
                    Self.event("content_block_delta", ["type": "content_block_delta", "index": JSONValue(index),
                                                       "delta": ["type": "text_delta", "text": .string(text)]], into: &step.out)
                } else {
                    close(&step.out)
                    let index = blocks
                    blocks += 1
                    open = .text(index)
                    Self.event("content_block_start", ["type": "content_block_start", "index": JSONValue(index),
                                                       "content_block": ["type": "text", "text": ""]], into: &step.out)
                    Self.event("content_block_delta", ["type": "content_block_delta", "index": JSONValue(index),
                                                       "delta": ["type": "text_delta", "text": .string(text)]], into: &step.out)
                }
                sawContent = true
            }
            for call in delta?["tool_calls"]?.arrayValue ?? [] {
                let callIndex = call["index"]?.intValue ?? 0
                if toolBlocks[callIndex] == nil {
                    close(&step.out)
                    let index = blocks
                    blocks += 1
                    toolBlocks[callIndex] = index
                    open = .tool(block: index, call: callIndex)
                    Self.event("content_block_start", ["type": "content_block_start", "index": JSONValue(index), "content_block": [
                        "type": "tool_use", "id": .string(call["id"]?.stringValue ?? "toolu_\(callIndex)"),
                        "name": .string(call["function"]?["name"]?.stringValue ?? ""), "input": [:],
                    ]], into: &step.out)
                    sawContent = true
                }
                if let piece = call["function"]?["arguments"]?.stringValue, !piece.isEmpty, let index = toolBlocks[callIndex] {
                    contentBytes += piece.utf8.count
                    Self.event("content_block_delta", ["type": "content_block_delta", "index": JSONValue(index),
                                                       "delta": ["type": "input_json_delta", "partial_json": .string(piece)]], into: &step.out)
                }
            }
            if let reason = choice["finish_reason"]?.stringValue { finish = reason }
        }
        return step
    }

    private mutating func close(_ out: inout [UInt8]) {
        switch open {
        case .text(let index)?, .tool(let index, _)?:
            Self.event("content_block_stop", ["type": "content_block_stop", "index": JSONValue(index)], into: &out)
        case nil: break
        }
        open = nil
    }

    /// Usage the provider's own translator counted (the OpenAI side of a translated stream has it
    /// only when the client asked).
    mutating func takeUsage(_ u: TokenUsage) {
        if !sawUsage { usage = u }
    }
}
