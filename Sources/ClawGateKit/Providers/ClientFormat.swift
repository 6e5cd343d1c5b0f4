import ClawShared

/// The API format a client speaks to the gateway. Routing, limits and accounting are the same for
/// each; only the request's reading and the answer's shape differ.
enum ClientFormat: String, Sendable, Equatable, CaseIterable {
    /// OpenAI chat completions (`/v1/chat/completions`).
    case chat
    /// Anthropic Messages (`/v1/messages`).
    case messages
    /// OpenAI embeddings (`/v1/embeddings`).
    case embeddings
    /// OpenAI Responses (`/v1/responses`).
    case responses

    /// Its place in `GatewayState.endpoints` (the per-endpoint counters).
    var index: Int { Self.allCases.firstIndex(of: self)! }

    /// Whether a provider of `kind` can serve this endpoint at all (else it is skipped, named).
    func served(by kind: ProviderKind) -> Bool {
        switch self {
        case .chat, .messages: true
        case .embeddings: kind != .anthropic
        case .responses: kind.passesThrough
        }
    }

    /// Why a provider of `kind` is skipped for this endpoint.
    func skipReason(_ kind: ProviderKind) -> String {
        switch self {
        case .embeddings: "\(kind.rawValue) has no embeddings"
        default: "\(kind.rawValue) has no \(rawValue) endpoint"
        }
    }

    /// An error body in this format's shape.
    func errorBody(status: Int, message: String, openAIType: String, code: String?, extra: [String: JSONValue] = [:]) -> [UInt8] {
        switch self {
        case .chat, .embeddings, .responses:
            return Array(OpenAIError.body(message: message, type: openAIType, code: code, extra: extra))
        case .messages:
            let body: JSONValue = ["type": "error", "error": ["type": .string(Self.anthropicType(status: status, openAIType: openAIType)),
                                                              "message": .string(message)]]
            return body.bytes(sorted: true)
        }
    }

    /// Anthropic's error type for a status (its documented table) or an OpenAI error type.
    static func anthropicType(status: Int, openAIType: String) -> String {
        switch (status, openAIType) {
        case (_, "overloaded_error"): "overloaded_error"
        case (401, _): "authentication_error"
        case (403, _): "permission_error"
        case (404, _): "not_found_error"
        case (413, _): "request_too_large"
        case (429, _): "rate_limit_error"
        case (529, _), (503, _): "overloaded_error"
        case (400..<500, _): "invalid_request_error"
        default: "api_error"
        }
    }
}
