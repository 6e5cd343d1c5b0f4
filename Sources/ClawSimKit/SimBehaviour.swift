import ClawShared

/// How one simulated provider behaves. Every field can be set in the YAML file, by flag, or while
/// running through `POST /sim/providers/{id}`, always by the same snake_case key.
public struct SimBehaviour: Sendable, Equatable {
    /// Median latency before the first byte, in milliseconds.
    public var latencyMs: Double = 20
    /// 99th percentile latency before the first byte, in milliseconds (log-normal between the two).
    public var latencyP99Ms: Double = 60
    /// Streaming rate in tokens per second; 0 sends every chunk at once.
    public var tokensPerSecond: Double = 100
    /// Completion tokens per answer (capped by the request's `max_tokens`).
    public var completionTokens: Int = 16
    /// Share of requests answered 500 or 503.
    public var errorRate: Double = 0
    /// Share of requests answered 429 with `Retry-After`.
    public var rateLimitRate: Double = 0
    public var retryAfterSeconds: Int = 1
    /// Share of requests whose connection is reset before any answer.
    public var resetRate: Double = 0
    /// Share of requests accepted and never answered.
    public var hangRate: Double = 0
    /// Share of streaming answers cut off half-way.
    public var streamCutRate: Double = 0
    /// Share of answers that are 200 with a body that is not the OpenAI format.
    public var malformedRate: Double = 0
    /// Outage switch: every request is answered 503.
    public var outage: Bool = false
    /// Every chat request is answered with this HTTP status and an OpenAI error body (0: off), to
    /// see how the gateway classifies each status.
    public var answerStatus: Int = 0
    /// Share of requests answered "overloaded": Anthropic's 529 `overloaded_error`, Gemini's 503
    /// `UNAVAILABLE`, a 503 for OpenAI and Azure.
    public var overloadedRate: Double = 0
    /// Share of streaming requests answered 200 `text/event-stream` whose first event is an error
    /// event in the format's shape, after which the connection closes; a gateway that has already
    /// committed to the answer must notice it. Requests that do not stream are answered normally.
    public var midstreamErrorRate: Double = 0
    /// A request that asks for a tool is answered with two tool calls instead of one.
    public var parallelToolCalls: Bool = false
    /// A flaw in every OpenAI-format stream (what some OpenAI-compatible servers do): `none`,
    /// `no_usage` (never sends usage, even when asked), `no_done` (stops after the content: no
    /// finish_reason, no [DONE]), `bad_data` (the first event's data is NUL and 0xFF bytes),
    /// `bad_data_late` (such an event half-way through).
    public var streamFlaw: String = "none"
    /// Bytes per write of a streamed answer (0: each event in one write). 1 sends every byte as its
    /// own write (its own HTTP chunk), so a gateway's reads of the stream split at every byte.
    public var writeBytes: Int = 0
    public static let streamFlaws = ["none", "no_usage", "no_done", "bad_data", "bad_data_late"]

    public init() {}

    public static let keys: [String] = [
        "latency_ms", "latency_p99_ms", "tokens_per_second", "completion_tokens", "error_rate",
        "rate_limit_rate", "retry_after_seconds", "reset_rate", "hang_rate", "stream_cut_rate",
        "malformed_rate", "outage", "answer_status", "overloaded_rate", "midstream_error_rate", "parallel_tool_calls",
        "stream_flaw", "write_bytes",
    ]

