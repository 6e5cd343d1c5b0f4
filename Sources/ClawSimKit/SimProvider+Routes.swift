import ClawShared
import Foundation
import Hummingbird
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

struct SimAbort: Error {}

extension SimProvider {
    /// The OpenAI routes one provider serves on its own port.
    func router(logger: Logger) -> Router<SimContext> {
        let router = Router(context: SimContext.self)
        router.get("/v1/models") { _, _ -> Response in
            if self.behaviour.outage {
                return Self.error(.serviceUnavailable, "\(self.id) is down (simulated outage)", type: "server_error", code: "outage")
            }
            let names = self.models.isEmpty ? ["sim-default"] : self.models
            let data: JSONValue = [
                "object": "list",
                "data": .array(names.map { ["id": .string($0), "object": "model", "owned_by": .string(self.id)] }),
            ]
            return Self.json(data.encoded(), status: .ok)
        }
        router.post("/v1/chat/completions") { request, context -> Response in
            try await self.chatCompletion(request: request, context: context)
        }
        return router
    }

    static func json(_ data: Data, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, type: String, code: String? = nil, headers: HTTPFields = [:]) -> Response {
        json(OpenAIError.body(message: message, type: type, code: code), status: status, headers: headers)
    }

    func chatCompletion(request: Request, context: SimContext) async throws -> Response {
        var request = request
        let bytes = try await request.collectBody(upTo: 4 << 20)
        keep(body: Array(bytes.readableBytesView))
        guard let body = try? JSONValue.parse(bytes.readableBytesView), let fields = body.objectValue else {
            return Self.error(.badRequest, "request body is not a JSON object", type: "invalid_request_error")
        }
        guard let model = fields["model"]?.stringValue else {
            return Self.error(.badRequest, "'model' is required", type: "invalid_request_error", code: "missing_model")
        }
        if !models.isEmpty, !models.contains(model) {
            return Self.error(.notFound, "model '\(model)' does not exist on \(id)", type: "invalid_request_error", code: "model_not_found")
        }
        let streaming = fields["stream"]?.boolValue ?? false
        let includeUsage = fields["stream_options"]?["include_usage"]?.boolValue ?? false
        let promptChars = fields["messages"]?.arrayValue?.reduce(0) { $0 + ($1["content"]?.stringValue?.count ?? 0) } ?? 0
        let promptTokens = max(1, promptChars / 4)

        let (outcome, behaviour, sequence) = nextOutcome(streaming: streaming)
        var completionTokens = behaviour.completionTokens
        if let maxTokens = fields["max_tokens"]?.intValue ?? fields["max_completion_tokens"]?.intValue, maxTokens > 0 {
            completionTokens = min(completionTokens, maxTokens)
        }
        let answerID = "chatcmpl-\(id)-\(sequence)"

        switch outcome {
        case .outage:
            return Self.error(.serviceUnavailable, "\(id) is down (simulated outage)", type: "server_error", code: "outage")
        case .status(let status):
            return Self.error(HTTPResponse.Status(code: status), "\(id) answers \(status) (simulated answer_status)",
                              type: status < 500 ? "invalid_request_error" : "server_error", code: "simulated_\(status)")
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
            return Self.error(.tooManyRequests, "rate limit reached for \(id) (simulated)", type: "rate_limit_error",
                              code: "rate_limit_exceeded", headers: [.retryAfter: String(retryAfter)])
        case .serverError(let status):
            return Self.error(HTTPResponse.Status(code: status), "\(id) failed (simulated \(status))", type: "server_error")
        case .malformed(let delay):
            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
            var headers = HTTPFields()
            headers[.contentType] = streaming ? "text/event-stream" : "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "<html>upstream proxy error: this is not JSON")))
        case .ok(let delay, let cut):
            if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
            let words = Self.words(count: completionTokens, provider: id)
            let usage: JSONValue = [
                "prompt_tokens": JSONValue(promptTokens), "completion_tokens": JSONValue(completionTokens),
                "total_tokens": JSONValue(promptTokens + completionTokens),
            ]
            let created = JSONValue(Int(Date().timeIntervalSince1970))
            if !streaming {
                let answer: JSONValue = [
                    "id": .string(answerID), "object": "chat.completion", "created": created, "model": .string(model),
                    "system_fingerprint": .string("clawsim-\(id)"),
                    "choices": [[
                        "index": 0, "message": ["role": "assistant", "content": .string(words.joined())],
                        "finish_reason": "stop",
                    ]],
                    "usage": usage,
                ]
                return Self.json(answer.encoded(), status: .ok)
            }
            let interval = behaviour.tokensPerSecond > 0 ? 1 / behaviour.tokensPerSecond : 0
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            let providerID = id
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> ByteBuffer {
                    let event: JSONValue = [
                        "id": .string(answerID), "object": "chat.completion.chunk", "created": created, "model": .string(model),
                        "system_fingerprint": .string("clawsim-\(providerID)"),
                        "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
                    ]
                    return ByteBuffer(string: "data: " + String(decoding: event.encoded(), as: UTF8.self) + "\n\n")
                }
                try await writer.write(chunk(["role": "assistant", "content": ""]))
                for (index, word) in words.enumerated() {
                    if cut, index == words.count / 2 { throw SimAbort() }
                    if interval > 0 { try await Task.sleep(for: .seconds(interval)) }
                    try await writer.write(chunk(["content": .string(word)]))
                }
                try await writer.write(chunk([:], finish: "stop"))
                if includeUsage {
                    let event: JSONValue = [
                        "id": .string(answerID), "object": "chat.completion.chunk", "created": created, "model": .string(model),
                        "choices": [], "usage": usage,
                    ]
                    try await writer.write(ByteBuffer(string: "data: " + String(decoding: event.encoded(), as: UTF8.self) + "\n\n"))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            })
        }
    }

    static let vocabulary = ["The ", "gateway ", "routed ", "this ", "answer ", "through ", "a ", "simulated ", "provider ", "named "]

    static func words(count: Int, provider: String) -> [String] {
        (0..<count).map { $0 == count - 1 ? provider + "." : vocabulary[$0 % vocabulary.count] }
    }

    /// Close the connection with a TCP reset rather than a clean FIN.
    static func reset(_ channel: any Channel) {
        #if canImport(Glibc)
        if let provider = channel as? any SocketOptionProvider {
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                channel.close(promise: nil)
            }
        } else {
            channel.close(promise: nil)
        }
        #else
        channel.close(promise: nil)
        #endif
    }
}
