import ClawShared

/// The generateContent rules a translating gateway most easily breaks. Each problem names the rule
/// and where it was broken; Gemini answers them 400 `INVALID_ARGUMENT`. Field names may be camelCase
/// or snake_case, as Gemini's JSON parser takes both (google-genai itself sends `parameters_json_schema`).
enum GeminiRules {
    /// `maxOutputTokens` -> `max_output_tokens`.
    static func snake(_ name: String) -> String {
        var out = ""
        for c in name {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    /// `max_output_tokens` -> `maxOutputTokens`.
    static func camel(_ name: String) -> String {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return name }
        return String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static let topLevel: Set<String> = [
        "contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings", "cachedContent",
    ]
    static let generationConfig: Set<String> = [
        "temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount", "responseMimeType",
        "responseSchema", "responseJsonSchema", "thinkingConfig", "seed", "presencePenalty", "frequencyPenalty",
    ]
    /// The keys of a part that carry its data; a part has exactly one.
    static let partData: Set<String> = ["text", "inlineData", "fileData", "functionCall", "functionResponse"]
    /// Keys a part may carry beside its data (what Gemini itself sends back in a model turn).
    static let partExtras: Set<String> = ["thought", "thoughtSignature"]

    /// The first broken rule of a generateContent body, or nil.
    static func problem(in body: [String: JSONValue]) -> String? {
        let unknown = body.keys.filter { !topLevel.contains(camel($0)) }.sorted()
        if !unknown.isEmpty {
            return "Invalid JSON payload received. Unknown name(s) \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")): cannot find field(s); known: \(topLevel.sorted().joined(separator: ", "))"
        }
        guard let contents = body.field("contents")?.arrayValue else { return "contents: required, a list" }
        guard !contents.isEmpty else { return "contents: must not be empty" }
        for (index, content) in contents.enumerated() {
            let at = "contents[\(index)]"
            if let role = content.field("role") {
                guard let name = role.stringValue, name == "user" || name == "model" else {
                    return "\(at).role: must be 'user' or 'model', got \(role.stringValue.map { "'\($0)'" } ?? role.kindName)"
                }
            }
            if let problem = partsProblem(content.field("parts"), at: at) { return problem }
        }
        if let system = body.field("systemInstruction") {
            guard system.objectValue != nil else { return "systemInstruction: must be a Content object with 'parts'" }
            if let problem = partsProblem(system.field("parts"), at: "systemInstruction") { return problem }
        }
        if let tools = body.field("tools") {
            guard let list = tools.arrayValue else { return "tools: must be a list" }
            for (t, tool) in list.enumerated() {
                guard let declarations = tool.field("functionDeclarations") else { continue }
                guard let decls = declarations.arrayValue else { return "tools[\(t)].functionDeclarations: must be a list" }
                for (d, decl) in decls.enumerated() where decl.field("name")?.stringValue?.isEmpty ?? true {
                    return "tools[\(t)].functionDeclarations[\(d)].name: required"
                }
            }
        }
        if let config = body.field("generationConfig") {
            guard let keys = config.objectValue?.keys else { return "generationConfig: must be an object" }
            let unknown = keys.filter { !generationConfig.contains(camel($0)) }.sorted()
            if !unknown.isEmpty {
                return "Invalid JSON payload received. Unknown name(s) \(unknown.map { "\"generationConfig.\($0)\"" }.joined(separator: ", ")): cannot find field(s)"
            }
        }
        return nil
    }

    static func partsProblem(_ parts: JSONValue?, at: String) -> String? {
        guard let list = parts?.arrayValue else { return "\(at).parts: required, a list" }
        guard !list.isEmpty else { return "\(at).parts: must not be empty" }
        for (index, part) in list.enumerated() {
            let partAt = "\(at).parts[\(index)]"
            guard let fields = part.objectValue else { return "\(partAt): must be an object" }
            let unknown = fields.keys.filter { !partData.contains(camel($0)) && !partExtras.contains(camel($0)) }.sorted()
            if !unknown.isEmpty { return "\(partAt): unknown part field(s) \(unknown.joined(separator: ", ")); known: \(partData.sorted().joined(separator: ", "))" }
            let data = fields.keys.filter { partData.contains(camel($0)) }
            guard data.count == 1, let kind = data.first else {
                return "\(partAt): a part needs exactly one of \(partData.sorted().joined(separator: ", ")), got \(data.isEmpty ? "none" : data.sorted().joined(separator: ", "))"
            }
            let value = fields[kind]!
            switch camel(kind) {
            case "text":
                if value.stringValue == nil { return "\(partAt).text: must be a string" }
            case "inlineData":
                if value.field("mimeType")?.stringValue == nil || value.field("data")?.stringValue == nil {
                    return "\(partAt).inlineData: needs 'mimeType' and 'data' (base64)"
                }
            case "fileData":
                if value.field("fileUri")?.stringValue == nil { return "\(partAt).fileData: needs 'fileUri'" }
            case "functionCall":
                if value.field("name")?.stringValue?.isEmpty ?? true { return "\(partAt).functionCall.name: required" }
                if let args = value.field("args"), args.objectValue == nil { return "\(partAt).functionCall.args: must be an object" }
            default:  // functionResponse
                if value.field("name")?.stringValue?.isEmpty ?? true {
                    return "\(partAt).functionResponse.name: required, the name of the function called"
                }
                if let response = value.field("response"), response.objectValue == nil { return "\(partAt).functionResponse.response: must be an object" }
                if value.field("response") == nil { return "\(partAt).functionResponse.response: required, an object" }
            }
        }
        return nil
    }

    /// Characters of all text parts, the system instruction's included.
    static func textCharacters(_ body: [String: JSONValue]) -> Int {
        func chars(_ content: JSONValue?) -> Int {
            (content?.field("parts")?.arrayValue ?? []).reduce(0) { $0 + ($1.field("text")?.stringValue?.count ?? 0) }
        }
        return chars(body.field("systemInstruction")) + (body.field("contents")?.arrayValue ?? []).reduce(0) { $0 + chars($1) }
    }

    /// The text of the last content when it is the user's (empty when it holds only function responses).
    static func lastUserText(_ body: [String: JSONValue]) -> String {
        guard let last = body.field("contents")?.arrayValue?.last, (last.field("role")?.stringValue ?? "user") == "user" else { return "" }
        return (last.field("parts")?.arrayValue ?? []).compactMap { $0.field("text")?.stringValue }.joined(separator: " ")
    }

    /// The offered functions, in order, with their schemas.
    static func tools(_ body: [String: JSONValue]) -> [(name: String, schema: JSONValue?)] {
        (body.field("tools")?.arrayValue ?? []).flatMap { tool in
            (tool.field("functionDeclarations")?.arrayValue ?? []).compactMap { decl in
                decl.field("name")?.stringValue.map { ($0, decl.field("parameters") ?? decl.field("parametersJsonSchema")) }
            }
        }
    }
}

extension JSONValue {
    /// A Gemini field by its camelCase name or its snake_case twin.
    func field(_ name: String) -> JSONValue? {
        self[name] ?? self[GeminiRules.snake(name)]
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// A Gemini field by its camelCase name or its snake_case twin.
    func field(_ name: String) -> JSONValue? {
        self[name] ?? self[GeminiRules.snake(name)]
    }
}
