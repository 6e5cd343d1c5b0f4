import Foundation

/// Whose fault an outcome is. Only the provider's faults feed the breaker, the error ratio,
/// `degraded` and alerts; the client's are passed back to the client and counted apart.
public enum Fault: String, Sendable, Equatable {
    case none
    /// The request itself was wrong (400, 413, 422, ...): the provider answered correctly.
    case client
    /// The provider failed, or refused the gateway's own key or model mapping.
    case provider
    /// A limit of this node was reached (`max_in_flight`, `max_in_flight_per_provider`).
    case limit
}

/// What an attempt or a probe came to, in the words of logs, metrics and error bodies.
public enum AttemptOutcome: Sendable, Equatable {
    case ok
    /// The provider answered a 4xx that says the request was wrong: passed through, no retry.
    case clientError(status: Int)
    /// 5xx, 429 or 408: the provider is failing or overloaded.
    case status(Int)
    /// 401, 402, 403, 404 or 405: the provider refused the gateway's key, account, model or path.
    case rejected(status: Int)
    case connectError
    case timeout
    case reset
    case badResponse(String)
    case streamCut
    case clientClosed

    public var label: String {
        switch self {
        case .ok: "ok"
        case .clientError(let s): "status_\(s)"
        case .status(let s): "status_\(s)"
        case .rejected(let s): "status_\(s)"
        case .connectError: "connect_error"
        case .timeout: "timeout"
        case .reset: "reset"
        case .badResponse: "bad_response"
        case .streamCut: "stream_cut"
        case .clientClosed: "client_closed"
        }
    }

    public var fault: Fault {
        switch self {
        case .ok, .clientClosed: .none
        case .clientError: .client
        default: .provider
        }
    }

    /// The words for a failure in the breaker's reason and the provider's recent failures: what
    /// went wrong, and for a refusal of the gateway's own settings, what to check.
    public var reason: String {
        switch self {
        case .badResponse(let why): "bad_response (\(why))"
        case .rejected(let s) where s == 401 || s == 403: "status_\(s) (the provider refused the gateway's API key: check api_key_env)"
        case .rejected(402): "status_402 (the provider refused the gateway's account: check its billing)"
        case .rejected(let s): "status_\(s) (the provider does not know the model or path: check the route's model and the base_url)"
        default: label
        }
    }

    /// Whose fault an upstream HTTP status is (the table in README.md).
    public static func classify(status: Int) -> AttemptOutcome {
        switch status {
        case 200..<300: .ok
        case 408, 429, 500...599: .status(status)
        case 401, 402, 403, 404, 405: .rejected(status: status)
        case 400..<500: .clientError(status: status)
        default: .badResponse("unexpected status \(status)")
        }
    }
}
