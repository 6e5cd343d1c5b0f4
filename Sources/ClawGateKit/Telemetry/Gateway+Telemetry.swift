import Foundation
import Hummingbird
import HTTPTypes

/// The client routes' request ids, trace context, access log and (with a collector) spans.
extension Gateway {
    /// The ledger of the client request being served (set by `RequestTelemetryMiddleware`).
    @TaskLocal static var ledger: RequestLedger?

    /// The API a client path calls, as records and log lines name it.
    static func endpointName(_ path: String) -> String {
        switch path {
        case "/v1/chat/completions": "chat"
        case "/v1/messages": "messages"
        case "/v1/messages/count_tokens": "count_tokens"
        case "/v1/embeddings": "embeddings"
        case "/v1/responses": "responses"
        case "/v1/models": "models"
        default: String(path.prefix(64))
        }
    }

    /// A client request ended (its answer given, or its stream ended): its record, its access-log
    /// line. Called once per request, however it ended.
    func finish(_ ledger: RequestLedger) {
        guard ledger.finish() else { return }
        // Every request is kept, those refused before a route was known too (a bad key, a bad
        // body, an unknown model or path): "why did my call fail" has an answer for them as well.
        state.logRequest(ledger)
        accessLog?.append(ledger)
        if ledger.tracing != nil { ledger.endServerSpan() }
    }
}

/// Every client request gets its ledger here: the request id (the client's or a new one) and
/// trace context taken from the headers, `X-Request-Id` on the answer whatever it is, and the
/// ledger finished when the answer is given (a stream finishes its own when it ends).
struct RequestTelemetryMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let gateway: Gateway

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        let endpoint = Gateway.endpointName(request.uri.path)
        let ledger: RequestLedger
        if let tracing = gateway.traceExport {
            let (span, trace) = tracing.startRequest(request.headers, endpoint: endpoint)
            ledger = RequestLedger(tracing: tracing, span: span, trace: trace, endpoint: endpoint, start: gateway.clock())
        } else {
            ledger = RequestLedger(trace: RequestTrace.from(request.headers), endpoint: endpoint, start: gateway.clock())
        }
        var response: Response
        do {
            response = try await Gateway.$ledger.withValue(ledger) { try await next(request, context) }
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[RequestTrace.requestIDHeader] = ledger.trace.requestID
        if !ledger.deferred {
            ledger.status = Int(response.status.code)
            // An answer refused by the router (no such path or method, a body over the limit)
            // before the proxy said why: its status says it.
            if ledger.status >= 400, ledger.outcome == "ok" { ledger.refused("status_\(ledger.status)") }
            if ledger.seconds == 0 { ledger.seconds = gateway.clock() - ledger.start }
            gateway.finish(ledger)
        }
        return response
    }
}

extension AttemptOutcome {
    /// The provider's HTTP status for this outcome, when it answered one.
    var httpStatus: Int? {
        switch self {
        case .ok: 200
        case .clientError(let s), .status(let s), .rejected(let s): s
        default: nil
        }
    }
}
