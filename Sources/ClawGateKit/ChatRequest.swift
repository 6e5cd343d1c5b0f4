import ClawShared
import NIOCore

/// Why a client's request was refused before anything was sent upstream.
struct ChatRequestError: Error, Sendable, Equatable {
    var message: String
    var code: String
    var param: String?
}

/// A client's chat completion request as it arrived: its own bytes, checked, and where the few
/// fields the gateway reads or rewrites sit in them. The provider receives these bytes unchanged
/// apart from the `model` value (and `stream_options.include_usage`, which a stream needs for
/// accounting): integers, floats, unknown fields, key order, escapes and spacing stay as sent.
struct ChatRequest: Sendable {
    /// The format the client speaks: OpenAI chat (`/v1/chat/completions`) or Anthropic Messages (`/v1/messages`).
    var format: ClientFormat = .chat
    let bytes: [UInt8]
    let alias: String
    let streaming: Bool
    /// The client asked for the usage chunk itself (so it is not removed from the stream).
    let clientWantsUsage: Bool
    let modelValue: Range<Int>
    /// An edit that makes a stream end with usage: replace `range` by `with` (an empty range inserts).
    let usageEdit: (range: Range<Int>, with: [UInt8])?
    /// `max_completion_tokens` or `max_tokens` when given as a whole number (for the cost estimate;
    /// the provider checks it).
    var maxTokens: Int? = nil

    /// What a routing strategy sees of this request.
    var routing: GatewayState.RoutingRequest {
        .init(streaming: streaming, promptTokens: Double(bytes.count) / RoutingConstants.bytesPerToken, maxTokens: maxTokens)
    }

    /// A body checked whole (UTF-8, strict JSON, no duplicate key) and its top-level members: what
    /// every client format's reading starts from. The checks' words are each format's own.
    struct Skim {
        let bytes: [UInt8]
        let members: [JSONMember]

        init(_ buffer: ByteBuffer) throws(ChatRequestError) {
            bytes = Array(buffer.readableBytesView)
            do {
                members = try JSONSkimmer.topLevelObject(bytes)
            } catch {
                throw ChatRequestError(message: "The request body must be a JSON object (\(error.description)).", code: "invalid_json")
            }
        }

        func member(_ key: String) -> JSONMember? { members.first { $0.key == key } }
        func text(_ m: JSONMember) -> String { String(decoding: bytes[m.value], as: UTF8.self) }

        /// `model`, a non-empty string naming a route, and where its value sits.
        func model(_ message: String) throws(ChatRequestError) -> (alias: String, member: JSONMember) {
            guard let model = member("model"), bytes[model.value.lowerBound] == UInt8(ascii: "\""),
                  let alias = try? JSONValue.parse(bytes: bytes[model.value]).stringValue, !alias.isEmpty
            else { throw ChatRequestError(message: message, code: "missing_model", param: "model") }
            return (alias, model)
        }

        /// `messages`, a non-empty list.
        func messages(_ message: String) throws(ChatRequestError) {
            guard let messages = member("messages"), bytes[messages.value.lowerBound] == UInt8(ascii: "["),
                  ChatRequest.firstNonSpace(bytes, after: messages.value.lowerBound) != UInt8(ascii: "]")
            else { throw ChatRequestError(message: message, code: "invalid_messages", param: "messages") }
        }

        /// `stream`: true, or false when absent or null.
        func stream(_ message: String) throws(ChatRequestError) -> Bool {
            guard let stream = member("stream") else { return false }
            switch text(stream) {
            case "true": return true
            case "false", "null": return false
            default: throw ChatRequestError(message: message, code: "invalid_stream", param: "stream")
            }
        }
    }

    static func parse(_ buffer: ByteBuffer) -> Result<ChatRequest, ChatRequestError> {
        Result { () throws(ChatRequestError) in try read(buffer) }
    }

