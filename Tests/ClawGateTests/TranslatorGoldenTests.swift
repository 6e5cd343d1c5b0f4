@testable import ClawGateKit
import ClawShared
import Foundation
import Testing

/// The golden corpus of each translated kind (Tests/ClawGateTests/Golden/KIND.json): OpenAI requests
/// to the expected upstream bodies, upstream answers and streams to the expected OpenAI answers and
/// chunks, and each kind's error bodies to the fault table.
@Suite struct TranslatorGoldenTests {
    static func corpus(_ kind: String) -> JSONValue {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(kind).json")
        return try! JSONValue.parse(bytes: Array(try! Data(contentsOf: url)))
    }

    static func provider(_ kind: ProviderKind, _ overrides: JSONValue?) -> GatewayConfig.Provider {
        var p = GatewayConfig.Provider(id: "p-\(kind.rawValue)", baseURL: "http://127.0.0.1:1", kind: kind)
        p.maxTokensDefault = overrides?["max_tokens_default"]?.intValue
        p.dropUnsupported = overrides?["drop_unsupported"]?.boolValue ?? false
        return p
    }

    static let model: [String: String] = ["anthropic": "claude-x", "gemini": "gemini-x"]

    @Test(arguments: ["anthropic", "gemini"])
    func requests(kind: String) throws {
        let corpus = Self.corpus(kind)
        let translator = ChatTranslator(ProviderKind(rawValue: kind)!)!
        for case_ in corpus["requests"]!.arrayValue! {
            let name = case_["name"]!.stringValue!
            let provider = Self.provider(ProviderKind(rawValue: kind)!, case_["provider"])
            let result = ChatConversation.read(case_["openai"]!).flatMap { c in
                Result { () throws(ChatRequestError) in try translator.request(c, model: Self.model[kind]!, provider: provider) }
            }
            if let expected = case_["error"] {
                guard case .failure(let error) = result else {
                    Issue.record("\(kind) \(name): expected a 400, got a body")
                    continue
                }
                #expect(error.param == expected["param"]?.stringValue, "\(kind) \(name)")
                #expect(error.code == expected["code"]?.stringValue, "\(kind) \(name)")
                #expect(error.message.contains(expected["contains"]!.stringValue!), "\(kind) \(name): \(error.message)")
                continue
            }
            let bytes = try result.get()
            if let text = case_["upstream_text"]?.stringValue {
                #expect(String(decoding: bytes, as: UTF8.self) == text, "\(kind) \(name)")
            } else {
                let got = try JSONValue.parse(bytes: bytes)
                #expect(got == case_["upstream"]!, "\(kind) \(name): got \(String(decoding: got.bytes(sorted: true), as: UTF8.self))")
            }
        }
    }

    /// The answer without `created` (the node's clock).
    static func dropCreated(_ value: JSONValue) -> JSONValue {
        guard var o = value.objectValue else { return value }
        o["created"] = nil
        return .object(o)
    }

    @Test(arguments: ["anthropic", "gemini"])
    func answers(kind: String) throws {
        let translator = ChatTranslator(ProviderKind(rawValue: kind)!)!
        for case_ in Self.corpus(kind)["answers"]!.arrayValue! {
            let name = case_["name"]!.stringValue!
            let answer = try translator.answer(case_["upstream"]!.bytes(), created: 1_700_000_000, model: Self.model[kind]!, fallbackID: "fallback-id").get()
            let got = try JSONValue.parse(bytes: answer.body)
            #expect(got["created"] == 1_700_000_000)
            #expect(Self.dropCreated(got) == case_["openai"]!, "\(kind) \(name): got \(String(decoding: got.bytes(sorted: true), as: UTF8.self))")
            #expect(answer.usage.prompt == got["usage"]?["prompt_tokens"]?.intValue)
            #expect(answer.usage.completion == got["usage"]?["completion_tokens"]?.intValue)
        }
    }

    /// Feed a stream in the given pieces; the chunks' data (parsed, `created` dropped) and how it ended.
    static func run(_ translator: ChatTranslator, includeUsage: Bool, pieces: [[UInt8]])
        -> (chunks: [JSONValue], error: String?, errorBeforeContent: Bool, cut: Bool, usage: TokenUsage) {
        var stream = translator.stream(includeUsage: includeUsage, created: 1_700_000_000, model: model[translator == .anthropic ? "anthropic" : "gemini"]!,
                                       fallbackID: "fallback-id")
        var out: [UInt8] = []
        var error: String?
        var before = false
        for piece in pieces {
            let step = stream.feed(piece)
            out += step.out
            if let e = step.error {
                error = e.type
                before = !stream.sawContent
                break
            }
        }
        var cut = false
        if error == nil {
            if let rest = stream.end() { out += rest } else { cut = true }
        }
        var chunks: [JSONValue] = []
        var scanner = SSEScanner()
        for event in scanner.feed(out) {
            guard let data = SSEScanner.data(of: event) else { continue }
            if data == Array("[DONE]".utf8) {
                chunks.append("[DONE]")
            } else {
                chunks.append(dropCreated(try! JSONValue.parse(bytes: data)))
            }
        }
        return (chunks, error, before, cut, stream.usage)
    }

