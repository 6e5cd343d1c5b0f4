/// The wire format a provider speaks. `openai` is the byte pass-through; the others are reached
/// through a translator (see `ChatTranslator`), so routing, the breaker, retries and accounting never
/// look inside a format.
public enum ProviderKind: String, Sendable, Equatable, CaseIterable {
    case openai
    case anthropic
    case gemini
    case azureOpenAI = "azure_openai"

    /// The client's bytes go upstream as they came (only `model` rewritten).
    public var passesThrough: Bool { self == .openai || self == .azureOpenAI }

    /// The provider keys only this kind takes (beyond the common ones).
    public var ownKeys: [String] {
        switch self {
        case .openai: []
        case .azureOpenAI: ["api_version"]
        case .anthropic: ["max_tokens_default", "drop_unsupported"]
        case .gemini: ["drop_unsupported"]
        }
    }

    /// The `max_tokens` Anthropic is sent when the client set none (Anthropic requires it).
    public static let anthropicDefaultMaxTokens = 4096
    /// The `anthropic-version` header every Anthropic request carries.
    public static let anthropicVersion = "2023-06-01"
}

/// Where a request goes on one provider and which headers it carries: the endpoint table of the
/// provider kinds (README's table), in one place for chat, streams and health checks.
public struct ProviderEndpoint: Sendable, Equatable {
    public var kind: ProviderKind
    public var baseURL: String
    public var apiVersion: String?

    public init(kind: ProviderKind, baseURL: String, apiVersion: String? = nil) {
        self.kind = kind
        self.baseURL = baseURL
        self.apiVersion = apiVersion
    }

    /// The URL of a chat request for `model`.
    public func chatURL(model: String, streaming: Bool) -> String {
        switch kind {
        case .openai: baseURL + "/chat/completions"
        case .azureOpenAI: baseURL + "/openai/deployments/\(Self.pathSegment(model))/chat/completions?api-version=\(apiVersion ?? "")"
        case .anthropic: baseURL + "/v1/messages"
        case .gemini:
            streaming ? baseURL + "/v1beta/models/\(Self.pathSegment(model)):streamGenerateContent?alt=sse"
                : baseURL + "/v1beta/models/\(Self.pathSegment(model)):generateContent"
        }
    }

    /// The URL of an embeddings request (openai, azure_openai: passed through; gemini: translated).
    public func embeddingsURL(model: String) -> String {
        switch kind {
        case .openai: baseURL + "/embeddings"
        case .azureOpenAI: baseURL + "/openai/deployments/\(Self.pathSegment(model))/embeddings?api-version=\(apiVersion ?? "")"
        case .gemini: baseURL + "/v1beta/models/\(Self.pathSegment(model)):batchEmbedContents"
        case .anthropic: baseURL + "/v1/embeddings"  // never sent: anthropic providers are skipped
        }
    }

    /// The URL of a Responses API request (openai and azure_openai only).
    public func responsesURL() -> String {
        switch kind {
        case .azureOpenAI: baseURL + "/openai/responses?api-version=\(apiVersion ?? "")"
        default: baseURL + "/responses"
        }
    }

    /// The URL of the cheap health probe (the provider's model list); `openAIPath` is health_check.path.
    public func modelsURL(openAIPath: String) -> String {
        switch kind {
        case .openai: baseURL + openAIPath
        case .azureOpenAI: baseURL + "/openai/models?api-version=\(apiVersion ?? "")"
        case .anthropic: baseURL + "/v1/models"
        case .gemini: baseURL + "/v1beta/models"
        }
    }

    /// The headers that carry the gateway's key (never the client's) and the kind's own.
    public func headers(apiKey: String?) -> [(String, String)] {
        var headers: [(String, String)] = []
        switch kind {
        case .openai:
            if let apiKey { headers.append(("authorization", "Bearer \(apiKey)")) }
        case .azureOpenAI:
            if let apiKey { headers.append(("api-key", apiKey)) }
        case .anthropic:
            if let apiKey { headers.append(("x-api-key", apiKey)) }
            headers.append(("anthropic-version", ProviderKind.anthropicVersion))
        case .gemini:
            if let apiKey { headers.append(("x-goog-api-key", apiKey)) }
        }
        return headers
    }

    /// A model or deployment name as one path segment (what a route names is the operator's, but a
    /// slash or a question mark in it must not change the path).
    static func pathSegment(_ name: String) -> String {
        var allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~@".utf8)
        allowed.insert(UInt8(ascii: ":"))
        var out = ""
        for byte in name.utf8 {
            if allowed.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
