import ClawShared

/// How one attempt's answer reaches the client, by the client's format and the provider's kind.
enum AnswerPath: Sendable {
    /// OpenAI chat to an openai or azure_openai provider: the answer as it came (usage read).
    case openAIPass
    /// Anthropic Messages to an anthropic provider: the answer as it came (usage read).
    case anthropicPass
    /// OpenAI chat to a translated kind: the provider's answer turned into OpenAI's.
    case chat(ChatTranslator)
    /// Anthropic Messages to any other kind: the provider's answer (through its translator when it
    /// is not OpenAI's) turned into Anthropic's.
    case messages(ChatTranslator?)
    /// OpenAI embeddings to a gemini provider: `batchEmbedContents` and back (the request kept to
    /// answer in its encoding and estimate its tokens).
    case geminiEmbeddings(request: JSONValue, alias: String)
}

/// An Anthropic Messages stream forwarded as it came, read for usage, content, its end and an
/// error event.
struct AnthropicPassScanner: Sendable {
    private var scanner = SSEScanner()
    private(set) var sawContent = false
    private(set) var finished = false
    private(set) var usage = TokenUsage()
    private(set) var contentBytes = 0

    mutating func feed(_ bytes: some Collection<UInt8>) -> StreamStep {
        var step = StreamStep(out: Array(bytes))
        for event in scanner.feed(bytes) {
            guard let data = SSEScanner.data(of: event), let json = try? JSONValue.parse(bytes: data) else { continue }
            switch json["type"]?.stringValue {
            case "message_start": AnthropicTranslator.usage(json["message"]?["usage"], into: &usage)
            case "content_block_start", "content_block_delta":
                sawContent = true
                let delta = json["delta"]
                contentBytes += (delta?["text"]?.stringValue ?? delta?["partial_json"]?.stringValue ?? json["content_block"]?["name"]?.stringValue ?? "").utf8.count
            case "message_delta": AnthropicTranslator.usage(json["usage"], into: &usage)
            case "message_stop": finished = true
            case "error":
                if step.error == nil {
                    step.error = (json["error"]?["type"]?.stringValue ?? "error", json["error"]?["message"]?.stringValue ?? "an error event")
                }
            default: break
            }
        }
        return step
    }
}

/// The stream of one attempt from the provider's bytes to the client's: the provider's translator
/// (to OpenAI chunks), then Anthropic's event writer for an Anthropic-format client, or the
/// Anthropic pass-through's scanner. A value, fed on the stream path; no existential.
struct StreamPipeline: Sendable {
    var provider: ChatStreamTranslator?
    var writer: AnthropicEventWriter?
    var pass: AnthropicPassScanner?

    /// The pipeline of a path, or nil for the OpenAI pass-through (which has its own byte path).
    init?(_ path: AnswerPath, clientWantsUsage: Bool, created: Int, model: String, fallbackID: String) {
        switch path {
        case .openAIPass, .geminiEmbeddings: return nil
        case .anthropicPass: pass = AnthropicPassScanner()
        case .chat(let t): provider = t.stream(includeUsage: clientWantsUsage, created: created, model: model, fallbackID: fallbackID)
        case .messages(let t):
            // The OpenAI side always carries usage here: the event writer needs it for message_delta.
            provider = t?.stream(includeUsage: true, created: created, model: model, fallbackID: fallbackID)
            writer = AnthropicEventWriter()
        }
    }

    mutating func feed(_ bytes: some Collection<UInt8>) -> StreamStep {
        if pass != nil { return pass!.feed(bytes) }
        var step = provider != nil ? provider!.feed(bytes) : StreamStep(out: Array(bytes))
        if step.error == nil, writer != nil {
            step = writer!.feed(step.out)
        }
        return step
    }

    /// The upstream connection ended: the closing bytes, or nil when the stream was cut.
    mutating func end() -> [UInt8]? {
        if let pass { return pass.finished ? [] : nil }
        var out: [UInt8] = []
        if provider != nil {
            guard let rest = provider!.end() else { return nil }
            out = rest
        }
        if writer != nil {
            out = writer!.feed(out).out
            guard writer!.finished else { return nil }
        }
        return out
    }

    /// Content (text or a tool call) came: from here the stream is the client's.
    var sawContent: Bool { pass?.sawContent ?? writer?.sawContent ?? provider?.sawContent ?? false }

    /// The provider said its answer is complete.
    var finished: Bool { pass?.finished ?? provider?.finished ?? writer?.finished ?? false }

    var usage: TokenUsage { pass?.usage ?? provider?.usage ?? writer?.usage ?? TokenUsage() }

    /// Bytes of content streamed, to meter a stream that brings no usage.
    var contentBytes: Int { pass?.contentBytes ?? provider?.contentBytes ?? writer?.contentBytes ?? 0 }
}
