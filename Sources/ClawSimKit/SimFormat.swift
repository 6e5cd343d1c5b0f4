import ClawShared

/// The wire format a simulated provider speaks: which routes it serves, which headers it demands,
/// how it checks a request and how its answers and errors look.
public enum SimFormat: String, Sendable, CaseIterable {
    /// `POST /v1/chat/completions`, `POST /v1/embeddings`, `POST /v1/responses`, `GET /v1/models`; no auth check.
    case openai
    /// `POST /v1/messages`, `POST /v1/messages/count_tokens`, `GET /v1/models` (no embeddings, no
    /// Responses API, as Anthropic has none); `x-api-key` and `anthropic-version` required.
    case anthropic
    /// `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`, `:countTokens`,
    /// `:embedContent`, `:batchEmbedContents`, `GET /v1beta/models`; `x-goog-api-key` or `?key=` required.
    case gemini
    /// `POST /openai/deployments/{deployment}/chat/completions` and `.../embeddings`,
    /// `POST /openai/responses`, `GET /openai/models`, all with `?api-version=`; `api-key` required.
    /// Also the v1 surface's `POST /openai/v1/responses`, without api-version.
    case azureOpenAI = "azure_openai"

    /// The names a config, flag or control call may use, for error messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Read a `format` value from YAML, a flag or the control API.
    public static func parse(_ value: JSONValue, at path: String) throws(SimBehaviourError) -> SimFormat {
        guard let name = value.stringValue, let format = SimFormat(rawValue: name) else {
            let got = value.stringValue.map { "'\($0)'" } ?? value.kindName
            throw SimBehaviourError(path: path, reason: "must be one of \(names), got \(got)")
        }
        return format
    }
}
