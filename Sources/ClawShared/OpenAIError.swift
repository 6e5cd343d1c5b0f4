import Foundation

/// The OpenAI error body, `{"error": {"message", "type", "code"}}`, which both servers answer with.
public enum OpenAIError {
    /// JSON bytes of an OpenAI-style error, optionally with extra fields inside `error`.
    public static func body(message: String, type: String, code: String? = nil, extra: [String: JSONValue] = [:]) -> Data {
        var error: [String: JSONValue] = ["message": .string(message), "type": .string(type)]
        error["code"] = code.map { .string($0) } ?? .null
        for (key, value) in extra { error[key] = value }
        return JSONValue.object(["error": .object(error)]).encoded(sorted: true)
    }
}
