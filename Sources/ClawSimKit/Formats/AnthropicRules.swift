import ClawShared

/// The Messages API rules a translating gateway most easily breaks. Each problem names the rule and
/// where it was broken, so a translation bug fails loudly instead of being answered.
enum AnthropicRules {
    static let blockTypes: Set<String> = ["text", "image", "tool_use", "tool_result", "document", "thinking", "redacted_thinking"]
    static let toolChoiceTypes: Set<String> = ["auto", "any", "none", "tool"]

    /// The first broken rule of a `/v1/messages` body (`countTokens`: of a `/v1/messages/count_tokens`
    /// body, which has no `max_tokens`), or nil.
    static func problem(in body: [String: JSONValue], countTokens: Bool = false) -> String? {
        guard let model = body["model"]?.stringValue, !model.isEmpty else { return "model: required, a non-empty string" }
        if !countTokens {
            guard let maxTokens = body["max_tokens"] else { return "max_tokens: required" }
            guard let n = maxTokens.intValue, n >= 1 else {
                return "max_tokens: must be an integer >= 1, got \(maxTokens.intValue.map(String.init) ?? maxTokens.kindName)"
            }
        }
        if let system = body["system"], let problem = systemProblem(system) { return problem }
        guard let messages = body["messages"]?.arrayValue else { return "messages: required, a list" }
        guard !messages.isEmpty else { return "messages: must not be empty" }
        var previousRole: String?
        var previousToolUseIDs: Set<String> = []
        for (index, message) in messages.enumerated() {
            let at = "messages.\(index)"
            guard let role = message["role"]?.stringValue else { return "\(at).role: required" }
            if role == "system" {
                return "\(at).role: 'system' is not a message role; put the system prompt in the top-level 'system' field"
            }
            guard role == "user" || role == "assistant" else { return "\(at).role: must be 'user' or 'assistant', got '\(role)'" }
            if index == 0, role != "user" { return "messages.0.role: the first message must be 'user', got '\(role)'" }
            if role == previousRole {
                return "\(at).role: roles must alternate between 'user' and 'assistant'; messages.\(index - 1) is also '\(role)'"
            }
            guard let content = message["content"] else { return "\(at).content: required" }
            var toolUseIDs: Set<String> = []
            switch content {
            case .string: break
            case .array(let blocks):
                for (b, block) in blocks.enumerated() {
                    let blockAt = "\(at).content.\(b)"
                    guard let type = block["type"]?.stringValue else { return "\(blockAt).type: required" }
                    guard blockTypes.contains(type) else {
                        return "\(blockAt).type: unknown content block type '\(type)'; known: \(blockTypes.sorted().joined(separator: ", "))"
                    }
                    switch type {
                    case "text":
                        if block["text"]?.stringValue == nil { return "\(blockAt).text: a text block needs a string 'text'" }
                    case "tool_use":
                        if role != "assistant" { return "\(blockAt): tool_use blocks belong to 'assistant' messages" }
                        guard let id = block["id"]?.stringValue, !id.isEmpty else { return "\(blockAt).id: a tool_use block needs an 'id'" }
                        if block["name"]?.stringValue == nil { return "\(blockAt).name: a tool_use block needs a 'name'" }
                        if block["input"]?.objectValue == nil { return "\(blockAt).input: a tool_use block needs an object 'input'" }
                        toolUseIDs.insert(id)
                    case "tool_result":
                        if role != "user" { return "\(blockAt): tool_result blocks belong to 'user' messages" }
                        guard let id = block["tool_use_id"]?.stringValue else { return "\(blockAt).tool_use_id: required" }
                        if !previousToolUseIDs.contains(id) {
                            return "\(blockAt).tool_use_id: '\(id)' matches no tool_use block in the previous assistant message"
                        }
                    case "image", "document":
                        if block["source"]?.objectValue == nil { return "\(blockAt).source: an \(type) block needs a 'source' object" }
                    default: break
                    }
                }
            default:
                return "\(at).content: must be a string or a list of content blocks, got \(content.kindName)"
            }
            previousRole = role
            previousToolUseIDs = toolUseIDs
        }
        if let tools = body["tools"] {
            guard let list = tools.arrayValue else { return "tools: must be a list" }
            for (index, tool) in list.enumerated() {
                if tool["name"]?.stringValue?.isEmpty ?? true { return "tools.\(index).name: required" }
                if tool["input_schema"]?.objectValue == nil { return "tools.\(index).input_schema: required, a JSON schema object" }
            }
        }
        if let choice = body["tool_choice"] {
            guard let type = choice["type"]?.stringValue, toolChoiceTypes.contains(type) else {
                return "tool_choice.type: must be one of auto, any, none, tool"
            }
            if type == "tool", choice["name"]?.stringValue?.isEmpty ?? true { return "tool_choice.name: required when type is 'tool'" }
        }
        return nil
    }

    static func systemProblem(_ system: JSONValue) -> String? {
        switch system {
        case .string: return nil
        case .array(let blocks):
            for (index, block) in blocks.enumerated() where block["type"]?.stringValue != "text" || block["text"]?.stringValue == nil {
                return "system.\(index): system blocks must be text blocks {\"type\": \"text\", \"text\": ...}"
            }
            return nil
        default:
            return "system: must be a string or a list of text blocks, got \(system.kindName)"
        }
    }

    /// Characters of all text in the request: the system prompt, string contents, text blocks and
    /// string tool results.
    static func textCharacters(_ body: [String: JSONValue]) -> Int {
        func chars(_ content: JSONValue?) -> Int {
            switch content {
            case .string(let s)?: return s.count
            case .array(let blocks)?:
                return blocks.reduce(0) { sum, block in
                    if let text = block["text"]?.stringValue { return sum + text.count }
                    if block["type"]?.stringValue == "tool_result" { return sum + chars(block["content"]) }
                    return sum
                }
            default: return 0
            }
        }
        return chars(body["system"]) + (body["messages"]?.arrayValue ?? []).reduce(0) { $0 + chars($1["content"]) }
    }

    /// The text of the last message when it is the user's (empty when it holds only tool results).
    static func lastUserText(_ body: [String: JSONValue]) -> String {
        guard let last = body["messages"]?.arrayValue?.last, last["role"]?.stringValue == "user" else { return "" }
        switch last["content"] {
        case .string(let s)?: return s
        case .array(let blocks)?: return blocks.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: " ")
        default: return ""
        }
    }
}
