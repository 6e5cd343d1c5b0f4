import Foundation
import Tracing

/// What an answer says about itself, read only while spans are exported: `gen_ai.response.*`.
struct AnswerFacts: Sendable, Equatable {
    var id: String?
    var model: String?
    var finishReasons: [String] = []

    static let idKey = Array(#""id":""#.utf8)
    static let modelKey = Array(#""model":""#.utf8)
    static let finishKeys = [Array(#""finish_reason":""#.utf8), Array(#""stop_reason":""#.utf8), Array(#""finishReason":""#.utf8)]

    /// The first `id` and `model` strings and every finish reason in an answer or a stream's
    /// bytes (OpenAI, Anthropic and Gemini spell them so), by a scan: the answer is not parsed.
    static func read(_ bytes: [UInt8]) -> AnswerFacts {
        var facts = AnswerFacts()
        facts.id = string(after: idKey, in: bytes, from: 0)
        facts.model = string(after: modelKey, in: bytes, from: 0)
        for key in finishKeys {
            var from = 0
            while let at = Gateway.firstIndex(of: key, in: bytes, from: from) {
                if let value = string(after: key, in: bytes, from: at), !facts.finishReasons.contains(value) { facts.finishReasons.append(value) }
                from = at + key.count
            }
        }
        return facts
    }

    /// The (short, unescaped) string value after `key`; nil when absent, escaped or over 200 bytes.
    static func string(after key: [UInt8], in bytes: [UInt8], from: Int) -> String? {
        guard let at = Gateway.firstIndex(of: key, in: bytes, from: from) else { return nil }
        var end = at + key.count
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), end - at < 200 { end += 1 }
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else { return nil }
        return String(decoding: bytes[(at + key.count)..<end], as: UTF8.self)
    }

    mutating func merge(_ other: AnswerFacts) {
        id = id ?? other.id
        model = model ?? other.model
        for reason in other.finishReasons where !finishReasons.contains(reason) { finishReasons.append(reason) }
    }
}

/// The GenAI semantic conventions' words for what the gateway knows.
enum GenAI {
    /// `gen_ai.operation.name` for a client API.
    static func operation(_ endpoint: String) -> String {
        switch endpoint {
        case "embeddings": "embeddings"
        default: "chat"
        }
    }

    /// `gen_ai.provider.name` for a provider kind (the conventions' well-known values).
    static func provider(_ kind: String) -> String {
        switch kind {
        case "gemini": "gcp.gemini"
        case "azure_openai": "azure.ai.openai"
        default: kind
        }
    }
}

extension RequestLedger {
    /// Put the attempt's figures on its client span and end it.
    func endAttemptSpan(_ index: Int) {
        guard index < attemptSpans.count, let span = attemptSpans[index] else { return }
        let a = attempts[index]
        span.updateAttributes { attributes in
            attributes["gen_ai.operation.name"] = GenAI.operation(endpoint)
            attributes["gen_ai.provider.name"] = GenAI.provider(a.kind)
            attributes["gen_ai.request.model"] = a.model
            if let model = a.responseModel { attributes["gen_ai.response.model"] = model }
            if let id = a.responseID { attributes["gen_ai.response.id"] = id }
            if !a.finishReasons.isEmpty { attributes["gen_ai.response.finish_reasons"] = a.finishReasons }
            attributes["gen_ai.usage.input_tokens"] = a.tokensIn
            attributes["gen_ai.usage.output_tokens"] = a.tokensOut
            let parts = a.server.split(separator: ":", maxSplits: 1)
            attributes["server.address"] = String(parts.first ?? "")
            if parts.count == 2, let port = Int(parts[1]) { attributes["server.port"] = port }
            if let status = a.status { attributes["http.response.status_code"] = status }
            if a.outcome != "ok" { attributes["error.type"] = a.outcome }
            attributes["clawgate.route"] = route ?? ""
            if let client { attributes["clawgate.client"] = client }
            attributes["clawgate.attempt"] = index + 1
            attributes["clawgate.provider"] = a.provider
            attributes["clawgate.tier"] = a.tier
            attributes["clawgate.fault"] = a.fault
            attributes["clawgate.cost_dollars"] = a.cost
            if let ttft = a.ttft { attributes["clawgate.ttft_seconds"] = ttft }
            if let decision = a.decision { attributes["clawgate.decision"] = decision }
        }
        span.operationName = "\(GenAI.operation(endpoint)) \(a.model)"
        if a.outcome != "ok" { span.setStatus(SpanStatus(code: .error, message: a.reason)) }
        span.end()
        attemptSpans[index] = nil
    }

    /// Put the request's figures on its server span and end it (after any attempt still open).
    func endServerSpan() {
        for index in attemptSpans.indices { endAttemptSpan(index) }
        guard let span = serverSpan else { return }
        let served = attempts.last { $0.provider == self.served }
        span.updateAttributes { attributes in
            attributes["gen_ai.operation.name"] = GenAI.operation(endpoint)
            if let route { attributes["gen_ai.request.model"] = route }
            if let served {
                attributes["gen_ai.provider.name"] = GenAI.provider(served.kind)
                if let model = served.responseModel ?? Optional(served.model) { attributes["gen_ai.response.model"] = model }
                if let id = served.responseID { attributes["gen_ai.response.id"] = id }
                if !served.finishReasons.isEmpty { attributes["gen_ai.response.finish_reasons"] = served.finishReasons }
            }
            attributes["gen_ai.usage.input_tokens"] = tokensIn
            attributes["gen_ai.usage.output_tokens"] = tokensOut
            attributes["http.response.status_code"] = status
            if status >= 400 || fault == "provider" { attributes["error.type"] = outcome == "ok" ? String(status) : outcome }
            attributes["clawgate.route"] = route ?? ""
            if let client { attributes["clawgate.client"] = client }
            attributes["clawgate.request_id"] = trace.requestID
            attributes["clawgate.endpoint"] = endpoint
            attributes["clawgate.attempts"] = attempts.count
            if let served = self.served { attributes["clawgate.served_by"] = served }
            attributes["clawgate.fault"] = fault
            attributes["clawgate.cost_dollars"] = cost
            if let ttft { attributes["clawgate.ttft_seconds"] = ttft }
            attributes["clawgate.stream"] = streaming
        }
        span.operationName = route.map { "\(endpoint) \($0)" } ?? endpoint
        if status >= 500 { span.setStatus(SpanStatus(code: .error, message: outcome)) }
        span.end()
        serverSpan = nil
    }
}
