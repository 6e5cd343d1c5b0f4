import ClawShared

/// The Responses API rules (`POST /v1/responses`) a translating gateway most easily breaks: chat
/// fields sent to the Responses API (`messages`), chat-shaped tools (`{"type": "function",
/// "function": {...}}` where the Responses API takes `name` beside `type`), bad roles and content
/// parts. Each problem names its field as OpenAI's `param` does.
enum ResponsesRules {
    static let topLevel: Set<String> = [
        "model", "input", "instructions", "stream", "stream_options", "max_output_tokens", "max_tool_calls", "tools",
        "tool_choice", "parallel_tool_calls", "temperature", "top_p", "top_logprobs", "truncation", "text", "reasoning",
        "metadata", "store", "user", "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
        "previous_response_id", "conversation", "include", "background", "service_tier", "prompt",
    ]
    static let roles: Set<String> = ["user", "assistant", "system", "developer"]
    static let itemTypes: Set<String> = ["message", "function_call", "function_call_output", "reasoning", "item_reference"]
    static let partTypes: Set<String> = ["input_text", "input_image", "input_file", "input_audio", "output_text", "refusal"]
    /// The Responses API's floor for `max_output_tokens`.
    static let minOutputTokens = 16

    /// A broken rule and OpenAI's code for it.
    struct Problem: Equatable {
        var field: SimFieldProblem
        var code: String
        init(_ param: String, _ reason: String, code: String = "invalid_value") {
            field = SimFieldProblem(param: param, reason: reason)
            self.code = code
        }
    }

    /// The first broken rule of a Responses body, or nil.
    static func problem(in body: [String: JSONValue]) -> Problem? {
        if let unknown = body.keys.filter({ !topLevel.contains($0) }).sorted().first {
            return Problem(unknown, "Unknown parameter: '\(unknown)'.", code: "unknown_parameter")
        }
        guard let model = body["model"] else { return Problem("model", "Missing required parameter: 'model'.", code: "missing_required_parameter") }
        guard model.stringValue?.isEmpty == false else { return Problem("model", "Invalid type for 'model': expected a non-empty string, got \(model.kindName).", code: "invalid_type") }
        guard let input = body["input"] else { return Problem("input", "Missing required parameter: 'input'.", code: "missing_required_parameter") }
        switch input {
        case .string:
            break
        case .array(let items):
            guard !items.isEmpty else { return Problem("input", "Invalid 'input': empty list. Expected a string or a non-empty list of items.") }
            for (index, item) in items.enumerated() {
                if let problem = itemProblem(item, at: "input[\(index)]") { return problem }
            }
        default:
            return Problem("input", "Invalid type for 'input': expected a string or a list of items, got \(input.kindName).", code: "invalid_type")
        }
        if let instructions = body["instructions"], instructions != .null, instructions.stringValue == nil {
            return Problem("instructions", "Invalid type for 'instructions': expected a string, got \(instructions.kindName).", code: "invalid_type")
        }
        if let stream = body["stream"], stream != .null, stream.boolValue == nil {
            return Problem("stream", "Invalid type for 'stream': expected a boolean, got \(stream.kindName).", code: "invalid_type")
        }
        if let cap = body["max_output_tokens"], cap != .null {
            guard let n = cap.intValue else {
                return Problem("max_output_tokens", "Invalid type for 'max_output_tokens': expected an integer, got \(cap.kindName).", code: "invalid_type")
            }
            if n < minOutputTokens {
                return Problem("max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= \(minOutputTokens), but got \(n) instead.", code: "integer_below_min_value")
            }
        }
        if let tools = body["tools"], tools != .null {
            guard let list = tools.arrayValue else { return Problem("tools", "Invalid type for 'tools': expected a list, got \(tools.kindName).", code: "invalid_type") }
            for (index, tool) in list.enumerated() {
                let at = "tools[\(index)]"
                guard let type = tool["type"]?.stringValue else { return Problem("\(at).type", "Missing required parameter: '\(at).type'.", code: "missing_required_parameter") }
                if type == "function", tool["name"]?.stringValue?.isEmpty ?? true {
                    return Problem("\(at).name", "Missing required parameter: '\(at).name'. Responses API function tools carry 'name' and 'parameters' beside 'type', not inside 'function'.", code: "missing_required_parameter")
                }
            }
        }
        return nil
    }

