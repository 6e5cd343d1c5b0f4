import Foundation
import ClawShared

/// Tokens of one answer in OpenAI's terms, whatever the provider called them.
struct TokenUsage: Sendable, Equatable {
    /// Every input token, cached ones included.
    var prompt = 0
    var completion = 0
    /// Of `prompt`, those read from the provider's cache.
    var cached = 0
    /// Of `completion`, those spent thinking.
    var reasoning = 0

    var json: JSONValue {
        var usage: [String: JSONValue] = [
            "prompt_tokens": JSONValue(prompt), "completion_tokens": JSONValue(completion), "total_tokens": JSONValue(prompt + completion),
            "prompt_tokens_details": ["cached_tokens": JSONValue(cached)],
        ]
        usage["completion_tokens_details"] = ["reasoning_tokens": JSONValue(reasoning)]
        return .object(usage)
    }
}

/// A provider's error answer read in its own format: whose fault, its message for the client, and
/// how long it asked to be left alone.
struct UpstreamError: Sendable, Equatable {
    var outcome: AttemptOutcome
    /// The provider's own words, kept for the client.
    var message: String
    /// The provider's error type or status word (`overloaded_error`, `RESOURCE_EXHAUSTED`).
    var type: String?
    /// Seconds the provider asked to be left alone (retry-after, a rate-limit reset, RetryInfo).
    var retryAfter: Double?

    /// The OpenAI-shaped body a client gets for a request the provider said was wrong.
    var openAIBody: [UInt8] { clientBody(.chat, status: 400) }

    /// The body a client of `format` gets for a request the provider said was wrong.
    func clientBody(_ format: ClientFormat, status: Int) -> [UInt8] {
        format.errorBody(status: status, message: message, openAIType: outcome.fault == .client ? "invalid_request_error" : "upstream_error",
                         code: type, extra: format == .chat ? ["param": .null] : [:])
    }
}

/// Why a 2xx body is not an answer of the provider's kind.
struct NotAnAnswer: Error, Sendable, Equatable {
    var why: String
}

/// One translated attempt's answer: the OpenAI chat completion and its tokens.
struct TranslatedAnswer: Sendable {
    var body: [UInt8]
    var usage: TokenUsage
}

/// What a stream translator made of the bytes fed to it.
struct StreamStep: Sendable {
    /// OpenAI chunks (`data: {...}\n\n`), ready for the client.
    var out: [UInt8] = []
    /// The provider sent an error event (its type and message).
    var error: (type: String, message: String)?
}

/// The translator of one provider kind: pure steps from the OpenAI chat format to the provider's
/// and back (Envoy AI Gateway's `internal/translator` shape). Routing, the breaker, retries and
/// accounting see only what these return.
enum ChatTranslator: Sendable {
    case anthropic
    case gemini

    init?(_ kind: ProviderKind) {
        switch kind {
        case .anthropic: self = .anthropic
        case .gemini: self = .gemini
        case .openai, .azureOpenAI: return nil
        }
    }

    /// The provider's request body for this conversation, or a 400 for what it cannot honour.
    func request(_ conversation: ChatConversation, model: String, provider: GatewayConfig.Provider) throws(ChatRequestError) -> [UInt8] {
        switch self {
        case .anthropic: try AnthropicTranslator.request(conversation, model: model, provider: provider)
        case .gemini: try GeminiTranslator.request(conversation, provider: provider)
        }
    }

    /// The OpenAI answer for a 2xx body, or why it is not an answer of this kind.
    func answer(_ body: [UInt8], created: Int, model: String, fallbackID: String) -> Result<TranslatedAnswer, NotAnAnswer> {
        switch self {
        case .anthropic: AnthropicTranslator.answer(body, created: created)
        case .gemini: GeminiTranslator.answer(body, created: created, model: model, fallbackID: fallbackID)
        }
    }

    /// A non-2xx answer read in the provider's format. `now` is wall-clock seconds (for reset times).
    func error(status: Int, headers: [(String, String)], body: [UInt8], now: Double) -> UpstreamError {
        switch self {
        case .anthropic: AnthropicTranslator.error(status: status, headers: headers, body: body, now: now)
        case .gemini: GeminiTranslator.error(status: status, headers: headers, body: body)
        }
    }

    func stream(includeUsage: Bool, created: Int, model: String, fallbackID: String) -> ChatStreamTranslator {
        switch self {
        case .anthropic: .anthropic(AnthropicStream(includeUsage: includeUsage, created: created))
        case .gemini: .gemini(GeminiStream(includeUsage: includeUsage, created: created, model: model, id: fallbackID))
        }
    }
}

/// A stream translator of either kind, as a value (no existential on the per-chunk path).
enum ChatStreamTranslator: Sendable {
    case anthropic(AnthropicStream)
    case gemini(GeminiStream)

    mutating func feed(_ bytes: some Collection<UInt8>) -> StreamStep {
        switch self {
        case .anthropic(var s):
            let step = s.feed(bytes)
            self = .anthropic(s)
            return step
        case .gemini(var s):
            let step = s.feed(bytes)
            self = .gemini(s)
            return step
        }
    }