    @Test(arguments: ["anthropic", "gemini"])
    func streams(kind: String) throws {
        let translator = ChatTranslator(ProviderKind(rawValue: kind)!)!
        for case_ in Self.corpus(kind)["streams"]!.arrayValue! {
            let name = case_["name"]!.stringValue!
            let upstream = Array(case_["upstream"]!.stringValue!.utf8)
            let result = Self.run(translator, includeUsage: case_["include_usage"]?.boolValue ?? false, pieces: [upstream])
            #expect(result.chunks == case_["chunks"]!.arrayValue!, "\(kind) \(name): got \(result.chunks.map { String(decoding: $0.bytes(sorted: true), as: UTF8.self) })")
            #expect(result.error == case_["error"]?.stringValue, "\(kind) \(name)")
            if let before = case_["error_before_content"]?.boolValue { #expect(result.errorBeforeContent == before, "\(kind) \(name)") }
            #expect(result.cut == (case_["cut"]?.boolValue ?? false), "\(kind) \(name)")
            if let usage = case_["usage"] {
                #expect(result.usage.prompt == usage["prompt"]!.intValue!, "\(kind) \(name)")
                #expect(result.usage.completion == usage["completion"]!.intValue!, "\(kind) \(name)")
            }
        }
    }

    /// Any split of the upstream stream into reads gives the same chunks.
    @Test(arguments: ["anthropic", "gemini"])
    func anySplitGivesTheSameChunks(kind: String) {
        let translator = ChatTranslator(ProviderKind(rawValue: kind)!)!
        var random = SeededRandom(seed: 11)
        for case_ in Self.corpus(kind)["streams"]!.arrayValue! {
            let upstream = Array(case_["upstream"]!.stringValue!.utf8)
            let whole = Self.run(translator, includeUsage: true, pieces: [upstream])
            // Every single split point, then random splits into many pieces.
            for cut in 1..<upstream.count where cut % 7 == 0 || cut < 40 {
                let split = Self.run(translator, includeUsage: true, pieces: [Array(upstream[..<cut]), Array(upstream[cut...])])
                #expect(split.chunks == whole.chunks && split.error == whole.error && split.cut == whole.cut, "\(kind) split at \(cut)")
            }
            for _ in 0..<50 {
                var pieces: [[UInt8]] = []
                var at = 0
                while at < upstream.count {
                    let n = 1 + Int(random.unit() * 40)
                    pieces.append(Array(upstream[at..<min(upstream.count, at + n)]))
                    at += n
                }
                let split = Self.run(translator, includeUsage: true, pieces: pieces)
                #expect(split.chunks == whole.chunks && split.error == whole.error && split.cut == whole.cut, "\(kind) \(pieces.count) pieces")
            }
        }
    }

    @Test(arguments: ["anthropic", "gemini"])
    func errors(kind: String) {
        let translator = ChatTranslator(ProviderKind(rawValue: kind)!)!
        for case_ in Self.corpus(kind)["errors"]!.arrayValue! {
            let status = case_["status"]!.intValue!
            let headers = (case_["headers"]?.objectValue ?? [:]).map { ($0.key, $0.value.stringValue!) }
            let error = translator.error(status: status, headers: headers, body: case_["body"]!.bytes(), now: case_["now"]?.doubleValue ?? 0)
            #expect(error.outcome.fault.rawValue == case_["fault"]!.stringValue!, "\(kind) \(status)")
            if let label = case_["label"]?.stringValue { #expect(error.outcome.label == label, "\(kind) \(status)") }
            if let seconds = case_["retry_after"]?.doubleValue { #expect(error.retryAfter == seconds, "\(kind) \(status)") }
            if let body = case_["client_body"] { #expect(try! JSONValue.parse(bytes: error.openAIBody) == body, "\(kind) \(status)") }
        }
    }
}

/// Anthropic-format clients (`/v1/messages`) to other kinds and back: the golden corpus in
/// Golden/messages.json.
@Suite struct MessagesGoldenTests {
    static let corpus = TranslatorGoldenTests.corpus("messages")

    @Test func requests() throws {
        for case_ in Self.corpus["requests"]!.arrayValue! {
            let name = case_["name"]!.stringValue!
            let kind = ProviderKind(rawValue: case_["kind"]!.stringValue!)!
            let provider = GatewayConfig.Provider(id: "p", baseURL: "http://127.0.0.1:1", kind: kind)
            let result = Result { () throws(ChatRequestError) -> [UInt8] in
                let c = try AnthropicClientTranslator.conversation(case_["anthropic"]!)
                return kind == .openai ? try OpenAIRenderer.request(c, model: "gpt-x", provider: provider)
                    : try ChatTranslator(kind)!.request(c, model: "gemini-x", provider: provider)
            }
            if let expected = case_["error"] {
                guard case .failure(let error) = result else {
                    Issue.record("\(name): expected a 400")
                    continue
                }
                #expect(error.param == expected["param"]?.stringValue && error.code == expected["code"]?.stringValue, "\(name): \(error)")
                #expect(error.message.contains(expected["contains"]!.stringValue!), "\(name): \(error.message)")
                continue
            }
            let got = try JSONValue.parse(bytes: try result.get())
            #expect(got == case_["upstream"]!, "\(name): got \(String(decoding: got.bytes(sorted: true), as: UTF8.self))")
        }
    }

    @Test func answers() throws {
        for case_ in Self.corpus["answers"]!.arrayValue! {
            let answer = try AnthropicClientTranslator.answer(openAI: case_["openai"]!.bytes()).get()
            let got = try JSONValue.parse(bytes: answer.body)
            #expect(got == case_["anthropic"]!, "\(case_["name"]!): got \(String(decoding: got.bytes(sorted: true), as: UTF8.self))")
        }
    }

    static func events(_ bytes: [UInt8]) -> [JSONValue] {
        var scanner = SSEScanner()
        return scanner.feed(bytes).map { event in
            let text = String(decoding: event, as: UTF8.self)
            let name = text.split(separator: "\n").first { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) } ?? ""
            return [.string(name), try! JSONValue.parse(bytes: SSEScanner.data(of: event)!)]
        }
    }

    @Test func streamsInAnyPieces() {
        var random = SeededRandom(seed: 5)
        for case_ in Self.corpus["streams"]!.arrayValue! {
            let upstream = Array(case_["openai"]!.stringValue!.utf8)
            for round in 0..<30 {
                var pipeline = StreamPipeline(.messages(nil), clientWantsUsage: true, created: 1, model: "gpt-x", fallbackID: "f")!
                var out: [UInt8] = []
                var at = 0
                while at < upstream.count {
                    let n = round == 0 ? upstream.count : 1 + Int(random.unit() * 30)
                    out += pipeline.feed(upstream[at..<min(upstream.count, at + n)]).out
                    at += n
                }
                #expect(pipeline.sawContent && pipeline.finished)
                out += pipeline.end() ?? []
                #expect(Self.events(out) == case_["events"]!.arrayValue!, "\(case_["name"]!) round \(round)")
                #expect(pipeline.usage.prompt == 11 && pipeline.usage.completion == 22)
            }
        }
    }
}

/// The Anthropic pass-through reads the stream it forwards: an error event after message_start
/// but before any content is still before content (the attempt fails over); usage and the end are seen.
@Suite struct AnthropicPassScannerTests {
    @Test func anErrorAfterMessageStartIsBeforeContentAndTheBytesGoOnAsTheyCame() {
        for case_ in TranslatorGoldenTests.corpus("anthropic")["streams"]!.arrayValue! {
            let upstream = Array(case_["upstream"]!.stringValue!.utf8)
            var pipeline = StreamPipeline(.anthropicPass, clientWantsUsage: true, created: 1, model: "m", fallbackID: "f")!
            var out: [UInt8] = []
            var error: String?
            var contentBeforeError = false
            for byte in upstream {
                let step = pipeline.feed([byte])
                out += step.out
                if let e = step.error, error == nil {
                    error = e.type
                    contentBeforeError = pipeline.sawContent
                }
            }
            #expect(out == upstream, "the bytes go through as they came")
            #expect(error == case_["error"]?.stringValue, "\(case_["name"]!)")
            if let before = case_["error_before_content"]?.boolValue { #expect(contentBeforeError == !before, "\(case_["name"]!)") }
            if case_["cut"]?.boolValue == true || error != nil { #expect(pipeline.end() == nil) } else { #expect(pipeline.end() == []) }
            if let usage = case_["usage"] {
                #expect(pipeline.usage.prompt == usage["prompt"]!.intValue! && pipeline.usage.completion == usage["completion"]!.intValue!)
            }
        }
    }
}
