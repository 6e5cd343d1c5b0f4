import Foundation
import HTTPTypes
import W3CTraceContext

/// A client request's names on the wire: its request id, and its place in a W3C trace (the
/// client's `traceparent`/`tracestate` kept, or a trace the gateway starts).
public struct RequestTrace: Sendable, Equatable {
    /// The client's `X-Request-Id` when it is usable (1-128 printable ASCII characters), else one
    /// the gateway made; answered on every response and carried in every record, line and span.
    public var requestID: String
    /// 32 lowercase hex digits.
    public var traceID: String
    /// The client's span, parent of the gateway's server span (nil: the gateway started the trace).
    public var parentSpanID: String?
    /// The gateway's server span for this request (16 hex digits).
    public var spanID: String
    /// Whether the trace is sampled (the client's flag; a trace the gateway starts follows its sampler).
    public var sampled: Bool
    /// The client's `tracestate`, passed on as it came (nil when absent or not valid).
    public var traceState: String?

    public init(requestID: String, traceID: String, parentSpanID: String?, spanID: String, sampled: Bool, traceState: String?) {
        self.requestID = requestID
        self.traceID = traceID
        self.parentSpanID = parentSpanID
        self.spanID = spanID
        self.sampled = sampled
        self.traceState = traceState
    }

    public static let requestIDHeader = HTTPField.Name("x-request-id")!
    public static let traceParentHeader = HTTPField.Name("traceparent")!
    public static let traceStateHeader = HTTPField.Name("tracestate")!
    /// The longest client request id taken; a longer one is replaced by the gateway's own.
    public static let maxRequestIDLength = 128
    /// The longest `tracestate` passed on (W3C: 32 entries; vendors keep it well under 512 bytes).
    public static let maxTraceStateLength = 512

    /// A request id the gateway takes as given: 1-128 characters, printable ASCII without spaces
    /// (so it can stand in a log line, a header and a span attribute unchanged).
    public static func usableRequestID(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.count <= maxRequestIDLength && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// A new request id: 32 lowercase hex digits, random.
    public static func newRequestID() -> String { TraceID.random().description }

    /// The client's W3C context, when its `traceparent` is valid (version 00): trace id, its span
    /// id and whether it is sampled; `tracestate` is kept only beside a valid `traceparent`.
    public static func clientContext(traceParent: String?, traceState: String?) -> (traceID: String, spanID: String, sampled: Bool, state: String?)? {
        guard let traceParent, let context = try? TraceContext(traceParentHeaderValue: traceParent.lowercased()) else { return nil }
        var state: String?
        if let traceState, !traceState.isEmpty, traceState.utf8.count <= maxTraceStateLength,
           (try? TraceContext(traceParentHeaderValue: traceParent.lowercased(), traceStateHeaderValue: traceState)) != nil {
            state = traceState
        }
        return (context.traceID.description, context.spanID.description, context.flags.contains(.sampled), state)
    }

    /// Read from a client's headers: its request id and trace context when usable, else new ones.
    /// `sampleNew` decides whether a trace the gateway starts is sampled.
    public static func from(_ headers: HTTPFields, sampleNew: Bool = false) -> RequestTrace {
        let given = headers[requestIDHeader].map { Substring($0) }
        let requestID = given.flatMap { usableRequestID($0) ? String($0) : nil } ?? newRequestID()
        if let client = clientContext(traceParent: headers[traceParentHeader], traceState: headers[traceStateHeader]) {
            return RequestTrace(requestID: requestID, traceID: client.traceID, parentSpanID: client.spanID, spanID: newSpanID(),
                                sampled: client.sampled, traceState: client.state)
        }
        return RequestTrace(requestID: requestID, traceID: TraceID.random().description, parentSpanID: nil, spanID: newSpanID(),
                            sampled: sampleNew, traceState: nil)
    }

    public static func newSpanID() -> String { SpanID.random().description }

    /// The `traceparent` a provider receives for an attempt whose client span is `spanID`.
    public func traceParent(spanID: String) -> String {
        "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")"
    }
}

/// The trace headers of one upstream attempt.
struct UpstreamTrace: Sendable {
    var traceParent: String
    var traceState: String?
    var requestID: String
}