    /// The upstream connection ended cleanly: the closing chunks, or nil when the stream was cut
    /// (it never said it was complete).
    mutating func end() -> [UInt8]? {
        switch self {
        case .anthropic(var s):
            let out = s.end()
            self = .anthropic(s)
            return out
        case .gemini(var s):
            let out = s.end()
            self = .gemini(s)
            return out
        }
    }

    /// Content (text or a tool call) has been produced: from here the stream is the client's.
    var sawContent: Bool {
        switch self {
        case .anthropic(let s): s.chunks.sawContent
        case .gemini(let s): s.chunks.sawContent
        }
    }

    /// The stream said it is complete (no more events will change the answer).
    var finished: Bool {
        switch self {
        case .anthropic(let s): s.finished
        case .gemini(let s): s.finished
        }
    }

    var usage: TokenUsage {
        switch self {
        case .anthropic(let s): s.usage
        case .gemini(let s): s.usage
        }
    }

    var contentBytes: Int {
        switch self {
        case .anthropic(let s): s.chunks.contentBytes
        case .gemini(let s): s.chunks.contentBytes
        }
    }
}

/// Writes OpenAI stream chunks with the fixed part of each chunk encoded once.
struct ChunkWriter: Sendable {
    private var prefix: [UInt8] = []
    private(set) var sawContent = false
    /// Bytes of text and tool arguments written (escaped), to meter a stream that brings no usage.
    private(set) var contentBytes = 0
    private var sentRole = false
    let includeUsage: Bool
    private var id = ""
    private var model = ""
    private let created: Int

    init(includeUsage: Bool, created: Int) {
        self.includeUsage = includeUsage
        self.created = created
    }

    var isStarted: Bool { !prefix.isEmpty }

    mutating func start(id: String, model: String) {
        self.id = id
        self.model = model
        var p: [UInt8] = Array("data: {\"id\":".utf8)
        JSONValue.writeString(id, into: &p)
        p += Array(",\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":".utf8)
        JSONValue.writeString(model, into: &p)
        p += Array(",\"choices\":[{\"index\":0,\"delta\":".utf8)
        prefix = p
    }

    static let openSuffix = Array(",\"finish_reason\":null}]}\n\n".utf8)
    static let roleDelta = Array("{\"role\":\"assistant\",\"content\":\"\"}".utf8)
    static let done = Array("data: [DONE]\n\n".utf8)

    private mutating func role(into out: inout [UInt8]) {
        guard !sentRole else { return }
        sentRole = true
        out += prefix
        out += Self.roleDelta
        out += Self.openSuffix
    }

    /// A text delta.
    mutating func text(_ text: some Collection<UInt8>, into out: inout [UInt8]) {
        role(into: &out)
        sawContent = true
        contentBytes += max(0, text.count - 2)
        out += prefix
        out += Array("{\"content\":".utf8)
        out += text
        out.append(UInt8(ascii: "}"))
        out += Self.openSuffix
    }

    /// A text delta from a string (escaped here).
    mutating func text(_ string: String, into out: inout [UInt8]) {
        var escaped: [UInt8] = []
        JSONValue.writeString(string, into: &escaped)
        text(escaped, into: &out)
    }

    /// The first delta of tool call number `index`.
    mutating func toolStart(index: Int, id: String, name: String, arguments: String = "", into out: inout [UInt8]) {
        role(into: &out)
        sawContent = true
        contentBytes += name.utf8.count + arguments.utf8.count
        let call: JSONValue = ["index": JSONValue(index), "id": .string(id), "type": "function",
                               "function": ["name": .string(name), "arguments": .string(arguments)]]
        out += prefix
        out += Array("{\"tool_calls\":[".utf8)
        call.write(into: &out, sorted: true)
        out += Array("]}".utf8)
        out += Self.openSuffix
    }

    /// More of tool call number `index`'s arguments (`piece` already a JSON string literal).
    mutating func toolArguments(index: Int, piece: some Collection<UInt8>, into out: inout [UInt8]) {
        contentBytes += max(0, piece.count - 2)
        out += prefix
        out += Array("{\"tool_calls\":[{\"index\":\(index),\"function\":{\"arguments\":".utf8)
        out += piece
        out += Array("}}]}".utf8)
        out += Self.openSuffix
    }

    /// The finish chunk, the usage chunk when asked for, and `[DONE]`.
    mutating func finish(reason: String, usage: TokenUsage, into out: inout [UInt8]) {
        role(into: &out)
        out += prefix
        out += Array("{},\"finish_reason\":\"\(reason)\"}]}\n\n".utf8)
        if includeUsage {
            let chunk: JSONValue = ["id": .string(id), "object": "chat.completion.chunk", "created": JSONValue(created), "model": .string(model),
                                    "choices": [], "usage": usage.json]
            out += Array("data: ".utf8)
            chunk.write(into: &out, sorted: true)
            out += Array("\n\n".utf8)
        }
        out += Self.done
    }
}

/// Reading the retry hints providers send.
enum RetryHint {
    /// `retry-after` in seconds (or an HTTP date, which providers do not send; ignored).
    static func retryAfter(_ headers: [(String, String)]) -> Double? {
        header("retry-after", headers).flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.flatMap { $0 >= 0 ? $0 : nil }
    }

    static func header(_ name: String, _ headers: [(String, String)]) -> String? {
        headers.first { $0.0.lowercased() == name }?.1
    }
}
