import Foundation
import Tracing

/// One upstream attempt as the ledger keeps it: who, what it came to, and how long it took.
public struct AttemptLedger: Sendable, Equatable {
    public var provider: String
    /// The provider's kind (openai, anthropic, gemini, azure_openai): `gen_ai.provider.name`.
    public var kind: String
    public var model: String
    public var tier: Int
    /// The strategy's words for the pick ("weighted: ..."), or "panic".
    public var decision: String?
    /// The attempt's client span (16 hex digits), the parent the provider sees in `traceparent`.
    public var spanID: String
    /// The provider's host and port (`server.address`).
    public var server: String
    /// Wall-clock start, seconds since 1970.
    public var startedAt: Double
    public var seconds = 0.0
    public var ttft: Double?
    /// ok, timeout, status_503, ... (the outcome's label).
    public var outcome = "ok"
    /// The outcome's words with what to check (the admin API's `outcome`).
    public var reason = "ok"
    /// The provider's HTTP status, when it answered one.
    public var status: Int?
    public var fault = "none"
    public var tokensIn = 0
    public var tokensOut = 0
    public var cost = 0.0
    /// From the answer, when read: the model that answered, its id and finish reasons.
    public var responseModel: String?
    public var responseID: String?
    public var finishReasons: [String] = []
}

/// What one client request gathers as it goes, for its request record, its access-log line and
/// its spans: begun once per request, told once per attempt (`beginAttempt`/`endAttempt`), told
/// once how it ended (`Gateway.record`), and finished once (by the client routes, or at the end
/// of a stream). One task uses it at a time: the proxy's, then the stream's.
public final class RequestLedger: @unchecked Sendable {
    public let trace: RequestTrace
    /// Wall-clock start, seconds since 1970.
    public let startedAt: Double
    /// The node's clock at the start.
    public let start: Double
    /// The API called: chat, messages, embeddings, responses, count_tokens, models.
    public var endpoint: String
    public var route: String?
    public var client: String?
    public var streaming = false
    public var attempts: [AttemptLedger] = []
    public var served: String?
    public var outcome = "ok"
    public var fault = "none"
    public var status = 200
    public var ttft: Double?
    public var seconds = 0.0
    public var tokensIn = 0
    public var tokensOut = 0
    public var cost = 0.0
    /// A stream: the answer goes on after the handler returned, and its end finishes the ledger.
    public var deferred = false
    private(set) var finished = false
    /// The span exporter, when spans are exported; then the request's server span and each
    /// attempt's client span (nil once ended).
    let tracing: TraceExport?
    var serverSpan: (any Span)?
    var attemptSpans: [(any Span)?] = []

    public init(trace: RequestTrace, endpoint: String, start: Double, startedAt: Double = Date().timeIntervalSince1970) {
        self.trace = trace
        self.endpoint = endpoint
        self.start = start
        self.startedAt = startedAt
        tracing = nil
    }

    /// A request with spans: the ids come from its server span.
    init(tracing: TraceExport, span: any Span, trace: RequestTrace, endpoint: String, start: Double) {
        self.trace = trace
        self.endpoint = endpoint
        self.start = start
        self.startedAt = Date().timeIntervalSince1970
        self.tracing = tracing
        self.serverSpan = span
    }

    /// Refused for the client's own reason before a route was known (a bad key, a bad body, an
    /// unknown model or path): its record has no route and no attempts.
    func refused(_ outcome: String) {
        self.outcome = outcome
        fault = Fault.client.rawValue
    }

    /// An attempt is about to be sent: its span (the provider's parent) starts here.
    func beginAttempt(provider: String, kind: String, model: String, tier: Int, decision: String?, server: String) -> AttemptLedger {
        var spanID = RequestTrace.newSpanID()
        if let tracing, let serverSpan {
            let started = tracing.startAttempt("\(GenAI.operation(endpoint)) \(model)", parent: serverSpan)
            spanID = started.spanID
            attemptSpans.append(started.span)
        } else if tracing != nil {
            attemptSpans.append(nil)
        }
        let attempt = AttemptLedger(provider: provider, kind: kind, model: model, tier: tier, decision: decision, spanID: spanID,
                                    server: server, startedAt: Date().timeIntervalSince1970)
        attempts.append(attempt)
        return attempt
    }

    /// How the latest attempt ended (its span ends with it).
    func endAttempt(_ update: (inout AttemptLedger) -> Void) {
        guard !attempts.isEmpty else { return }
        update(&attempts[attempts.count - 1])
        if tracing != nil { endAttemptSpan(attempts.count - 1) }
    }

    /// What the latest attempt's answer said of itself (only read while spans are exported).
    func answered(_ bytes: [UInt8]) {
        guard tracing != nil, !attempts.isEmpty else { return }
        let facts = AnswerFacts.read(bytes)
        let i = attempts.count - 1
        attempts[i].responseID = attempts[i].responseID ?? facts.id
        attempts[i].responseModel = attempts[i].responseModel ?? facts.model
        for reason in facts.finishReasons where !attempts[i].finishReasons.contains(reason) { attempts[i].finishReasons.append(reason) }
    }

    /// Whether the answer is worth reading for spans.
    var readsAnswers: Bool { tracing != nil }

    /// Mark finished; true the first time only (a request is logged and its span ended once).
    func finish() -> Bool {
        guard !finished else { return false }
        finished = true
        return true
    }
}