    /// Apply the known keys of `patch`; throws naming the first bad field and changes nothing then.
    public mutating func apply(_ patch: [String: JSONValue], path: String = "") throws(SimBehaviourError) {
        var copy = self
        for (key, value) in patch.sorted(by: { $0.key < $1.key }) {
            let at = path.isEmpty ? key : "\(path).\(key)"
            switch key {
            case "latency_ms": copy.latencyMs = try Self.number(value, at, min: 0, max: 600_000)
            case "latency_p99_ms": copy.latencyP99Ms = try Self.number(value, at, min: 0, max: 600_000)
            case "tokens_per_second": copy.tokensPerSecond = try Self.number(value, at, min: 0, max: 1_000_000)
            case "completion_tokens": copy.completionTokens = Int(try Self.number(value, at, min: 1, max: 100_000, integer: true))
            case "error_rate": copy.errorRate = try Self.number(value, at, min: 0, max: 1)
            case "rate_limit_rate": copy.rateLimitRate = try Self.number(value, at, min: 0, max: 1)
            case "retry_after_seconds": copy.retryAfterSeconds = Int(try Self.number(value, at, min: 0, max: 3600, integer: true))
            case "reset_rate": copy.resetRate = try Self.number(value, at, min: 0, max: 1)
            case "hang_rate": copy.hangRate = try Self.number(value, at, min: 0, max: 1)
            case "stream_cut_rate": copy.streamCutRate = try Self.number(value, at, min: 0, max: 1)
            case "malformed_rate": copy.malformedRate = try Self.number(value, at, min: 0, max: 1)
            case "answer_status":
                let status = Int(try Self.number(value, at, min: 0, max: 599, integer: true))
                guard status == 0 || status >= 100 else { throw SimBehaviourError(path: at, reason: "must be 0 (off) or an HTTP status 100..599") }
                copy.answerStatus = status
            case "outage":
                guard let flag = value.boolValue else { throw SimBehaviourError(path: at, reason: "must be true or false") }
                copy.outage = flag
            case "overloaded_rate": copy.overloadedRate = try Self.number(value, at, min: 0, max: 1)
            case "midstream_error_rate": copy.midstreamErrorRate = try Self.number(value, at, min: 0, max: 1)
            case "parallel_tool_calls":
                guard let flag = value.boolValue else { throw SimBehaviourError(path: at, reason: "must be true or false") }
                copy.parallelToolCalls = flag
            case "stream_flaw":
                guard let flaw = value.stringValue, Self.streamFlaws.contains(flaw) else {
                    throw SimBehaviourError(path: at, reason: "must be one of \(Self.streamFlaws.joined(separator: ", "))")
                }
                copy.streamFlaw = flaw
            case "write_bytes": copy.writeBytes = Int(try Self.number(value, at, min: 0, max: 1_048_576, integer: true))
            default:
                throw SimBehaviourError(path: at, reason: "unknown field; known: \(Self.keys.joined(separator: ", "))")
            }
        }
        // Setting only the median moves a p99 that would fall below it to three times the median.
        if patch["latency_ms"] != nil, patch["latency_p99_ms"] == nil, copy.latencyP99Ms < copy.latencyMs {
            copy.latencyP99Ms = copy.latencyMs * 3
        }
        if copy.latencyP99Ms < copy.latencyMs {
            throw SimBehaviourError(path: path.isEmpty ? "latency_p99_ms" : "\(path).latency_p99_ms",
                                    reason: "must be at least latency_ms (\(copy.latencyMs))")
        }
        self = copy
    }

    public var asJSON: JSONValue {
        [
            "latency_ms": .number(latencyMs), "latency_p99_ms": .number(latencyP99Ms), "tokens_per_second": .number(tokensPerSecond),
            "completion_tokens": JSONValue(completionTokens), "error_rate": .number(errorRate),
            "rate_limit_rate": .number(rateLimitRate), "retry_after_seconds": JSONValue(retryAfterSeconds),
            "reset_rate": .number(resetRate), "hang_rate": .number(hangRate),
            "stream_cut_rate": .number(streamCutRate), "malformed_rate": .number(malformedRate), "outage": .bool(outage),
            "answer_status": JSONValue(answerStatus), "overloaded_rate": .number(overloadedRate),
            "midstream_error_rate": .number(midstreamErrorRate), "parallel_tool_calls": .bool(parallelToolCalls),
            "stream_flaw": .string(streamFlaw), "write_bytes": JSONValue(writeBytes),
        ]
    }

    static func number(_ value: JSONValue, _ at: String, min: Double, max: Double, integer: Bool = false) throws(SimBehaviourError) -> Double {
        let parsed: Double?
        switch value {
        case .number(let d): parsed = d
        case .string(let s): parsed = Double(s)
        default: parsed = nil
        }
        guard let number = parsed, number.isFinite else {
            throw SimBehaviourError(path: at, reason: "must be a number, got \(value.kindName)")
        }
        guard number >= min, number <= max else {
            throw SimBehaviourError(path: at, reason: "must be between \(Self.show(min)) and \(Self.show(max)), got \(Self.show(number))")
        }
        if integer, number.rounded() != number {
            throw SimBehaviourError(path: at, reason: "must be a whole number, got \(Self.show(number))")
        }
        return number
    }

    static func show(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}

public struct SimBehaviourError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
