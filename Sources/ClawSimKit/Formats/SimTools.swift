import ClawShared
import Foundation

/// One tool call a simulated provider makes: the tool's name and arguments filled from its schema.
struct SimToolCall: Sendable, Equatable {
    var name: String
    var arguments: JSONValue

    /// The arguments as the JSON string OpenAI carries, keys sorted so runs repeat.
    var argumentsText: String { String(decoding: arguments.encoded(sorted: true), as: UTF8.self) }
}

/// How every format decides on tool calls: a request that offers tools and whose last message is
/// the user's, with text naming `tool`, is answered with a call to the first tool (two calls, to
/// the first and second tool or to the first twice, with `parallel_tool_calls`).
enum SimTools {
    /// Whether the last user text asks for a tool.
    static func asks(_ text: String) -> Bool {
        text.range(of: "tool", options: .caseInsensitive) != nil
    }

    /// The calls to make for the offered `tools` (name and JSON schema each).
    static func calls(_ tools: [(name: String, schema: JSONValue?)], parallel: Bool) -> [SimToolCall] {
        guard let first = tools.first else { return [] }
        var chosen = [first]
        if parallel { chosen.append(tools.count > 1 ? tools[1] : first) }
        return chosen.map { SimToolCall(name: $0.name, arguments: arguments(for: $0.schema)) }
    }

    /// An object with each required property of `schema` (each property when none is required)
    /// filled by its type: "sim", 1, true, [] or {}; a property with an `enum` gets its first value.
    static func arguments(for schema: JSONValue?) -> JSONValue {
        guard let properties = schema?["properties"]?.objectValue else { return [:] }
        let required = (schema?["required"]?.arrayValue ?? []).compactMap(\.stringValue).filter { properties[$0] != nil }
        let names = required.isEmpty ? Array(properties.keys) : required
        var object: [String: JSONValue] = [:]
        for name in names { object[name] = value(for: properties[name]) }
        return .object(object)
    }

    static func value(for property: JSONValue?) -> JSONValue {
        if let first = property?["enum"]?.arrayValue?.first { return first }
        var type = property?["type"]?.stringValue
        if type == nil { type = property?["type"]?.arrayValue?.compactMap(\.stringValue).first { $0.lowercased() != "null" } }
        switch type?.lowercased() {
        case "number", "integer": return 1
        case "boolean": return true
        case "array": return []
        case "object": return [:]
        default: return "sim"
        }
    }

    /// `text` in `count` consecutive pieces (some may be empty when it is short), so a client has to
    /// join partial arguments.
    static func pieces(_ text: String, count: Int = 3) -> [String] {
        let chars = Array(text)
        return (0..<count).map { i in String(chars[(i * chars.count / count)..<((i + 1) * chars.count / count)]) }
    }
}
