import ClawShared

/// An Anthropic Messages event stream turned into OpenAI chat chunks, event by event, whatever the
/// reads' boundaries. `ping`, thinking and unknown events are not content and produce nothing.
struct AnthropicStream: Sendable {
    private var scanner = SSEScanner()
    var chunks: ChunkWriter
    private(set) var usage = TokenUsage()
    private(set) var finished = false
    private var stopReason: String?
    /// What each content block index is: text, the OpenAI index of a tool call, or neither.
    private enum Block: Sendable { case text, tool(Int), other }
    private var blocks: [Int: Block] = [:]
    private var tools = 0

    init(includeUsage: Bool, created: Int) {
        chunks = ChunkWriter(includeUsage: includeUsage, created: created)
    }

    mutating func feed(_ bytes: some Collection<UInt8>) -> StreamStep {
        var step = StreamStep()
        for event in scanner.feed(bytes) {
            guard !finished, step.error == nil else { break }
            guard let data = SSEScanner.data(of: event), let json = try? JSONValue.parse(bytes: data) else { continue }
            handle(json, &step)
        }
        return step
    }

    private mutating func handle(_ json: JSONValue, _ step: inout StreamStep) {
        switch json["type"]?.stringValue {
        case "message_start":
            let message = json["message"]
            chunks.start(id: message?["id"]?.stringValue ?? "", model: message?["model"]?.stringValue ?? "")
            AnthropicTranslator.usage(message?["usage"], into: &usage)
        case "content_block_start":
            guard let index = json["index"]?.intValue else { return }
            ensureStarted()
            let block = json["content_block"]
            switch block?["type"]?.stringValue {
            case "text":
                blocks[index] = .text
                if let text = block?["text"]?.stringValue, !text.isEmpty { chunks.text(text, into: &step.out) }
            case "tool_use":
                // OpenAI counts tool calls only; Anthropic's block index counts text blocks too.
                let call = tools
                tools += 1
                blocks[index] = .tool(call)
                chunks.toolStart(index: call, id: block?["id"]?.stringValue ?? "", name: block?["name"]?.stringValue ?? "", into: &step.out)
            default:
                blocks[index] = .other
            }
        case "content_block_delta":
            guard let index = json["index"]?.intValue, let delta = json["delta"] else { return }
            switch (blocks[index], delta["type"]?.stringValue) {
            case (.text?, "text_delta"):
                if let text = delta["text"]?.stringValue, !text.isEmpty { chunks.text(text, into: &step.out) }
            case (.tool(let call)?, "input_json_delta"):
                if let piece = delta["partial_json"]?.stringValue, !piece.isEmpty {
                    var literal: [UInt8] = []
                    JSONValue.writeString(piece, into: &literal)
                    chunks.toolArguments(index: call, piece: literal, into: &step.out)
                }
            default:
                break  // thinking_delta, signature_delta, citations: not content
            }
        case "message_delta":
            if let reason = json["delta"]?["stop_reason"]?.stringValue { stopReason = reason }
            AnthropicTranslator.usage(json["usage"], into: &usage)
        case "message_stop":
            ensureStarted()
            finished = true
            chunks.finish(reason: AnthropicTranslator.finishReason(stopReason), usage: usage, into: &step.out)
        case "error":
            step.error = (json["error"]?["type"]?.stringValue ?? "error", json["error"]?["message"]?.stringValue ?? "an error event in the stream")
        default:
            break  // ping, content_block_stop and event types added later
        }
    }

    private mutating func ensureStarted() {
        if !chunks.isStarted { chunks.start(id: "", model: "") }
    }

    /// A stream that ends before `message_stop` was cut.
    mutating func end() -> [UInt8]? {
        finished ? [] : nil
    }
}
