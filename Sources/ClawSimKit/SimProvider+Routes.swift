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
    /// The routes one provider serves on its own port: those of every format, each answering only
    /// while the provider speaks that format (the format can change while running).
    func router(logger: Logger) -> Router<SimContext> {
        let router = Router(context: SimContext.self)
        router.get("/v1/models") { request, _ -> Response in
            switch self.format {
            case .openai: return self.openAIModels()
            case .anthropic: return self.anthropicModels(request: request)
            case .gemini: return self.geminiModels(request: request)
            case let format: return self.wrongRoute(format, request)
            }
        }
        router.post("/v1/chat/completions") { request, context -> Response in
            try await self.chatCompletion(request: request, context: context)
        }
        router.post("/v1/messages") { request, context -> Response in
            try await self.anthropicMessages(request: request, context: context)
        }
        router.post("/v1/messages/count_tokens") { request, _ -> Response in
            try await self.anthropicCountTokens(request: request)
        }
        router.get("/v1beta/models") { request, _ -> Response in
            self.geminiModels(request: request)
        }
        router.post("/v1beta/models/:call") { request, context -> Response in
            try await self.geminiCall(request: request, context: context, call: context.parameters.get("call") ?? "")
        }
        // Gemini's stable version, which google-genai 3.x calls by default; the same answers.
        router.post("/v1/models/:call") { request, context -> Response in
            try await self.geminiCall(request: request, context: context, call: context.parameters.get("call") ?? "")
        }
        router.post("/openai/deployments/:deployment/chat/completions") { request, context -> Response in
            try await self.chatCompletion(request: request, context: context, deployment: context.parameters.get("deployment") ?? "")
        }
        router.get("/openai/models") { request, _ -> Response in
            self.azureModels(request: request)
        }
        router.post("/v1/embeddings") { request, context -> Response in
            try await self.openAIEmbeddings(request: request, context: context)
        }
        router.post("/openai/deployments/:deployment/embeddings") { request, context -> Response in
            try await self.openAIEmbeddings(request: request, context: context, deployment: context.parameters.get("deployment") ?? "")
        }
        router.post("/v1/responses") { request, context -> Response in
            try await self.responses(request: request, context: context, route: .openai)
        }
        router.post("/openai/responses") { request, context -> Response in
            try await self.responses(request: request, context: context, route: .azure)
        }
        router.post("/openai/v1/responses") { request, context -> Response in
            try await self.responses(request: request, context: context, route: .azureV1)
        }
        return router
    }

    func openAIModels() -> Response {
        if behaviour.outage {
            return Self.error(.serviceUnavailable, "\(id) is down (simulated outage)", type: "server_error", code: "outage")
        }
        let names = models.isEmpty ? ["sim-default"] : models
        let data: JSONValue = [
            "object": "list",
            "data": .array(names.map { ["id": .string($0), "object": "model", "owned_by": .string(id)] }),
        ]
        return Self.json(data.encoded(sorted: true), status: .ok)
    }

    static func json(_ data: Data, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, type: String, code: String? = nil, headers: HTTPFields = [:]) -> Response {
        json(OpenAIError.body(message: message, type: type, code: code), status: status, headers: headers)
    }

    /// OpenAI's chat completions; with `deployment`, Azure OpenAI's, where the deployment in the path
    /// plays the model's part.
    func chatCompletion(request: Request, context: SimContext, deployment: String? = nil) async throws -> Response {
        var request = request
        let bytes = try await request.collectBody(upTo: 4 << 20)
        let format = keep(body: Array(bytes.readableBytesView), head: request.head)
        if format != (deployment == nil ? .openai : .azureOpenAI) { return wrongRoute(format, request) }
        if deployment != nil, let refused = azureRefusal(request) { return refused }
        guard let body = try? JSONValue.parse(bytes.readableBytesView), let fields = body.objectValue else {
            return Self.error(.badRequest, "request body is not a JSON object", type: "invalid_request_error")
        }
        guard let model = fields["model"]?.stringValue ?? deployment else {
            return Self.error(.badRequest, "'model' is required", type: "invalid_request_error", code: "missing_model")
        }
        let listed = deployment ?? model
        if !models.isEmpty, !models.contains(listed) {
            if deployment != nil {
                return Self.error(.notFound, "The API deployment '\(listed)' does not exist on \(id)", type: "invalid_request_error", code: "DeploymentNotFound")
            }
            return Self.error(.notFound, "model '\(model)' does not exist on \(id)", type: "invalid_request_error", code: "model_not_found")
        }
        let streaming = fields["stream"]?.boolValue ?? false
        let (outcome, behaviour, sequence) = nextOutcome(streaming: fields["stream"]?.boolValue ?? false)
        let includeUsage = (fields["stream_options"]?["include_usage"]?.boolValue ?? false) && behaviour.streamFlaw != "no_usage"
        let flaw = behaviour.streamFlaw
        let promptChars = fields["messages"]?.arrayValue?.reduce(0) { $0 + ($1["content"]?.stringValue?.count ?? 0) } ?? 0
        let promptTokens = max(1, promptChars / 4)

        var completionTokens = behaviour.completionTokens
        if let maxTokens = fields["max_tokens"]?.intValue ?? fields["max_completion_tokens"]?.intValue, maxTokens > 0 {
            completionTokens = min(completionTokens, maxTokens)
        }
        let answerID = "chatcmpl-\(id)-\(sequence)"

        if let failure = try await failureAnswer(outcome, format: format, streaming: streaming, context: context) { return failure }
        guard case .ok(let delay, let cut) = outcome else { return Self.error(.internalServerError, "unreachable", type: "server_error") }
        if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
        let toolCalls = fields["tools"] == nil ? [] : Self.openAIToolCalls(fields, parallel: behaviour.parallelToolCalls)
        let words = Self.words(count: completionTokens, provider: id)
        let usage: JSONValue = [
            "prompt_tokens": JSONValue(promptTokens), "completion_tokens": JSONValue(completionTokens),
            "total_tokens": JSONValue(promptTokens + completionTokens),
        ]
        let created = JSONValue(Int(Date().timeIntervalSince1970))
        if !toolCalls.isEmpty {
            return openAIToolAnswer(toolCalls, answerID: answerID, model: model, created: created, usage: usage, streaming: streaming,
                                    includeUsage: includeUsage, interval: behaviour.tokensPerSecond > 0 ? 1 / behaviour.tokensPerSecond : 0, cut: cut)
        }
        if !streaming {
            let answer: JSONValue = [
                "id": .string(answerID), "object": "chat.completion", "created": created, "model": .string(model),
                "system_fingerprint": .string("clawsim-\(id)"),
                "choices": [[
                    "index": 0, "message": ["role": "assistant", "content": .string(words.joined())],
                    "finish_reason": "stop",
                ]],
                "usage": flaw == "no_usage" ? nil : usage,
            ]
            return Self.json(answer.encoded(sorted: true), status: .ok)
        }
        let interval = behaviour.tokensPerSecond > 0 ? 1 / behaviour.tokensPerSecond : 0
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let providerID = id
        let split = behaviour.writeBytes
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> ByteBuffer {
                let event: JSONValue = [
                    "id": .string(answerID), "object": "chat.completion.chunk", "created": created, "model": .string(model),
                    "system_fingerprint": .string("clawsim-\(providerID)"),
                    "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
                ]
                return ByteBuffer(string: "data: " + String(decoding: event.encoded(sorted: true), as: UTF8.self) + "\n\n")
            }
            let garbage = ByteBuffer(bytes: Array("data: ".utf8) + [0x00, 0xFF, 0xFE] + Array("not json\n\n".utf8))
            if flaw == "bad_data" { try await Self.write(garbage, to: &writer, split: split) }
            try await Self.write(chunk(["role": "assistant", "content": ""]), to: &writer, split: split)
            for (index, word) in words.enumerated() {
                if cut, index == words.count / 2 { throw SimAbort() }
                if flaw == "bad_data_late", index == words.count / 2 { try await Self.write(garbage, to: &writer, split: split) }
                if interval > 0 { try await Task.sleep(for: .seconds(interval)) }
                try await Self.write(chunk(["content": .string(word)]), to: &writer, split: split)
            }
            if flaw == "no_done" {
                try await writer.finish(nil)
                return
            }
            try await Self.write(chunk([:], finish: "stop"), to: &writer, split: split)
            if includeUsage {
                let event: JSONValue = [
                    "id": .string(answerID), "object": "chat.completion.chunk", "created": created, "model": .string(model),
                    "choices": [], "usage": usage,
                ]
                try await Self.write(ByteBuffer(string: "data: " + String(decoding: event.encoded(sorted: true), as: UTF8.self) + "\n\n"), to: &writer, split: split)
            }
            try await Self.write(ByteBuffer(string: "data: [DONE]\n\n"), to: &writer, split: split)
            try await writer.finish(nil)
        })
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
