import ClawShared

/// An OpenAI chat request read into the parts every translated kind needs: the system text in
/// order, the turns with their content parts, tool calls and tool results, the tools, and each
/// sampling parameter. Reading it checks what no provider could take (a bad part, a tool result
/// that answers no call) once, whichever kind the request goes to; each kind then renders it.
struct ChatConversation: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case text(String)
        /// A `data:` URL's image: its media type and base64 payload, as sent.
        case inlineImage(mediaType: String, base64: String)
        /// An http(s) image URL; `path` names the part for an error.
        case imageURL(String, path: String)
    }

    struct ToolCall: Sendable, Equatable {
        var id: String
        var name: String
        /// The arguments as the client sent them (a JSON string) and parsed.
        var arguments: JSONValue
    }

    enum Turn: Sendable, Equatable {
        case user([Part])
        case assistant([Part], toolCalls: [ToolCall])
        /// The answer to a tool call: its id, the name of the function it answers, its content.
        case tool(callID: String, name: String, content: String)
    }

    struct Tool: Sendable, Equatable {
        var name: String
        var description: String?
        var parameters: JSONValue?
        var strict: Bool
    }

    enum ToolChoice: Sendable, Equatable {
        case auto, none, required
        case function(String)
    }

    enum ResponseFormat: Sendable, Equatable {
        case text
        case jsonObject
        case jsonSchema(name: String?, schema: JSONValue)
    }

    var system: [String] = []
    var turns: [Turn] = []
    var tools: [Tool] = []
    var toolChoice: ToolChoice?
    var parallelToolCalls: Bool?
    var maxTokens: Int?
    var temperature: Double?
    var topP: Double?
    var stop: [String] = []
    var responseFormat: ResponseFormat?
    var seed: Int?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var user: String?
    var streaming = false
    var includeUsage = false
    /// Anthropic-format clients only: extended thinking and `top_k`, which only Anthropic honours.
    var thinking: JSONValue?
    var topK: Int?
    /// `user` came from an Anthropic client's `metadata.user_id` (bookkeeping, not a request).
    var userFromMetadata = false
    /// Top-level fields the conversation does not model; each kind refuses them (or drops them
    /// with `drop_unsupported: true`).
    var otherFields: [String] = []

    /// The fields this type reads; anything else is `otherFields`.
    static let read: Set<String> = [
        "model", "messages", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls", "max_tokens",
        "max_completion_tokens", "temperature", "top_p", "stop", "response_format", "seed", "presence_penalty",
        "frequency_penalty", "user", "n",
    ]

    static func fail(_ message: String, param: String, code: String = "invalid_request") -> ChatRequestError {
        ChatRequestError(message: message, code: code, param: param)
    }

    /// Refuse what `provider` cannot honour (a 400 naming each), unless it says `drop_unsupported`.
    static func refuse(_ unsupported: [String], for provider: GatewayConfig.Provider) throws(ChatRequestError) {
        guard !unsupported.isEmpty, !provider.dropUnsupported else { return }
        throw fail(
            "Provider '\(provider.id)' (\(provider.kind.rawValue)) cannot honour \(unsupported.map { "'\($0)'" }.joined(separator: ", ")); remove \(unsupported.count == 1 ? "it" : "them") or set drop_unsupported: true on the provider.",
            param: unsupported[0], code: "unsupported_parameter")
    }

    /// Read a request already checked by `ChatRequest.parse` (a JSON object with `messages`).
    static func read(_ body: JSONValue) -> Result<ChatConversation, ChatRequestError> {
        do {
            return .success(try parse(body))
        } catch {
            return .failure(error)
        }
    }

    static func parse(_ body: JSONValue) throws(ChatRequestError) -> ChatConversation {
        guard let fields = body.objectValue else { throw fail("The request body must be a JSON object.", param: "") }
        var c = ChatConversation()
        c.otherFields = fields.keys.filter { !read.contains($0) }.sorted()
        c.streaming = fields["stream"]?.boolValue ?? false
        c.includeUsage = fields["stream_options"]?["include_usage"]?.boolValue ?? false
        if let n = fields["n"], n != .null, n.intValue != 1 { c.otherFields.append("n") }

        func number(_ key: String, min: Double, max: Double) throws(ChatRequestError) -> Double? {
            guard let value = fields[key], value != .null else { return nil }
            guard let d = value.doubleValue, d >= min, d <= max else {
                throw fail("'\(key)' must be a number between \(show(min)) and \(show(max)).", param: key)
            }
            return d
        }
        c.temperature = try number("temperature", min: 0, max: 2)
        c.topP = try number("top_p", min: 0, max: 1)
        c.presencePenalty = try number("presence_penalty", min: -2, max: 2)
        c.frequencyPenalty = try number("frequency_penalty", min: -2, max: 2)
        for key in ["max_completion_tokens", "max_tokens"] {
            guard c.maxTokens == nil, let value = fields[key], value != .null else { continue }
            guard let n = value.intValue, n >= 1 else { throw fail("'\(key)' must be a whole number of at least 1.", param: key) }
            c.maxTokens = n
        }
        if let seed = fields["seed"], seed != .null {
            guard let n = seed.intValue else { throw fail("'seed' must be a whole number.", param: "seed") }
            c.seed = n
        }
        if let user = fields["user"], user != .null {
            guard let s = user.stringValue else { throw fail("'user' must be a string.", param: "user") }
            c.user = s
        }
        switch fields["stop"] {
        case nil, .null?: break
        case .string(let s)?: c.stop = [s]
        case .array(let list)?:
            let strings = list.compactMap(\.stringValue)
            guard strings.count == list.count else { throw fail("'stop' must be a string or a list of strings.", param: "stop") }
            c.stop = strings
        default: throw fail("'stop' must be a string or a list of strings.", param: "stop")
        }
        if let flag = fields["parallel_tool_calls"], flag != .null {
            guard let b = flag.boolValue else { throw fail("'parallel_tool_calls' must be true or false.", param: "parallel_tool_calls") }
            c.parallelToolCalls = b
        }
        c.responseFormat = try responseFormat(fields["response_format"])
        c.tools = try tools(fields["tools"])
        c.toolChoice = try toolChoice(fields["tool_choice"], tools: c.tools)
        try messages(fields["messages"]?.arrayValue ?? [], into: &c)
        return c
    }

    static func show(_ d: Double) -> String { d.rounded() == d ? String(Int(d)) : String(d) }

    static func responseFormat(_ value: JSONValue?) throws(ChatRequestError) -> ResponseFormat? {
        guard let value, value != .null else { return nil }
        guard let type = value["type"]?.stringValue else {
            throw fail("'response_format' must be an object with a type (text, json_object or json_schema).", param: "response_format")
        }
        switch type {
        case "text": return .text
        case "json_object": return .jsonObject
        case "json_schema":
            guard let schema = value["json_schema"]?["schema"], schema.objectValue != nil else {
                throw fail("'response_format.json_schema.schema' must be a JSON schema object.", param: "response_format.json_schema.schema")
            }
            return .jsonSchema(name: value["json_schema"]?["name"]?.stringValue, schema: schema)
        default:
            throw fail("'response_format.type' must be text, json_object or json_schema, got '\(type)'.", param: "response_format.type")
        }
    }

    static func tools(_ value: JSONValue?) throws(ChatRequestError) -> [Tool] {
        guard let value, value != .null else { return [] }
        guard let list = value.arrayValue else { throw fail("'tools' must be a list.", param: "tools") }
        var tools: [Tool] = []
        for (index, item) in list.enumerated() {
            let at = "tools[\(index)]"
            guard item["type"]?.stringValue == "function", let function = item["function"], function.objectValue != nil else {
                throw fail("'\(at)' must be {\"type\": \"function\", \"function\": {...}}; only function tools can be translated.", param: at)
            }
            guard let name = function["name"]?.stringValue, !name.isEmpty else {
                throw fail("'\(at).function.name' is required.", param: "\(at).function.name")
            }
            let parameters = function["parameters"].flatMap { $0 == .null ? nil : $0 }
            if let parameters, parameters.objectValue == nil {
                throw fail("'\(at).function.parameters' must be a JSON schema object.", param: "\(at).function.parameters")
            }
            tools.append(Tool(name: name, description: function["description"]?.stringValue, parameters: parameters,
                              strict: function["strict"]?.boolValue ?? false))
        }
        return tools
    }

    static func toolChoice(_ value: JSONValue?, tools: [Tool]) throws(ChatRequestError) -> ToolChoice? {
        switch value {
        case nil, .null?: return nil
        case .string("auto")?: return .auto
        case .string("none")?: return ToolChoice.none
        case .string("required")?: return .required
        case .object(let o)?:
            guard o["type"]?.stringValue == "function", let name = o["function"]?["name"]?.stringValue else { break }
            guard tools.contains(where: { $0.name == name }) else {
                throw fail("'tool_choice' names the function '\(name)', which is not in 'tools'.", param: "tool_choice")
            }
            return .function(name)
        default: break
        }
        throw fail("'tool_choice' must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}.", param: "tool_choice")
    }

    static func messages(_ list: [JSONValue], into c: inout ChatConversation) throws(ChatRequestError) {
        // Tool names by call id, from the assistant messages so far: a tool result must answer one.
        var callNames: [String: String] = [:]
        for (index, message) in list.enumerated() {
            let at = "messages[\(index)]"
            guard let role = message["role"]?.stringValue else { throw fail("'\(at).role' is required.", param: "\(at).role") }
            let content = message["content"]
            switch role {
            case "system", "developer":
                let text = try textOnly(content, at: at)
                c.system.append(text)
            case "user":
                c.turns.append(.user(try parts(content, at: at)))
            case "assistant":
                var calls: [ToolCall] = []
                if let list = message["tool_calls"], list != .null {
                    guard let items = list.arrayValue else { throw fail("'\(at).tool_calls' must be a list.", param: "\(at).tool_calls") }
                    for (j, call) in items.enumerated() {
                        let callAt = "\(at).tool_calls[\(j)]"
                        guard let id = call["id"]?.stringValue, !id.isEmpty else { throw fail("'\(callAt).id' is required.", param: "\(callAt).id") }
                        guard let name = call["function"]?["name"]?.stringValue, !name.isEmpty else {
                            throw fail("'\(callAt).function.name' is required.", param: "\(callAt).function.name")
                        }
                        let text = call["function"]?["arguments"]?.stringValue ?? "{}"
                        guard let arguments = try? JSONValue.parse(bytes: Array((text.isEmpty ? "{}" : text).utf8)), arguments.objectValue != nil else {
                            throw fail("'\(callAt).function.arguments' must be a JSON object encoded as a string.", param: "\(callAt).function.arguments")
                        }
                        callNames[id] = name
                        calls.append(ToolCall(id: id, name: name, arguments: arguments))
                    }
                }
                let content = content == nil || content == .null ? [] : try parts(content, at: at)
                c.turns.append(.assistant(content, toolCalls: calls))
            case "tool":
                guard let id = message["tool_call_id"]?.stringValue else {
                    throw fail("'\(at).tool_call_id' is required.", param: "\(at).tool_call_id")
                }
                guard let name = callNames[id] else {
                    throw fail("'\(at).tool_call_id' is '\(id)', which no earlier assistant tool call has.", param: "\(at).tool_call_id")
                }
                c.turns.append(.tool(callID: id, name: name, content: try textOnly(content, at: at)))
            default:
                throw fail("'\(at).role' must be system, developer, user, assistant or tool, got '\(role)'.", param: "\(at).role")
            }
        }
    }

    /// Content that must be text: a string or a list of text parts, joined.
    static func textOnly(_ content: JSONValue?, at: String) throws(ChatRequestError) -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let items)?:
            var text = ""
            for (j, item) in items.enumerated() {
                guard item["type"]?.stringValue == "text", let s = item["text"]?.stringValue else {
                    throw fail("'\(at).content[\(j)]' must be a text part here.", param: "\(at).content[\(j)]")
                }
                text += s
            }
            return text
        default:
            throw fail("'\(at).content' must be a string or a list of text parts.", param: "\(at).content")
        }
    }

    static func parts(_ content: JSONValue?, at: String) throws(ChatRequestError) -> [Part] {
        switch content {
        case .string(let s)?: return [.text(s)]
        case .array(let items)?:
            var parts: [Part] = []
            for (j, item) in items.enumerated() {
                let partAt = "\(at).content[\(j)]"
                switch item["type"]?.stringValue {
                case "text":
                    guard let s = item["text"]?.stringValue else { throw fail("'\(partAt).text' must be a string.", param: "\(partAt).text") }
                    parts.append(.text(s))
                case "image_url":
                    guard let url = item["image_url"]?["url"]?.stringValue else {
                        throw fail("'\(partAt).image_url.url' is required.", param: "\(partAt).image_url.url")
                    }
                    parts.append(try image(url, at: "\(partAt).image_url"))
                case let other:
                    throw fail("'\(partAt)' is a \(other.map { "'\($0)'" } ?? "untyped") part, which cannot be translated for this provider.",
                               param: partAt)
                }
            }
            return parts
        default:
            throw fail("'\(at).content' must be a string or a list of parts.", param: "\(at).content")
        }
    }

    static func image(_ url: String, at: String) throws(ChatRequestError) -> Part {
        if url.hasPrefix("data:") {
            // data:MEDIA;base64,PAYLOAD
            guard let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") else {
                throw fail("'\(at).url' is a data: URL that is not base64 (data:image/png;base64,...).", param: at)
            }
            let media = String(url[url.index(url.startIndex, offsetBy: 5)..<comma].dropLast(7))
            guard media.hasPrefix("image/") else { throw fail("'\(at).url' is a data: URL of '\(media)', not an image.", param: at) }
            return .inlineImage(mediaType: media, base64: String(url[url.index(after: comma)...]))
        }
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            throw fail("'\(at).url' must be an http(s) URL or a data: URL.", param: at)
        }
        return .imageURL(url, path: at)
    }
}

/// Turns in the order they came, consecutive ones of one role merged: Anthropic requires roles
/// to alternate, and both translated kinds take a run of tool results as one user turn.
struct MergedTurns: Sendable {
    private(set) var turns: [(role: String, items: [JSONValue])] = []

    /// Add a turn's items (none: nothing is added).
    mutating func add(_ role: String, _ items: [JSONValue]) {
        guard !items.isEmpty else { return }
        if let last = turns.last, last.role == role {
            turns[turns.count - 1].items += items
        } else {
            turns.append((role, items))
        }
    }
}