    static func read(_ buffer: ByteBuffer) throws(ChatRequestError) -> ChatRequest {
        let skim = try Skim(buffer)
        let (bytes, members) = (skim.bytes, skim.members)
        func member(_ key: String) -> JSONMember? { skim.member(key) }
        func text(_ m: JSONMember) -> String { skim.text(m) }
        let (alias, model) = try skim.model("'model' is required and must be a string naming a route.")
        try skim.messages("'messages' is required and must be a non-empty list.")
        let streaming = try skim.stream("'stream' must be true or false.")
        var clientWantsUsage = false
        var usageEdit: (Range<Int>, [UInt8])?
        let ask = Array(#""include_usage":true"#.utf8)
        if let options = member("stream_options") {
            if let inner = JSONSkimmer.members(of: bytes, objectAt: options.value) {
                if let usage = inner.first(where: { $0.key == "include_usage" }) {
                    clientWantsUsage = text(usage) == "true"
                    if !clientWantsUsage { usageEdit = (usage.value, Array("true".utf8)) }
                } else {
                    let at = options.value.lowerBound + 1
                    usageEdit = (at..<at, inner.isEmpty ? ask : ask + [UInt8(ascii: ",")])
                }
            } else if text(options) == "null" {
                usageEdit = (options.value, [UInt8(ascii: "{")] + ask + [UInt8(ascii: "}")])
            } else {
                throw ChatRequestError(message: "'stream_options' must be an object.", code: "invalid_stream_options", param: "stream_options")
            }
        } else {
            let at = members.last!.value.upperBound
            usageEdit = (at..<at, Array(#","stream_options":{"#.utf8) + ask + [UInt8(ascii: "}")])
        }
        let limit = (member("max_completion_tokens") ?? member("max_tokens")).flatMap { Int(text($0)) }.flatMap { $0 > 0 ? $0 : nil }
        return ChatRequest(bytes: bytes, alias: alias, streaming: streaming, clientWantsUsage: clientWantsUsage,
                           modelValue: model.value, usageEdit: streaming ? usageEdit : nil, maxTokens: limit)
    }

    /// A client's Anthropic Messages request (`POST /v1/messages`), checked as Anthropic checks it:
    /// `model` names a route, `messages` is a non-empty list, `max_tokens` a whole number, `stream` a
    /// boolean. Anthropic always streams usage, so nothing is edited but `model`.
    static func parseMessages(_ buffer: ByteBuffer) -> Result<ChatRequest, ChatRequestError> {
        Result { () throws(ChatRequestError) in
            let skim = try Skim(buffer)
            let (alias, model) = try skim.model("model: Field required (a string naming a route).")
            try skim.messages("messages: Field required (a non-empty list).")
            guard let limit = skim.member("max_tokens").flatMap({ Int(skim.text($0)) }), limit >= 1 else {
                throw ChatRequestError(message: "max_tokens: Field required (a whole number of at least 1).", code: "invalid_max_tokens", param: "max_tokens")
            }
            let streaming = try skim.stream("stream: must be true or false.")
            return ChatRequest(format: .messages, bytes: skim.bytes, alias: alias, streaming: streaming, clientWantsUsage: true,
                               modelValue: model.value, usageEdit: nil, maxTokens: limit)
        }
    }

    /// A client's embeddings (`format` .embeddings) or Responses API (.responses) request: `model`
    /// names a route and `input` is given; only `model` is rewritten on the way up.
    static func parseOther(_ buffer: ByteBuffer, format: ClientFormat) -> Result<ChatRequest, ChatRequestError> {
        Result { () throws(ChatRequestError) in
            let skim = try Skim(buffer)
            let (alias, model) = try skim.model("'model' is required and must be a string naming a route.")
            guard let input = skim.member("input"), skim.text(input) != "null" else {
                throw ChatRequestError(message: "'input' is required.", code: "missing_input", param: "input")
            }
            let streaming = format == .responses ? try skim.stream("'stream' must be true or false.") : false
            let limit = skim.member("max_output_tokens").flatMap { Int(skim.text($0)) }
            return ChatRequest(format: format, bytes: skim.bytes, alias: alias, streaming: streaming, clientWantsUsage: true,
                               modelValue: model.value, usageEdit: nil, maxTokens: limit)
        }
    }

    static func firstNonSpace(_ bytes: [UInt8], after index: Int) -> UInt8? {
        var i = index + 1
        while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
        return i < bytes.count ? bytes[i] : nil
    }

    /// The bytes to send to a provider: the client's, with `model` naming the provider's model.
    func upstreamBody(model: String) -> ByteBuffer {
        var edits: [(range: Range<Int>, with: [UInt8])] = [(modelValue, JSONValue.string(model).bytes())]
        if let usageEdit { edits.append(usageEdit) }
        edits.sort { $0.range.lowerBound < $1.range.lowerBound }
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count + 64)
        var at = 0
        for edit in edits {
            out.writeBytes(bytes[at..<edit.range.lowerBound])
            out.writeBytes(edit.with)
            at = edit.range.upperBound
        }
        out.writeBytes(bytes[at...])
        return out
    }
}
