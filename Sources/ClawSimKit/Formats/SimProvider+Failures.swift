import ClawShared
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// One server-sent event of a simulated stream; `paced` ones wait a token's time before they go
/// and count for `stream_cut_rate`'s half-way point.
struct SimEvent {
    var text: String
    var paced: Bool = false
}

extension SimProvider {
    /// An error answer in `format`'s own shape. `openAIType` and `code` fill OpenAI's and Azure's
    /// `type` and `code`; Anthropic's `type` and Google's `status` follow from the HTTP status.
    static func shapedError(
        _ format: SimFormat, _ status: Int, _ message: String, openAIType: String? = nil, code: String? = nil,
        details: JSONValue? = nil, headers: HTTPFields = [:]
    ) -> Response {
        switch format {
        case .openai, .azureOpenAI:
            let type = openAIType ?? (status < 500 ? "invalid_request_error" : "server_error")
            return error(HTTPResponse.Status(code: status), message, type: type, code: code, headers: headers)
        case .anthropic:
            var fields = headers
            fields[requestIDHeader] = "req_sim_\(UInt32.random(in: .min ... .max))"
            return json(anthropicErrorBody(status, message), status: HTTPResponse.Status(code: status), headers: fields)
        case .gemini:
            return json(googleErrorBody(status, message, details: details), status: HTTPResponse.Status(code: status), headers: headers)
        }
    }

    static let requestIDHeader = HTTPField.Name("request-id")!

    static func anthropicErrorBody(_ status: Int, _ message: String) -> Data {
        let type: String = switch status {
        case 400: "invalid_request_error"
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 529: "overloaded_error"
        case 500...: "api_error"
        default: "invalid_request_error"
        }
        return JSONValue.object(["type": "error", "error": ["type": .string(type), "message": .string(message)]]).encoded(sorted: true)
    }

    static func googleErrorBody(_ status: Int, _ message: String, details: JSONValue? = nil) -> Data {
        let name: String = switch status {
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 409: "ABORTED"
        case 429: "RESOURCE_EXHAUSTED"
        case 499: "CANCELLED"
        case 501: "UNIMPLEMENTED"
        case 503: "UNAVAILABLE"
        case 504: "DEADLINE_EXCEEDED"
        case 500...: "INTERNAL"
        default: "FAILED_PRECONDITION"
        }
        var error: [String: JSONValue] = ["code": JSONValue(status), "message": .string(message), "status": .string(name)]
        if let details { error["details"] = details }
        return JSONValue.object(["error": .object(error)]).encoded(sorted: true)
    }

    /// A route of another format than the one this provider speaks now: a 404 in its own shape.
    func wrongRoute(_ format: SimFormat, _ request: Request) -> Response {
        Self.shapedError(format, 404, "\(request.method) \(request.uri.path) is not served here: \(id) speaks \(format.rawValue)",
                         openAIType: "invalid_request_error", code: "unknown_route")
    }

    /// The answer for every outcome but `.ok`, in `format`'s shape; nil for `.ok`, which each format
    /// answers itself.
    func failureAnswer(_ outcome: SimOutcome, format: SimFormat, streaming: Bool, context: SimContext) async throws -> Response? {
        switch outcome {
        case .ok:
            return nil
        case .outage:
            return Self.shapedError(format, 503, "\(id) is down (simulated outage)", openAIType: "server_error", code: "outage")
        case .status(let status):
            return Self.shapedError(format, status, "\(id) answers \(status) (simulated answer_status)",
                                    openAIType: status < 500 ? "invalid_request_error" : "server_error", code: "simulated_\(status)")
        case .reset:
            Self.reset(context.channel)
            throw SimAbort()
        case .hang:
            let deadline = ContinuousClock.now + .seconds(600)
            while context.channel.isActive, !isStopping, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            throw SimAbort()
        case .rateLimited(let retryAfter):
            try await Task.sleep(for: .milliseconds(1))
            var headers: HTTPFields = [.retryAfter: String(retryAfter)]
            var details: JSONValue?
            switch format {
            case .anthropic:
                let reset = Date().addingTimeInterval(Double(retryAfter))
                headers[HTTPField.Name("anthropic-ratelimit-requests-reset")!] = reset.formatted(.iso8601)
            case .gemini:
                details = [["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": .string("\(retryAfter)s")]]
            case .openai, .azureOpenAI:
                break
            }
            return Self.shapedError(format, 429, "rate limit reached for \(id) (simulated)", openAIType: "rate_limit_error",
                                    code: "rate_limit_exceeded", details: details, headers: headers)
        case .serverError(let status):
            return Self.shapedError(format, status, "\(id) failed (simulated \(status))", openAIType: "server_error")
        case .overloaded:
            return Self.shapedError(format, format == .anthropic ? 529 : 503, "\(id) is overloaded (simulated)",
                                    openAIType: "server_error", code: "overloaded")
        case .malformed(let delay):
            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
            var headers = HTTPFields()
            headers[.contentType] = streaming ? "text/event-stream" : "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "<html>upstream proxy error: this is not JSON")))
        case .midstreamError(let delay):
            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
            let event: String = switch format {
            case .anthropic:
                "event: error\ndata: " + String(decoding: Self.anthropicErrorBody(529, "Overloaded"), as: UTF8.self) + "\n\n"
            case .gemini:
                "data: " + String(decoding: Self.googleErrorBody(503, "\(id) is overloaded (simulated, mid-stream)"), as: UTF8.self) + "\r\n\r\n"
            case .openai, .azureOpenAI:
                "data: " + String(decoding: OpenAIError.body(message: "\(id) is overloaded (simulated, mid-stream)", type: "server_error", code: "overloaded"), as: UTF8.self) + "\n\n"
            }
            return Self.stream([SimEvent(text: event)], interval: 0, cut: false, headers: format == .anthropic ? [Self.requestIDHeader: "req_sim_stream"] : [:])
        }
    }

    /// A 200 `text/event-stream` answer that writes `events`, waiting `interval` before each paced one
    /// and, with `cut`, dropping the connection half-way through the paced ones; `split` bytes per
    /// write (0: an event per write).
    static func stream(_ events: [SimEvent], interval: Double, cut: Bool, headers: HTTPFields = [:], split: Int = 0) -> Response {
        var fields = headers
        fields[.contentType] = "text/event-stream"
        fields[.cacheControl] = "no-cache"
        let pacedCount = events.count { $0.paced }
        return Response(status: .ok, headers: fields, body: ResponseBody { writer in
            var paced = 0
            for event in events {
                if event.paced {
                    if cut, paced == pacedCount / 2 { throw SimAbort() }
                    paced += 1
                    if interval > 0 { try await Task.sleep(for: .seconds(interval)) }
                }
                try await Self.write(ByteBuffer(string: event.text), to: &writer, split: split)
            }
            try await writer.finish(nil)
        })
    }

    /// Write `buffer` as it is, or `split` bytes per write (each its own HTTP chunk).
    static func write(_ buffer: ByteBuffer, to writer: inout any ResponseBodyWriter, split: Int) async throws {
        guard split > 0, buffer.readableBytes > split else { return try await writer.write(buffer) }
        var rest = buffer
        while rest.readableBytes > 0, let piece = rest.readSlice(length: min(split, rest.readableBytes)) {
            try await writer.write(piece)
        }
    }
}