    static func itemProblem(_ item: JSONValue, at: String) -> Problem? {
        guard let fields = item.objectValue else { return Problem(at, "Invalid type for '\(at)': expected an object, got \(item.kindName).", code: "invalid_type") }
        let type = fields["type"]?.stringValue ?? "message"
        guard itemTypes.contains(type) else {
            return Problem("\(at).type", "Invalid value for '\(at).type': '\(type)'. Supported values are: \(itemTypes.sorted().map { "'\($0)'" }.joined(separator: ", ")).")
        }
        switch type {
        case "message":
            guard let role = fields["role"]?.stringValue else { return Problem("\(at).role", "Missing required parameter: '\(at).role'.", code: "missing_required_parameter") }
            guard roles.contains(role) else {
                return Problem("\(at).role", "Invalid value for '\(at).role': '\(role)'. Supported values are: \(roles.sorted().map { "'\($0)'" }.joined(separator: ", ")).")
            }
            guard let content = fields["content"] else { return Problem("\(at).content", "Missing required parameter: '\(at).content'.", code: "missing_required_parameter") }
            switch content {
            case .string:
                break
            case .array(let parts):
                for (p, part) in parts.enumerated() {
                    let partAt = "\(at).content[\(p)]"
                    guard let kind = part["type"]?.stringValue, partTypes.contains(kind) else {
                        return Problem("\(partAt).type", "Invalid value for '\(partAt).type': expected one of \(partTypes.sorted().map { "'\($0)'" }.joined(separator: ", ")).")
                    }
                    if kind == "input_text" || kind == "output_text", part["text"]?.stringValue == nil {
                        return Problem("\(partAt).text", "Missing required parameter: '\(partAt).text'.", code: "missing_required_parameter")
                    }
                }
            default:
                return Problem("\(at).content", "Invalid type for '\(at).content': expected a string or a list of content parts, got \(content.kindName).", code: "invalid_type")
            }
        case "function_call":
            for key in ["call_id", "name", "arguments"] where fields[key]?.stringValue == nil {
                return Problem("\(at).\(key)", "Missing required parameter: '\(at).\(key)'.", code: "missing_required_parameter")
            }
        case "function_call_output":
            for key in ["call_id", "output"] where fields[key] == nil {
                return Problem("\(at).\(key)", "Missing required parameter: '\(at).\(key)'.", code: "missing_required_parameter")
            }
        default:
            break
        }
        return nil
    }

    /// Characters of all text: the instructions and every input text.
    static func textCharacters(_ body: [String: JSONValue]) -> Int {
        let instructions = body["instructions"]?.stringValue?.count ?? 0
        switch body["input"] {
        case .string(let text)?:
            return instructions + text.count
        case .array(let items)?:
            return instructions + items.reduce(0) { $0 + text(of: $1).count }
        default:
            return instructions
        }
    }

    /// The text of one input item (message content, or a function call's output).
    static func text(of item: JSONValue) -> String {
        switch item["content"] {
        case .string(let s)?: return s
        case .array(let parts)?: return parts.compactMap { $0["text"]?.stringValue }.joined(separator: " ")
        default: return item["output"]?.stringValue ?? ""
        }
    }

    /// The text of the last input when it is the user's; empty when it is a function call's output.
    static func lastUserText(_ body: [String: JSONValue]) -> String {
        switch body["input"] {
        case .string(let text)?:
            return text
        case .array(let items)?:
            guard let last = items.last, (last["type"]?.stringValue ?? "message") == "message", last["role"]?.stringValue == "user" else { return "" }
            return text(of: last)
        default:
            return ""
        }
    }

    /// The offered function tools, in order, with their schemas.
    static func tools(_ body: [String: JSONValue]) -> [(name: String, schema: JSONValue?)] {
        (body["tools"]?.arrayValue ?? []).compactMap { tool in
            guard tool["type"]?.stringValue == "function", let name = tool["name"]?.stringValue else { return nil }
            return (name, tool["parameters"])
        }
    }
}
