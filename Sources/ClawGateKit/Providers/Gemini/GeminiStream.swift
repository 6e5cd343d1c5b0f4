import ClawShared

/// A Gemini `streamGenerateContent?alt=sse` stream turned into OpenAI chat chunks. Each `data:`
/// event is a whole response; usage is cumulative (the last counts); each function call is whole
/// in one event and gets its own index and an id; the stream ends when the connection closes.
struct GeminiStream: Sendable {
    private var scanner = SSEScanner()
    var chunks: ChunkWriter
    private(set) var usage = TokenUsage()
    private(set) var finished = false
    private var finishReason: String?
    private var blocked = false
    private var calls = 0
    private let model: String
    private var id: String

    init(includeUsage: Bool, created: Int, model: String, id: String) {
        chunks = ChunkWriter(includeUsage: includeUsage, created: created)
        self.model = model
        self.id = id
    }

    mutating func feed(_ bytes: some Collection<UInt8>) -> StreamStep {
        var step = StreamStep()
        for event in scanner.feed(bytes) {
            guard step.error == nil else { break }
            guard let data = SSEScanner.data(of: event), let json = try? JSONValue.parse(bytes: data) else { continue }
            handle(json, &step)
        }
        return step
    }

    private mutating func handle(_ json: JSONValue, _ step: inout StreamStep) {
        if let error = json["error"] {
            step.error = (error["status"]?.stringValue ?? "error", error["message"]?.stringValue ?? "an error event in the stream")
            return
        }
        if !chunks.isStarted {
            id = json["responseId"]?.stringValue ?? id
            chunks.start(id: id, model: json["modelVersion"]?.stringValue ?? model)
        }
        GeminiTranslator.usage(json["usageMetadata"], into: &usage)
        if json["promptFeedback"]?["blockReason"]?.stringValue != nil, json["candidates"]?.arrayValue?.isEmpty ?? true {
            blocked = true
            finished = true
            return
        }
        let (text, found) = GeminiTranslator.content(json)
        if !text.isEmpty { chunks.text(text, into: &step.out) }
        for call in found {
            let index = calls
            calls += 1
            let arguments = String(decoding: call.args.bytes(sorted: true), as: UTF8.self)
            chunks.toolStart(index: index, id: call.id ?? "call_\(id)_\(index)", name: call.name, arguments: arguments, into: &step.out)
        }
        if let reason = json["candidates"]?.arrayValue?.first?["finishReason"]?.stringValue {
            finishReason = reason
            finished = true
        }
    }

    /// The connection closed: the finish chunk, or nil if no event said the answer was complete.
    mutating func end() -> [UInt8]? {
        guard finished else { return nil }
        var out: [UInt8] = []
        let reason = blocked ? "content_filter" : GeminiTranslator.finishReason(finishReason, calledTools: calls > 0)
        chunks.finish(reason: reason, usage: usage, into: &out)
        return out
    }
}
