import ClawShared
import Foundation

/// OpenAI embeddings to Gemini's `batchEmbedContents` and back: each input string is one request,
/// `dimensions` is `outputDimensionality`, and the vectors come back in OpenAI's list, as floats or
/// (the openai SDK's default) base64 of little-endian float32.
enum GeminiEmbeddings {
    static func fail(_ message: String, param: String) -> ChatRequestError {
        ChatRequestError(message: message, code: "invalid_request", param: param)
    }

    static func inputs(_ body: JSONValue) throws(ChatRequestError) -> [String] {
        switch body["input"] {
        case .string(let s)?: return [s]
        case .array(let list)? where !list.isEmpty:
            let strings = list.compactMap(\.stringValue)
            guard strings.count == list.count else {
                throw fail("'input' must be a string or a list of strings for a gemini provider (token ids cannot be sent to it).", param: "input")
            }
            return strings
        default:
            throw fail("'input' must be a string or a non-empty list of strings.", param: "input")
        }
    }

    static func request(_ body: JSONValue, model: String, provider: GatewayConfig.Provider) throws(ChatRequestError) -> [UInt8] {
        let known: Set<String> = ["model", "input", "dimensions", "encoding_format", "user"]
        let unknown = (body.objectValue ?? [:]).keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty, !provider.dropUnsupported {
            throw ChatRequestError(message: "Provider '\(provider.id)' (gemini) cannot honour \(unknown.map { "'\($0)'" }.joined(separator: ", ")).",
                                   code: "unsupported_parameter", param: unknown[0])
        }
        if let format = body["encoding_format"]?.stringValue, format != "float", format != "base64" {
            throw fail("'encoding_format' must be float or base64.", param: "encoding_format")
        }
        var dimensions: Int?
        if let d = body["dimensions"], d != .null {
            guard let n = d.intValue, n >= 1 else { throw fail("'dimensions' must be a whole number of at least 1.", param: "dimensions") }
            dimensions = n
        }
        let requests: [JSONValue] = try inputs(body).map { text in
            var r: [String: JSONValue] = ["model": .string("models/\(model)"), "content": ["parts": [["text": .string(text)]]]]
            if let dimensions { r["outputDimensionality"] = JSONValue(dimensions) }
            return .object(r)
        }
        return JSONValue.object(["requests": .array(requests)]).bytes(sorted: true)
    }

    /// Gemini reports no usage for embeddings: the input's bytes / 4, as the cost estimate does.
    static func answer(_ raw: [UInt8], request: JSONValue, alias: String) -> Result<TranslatedAnswer, NotAnAnswer> {
        guard let answer = try? JSONValue.parse(bytes: raw), let embeddings = answer["embeddings"]?.arrayValue else {
            return .failure(NotAnAnswer(why: "not a Gemini batchEmbedContents answer"))
        }
        let base64 = request["encoding_format"]?.stringValue == "base64"
        var data: [JSONValue] = []
        for (i, e) in embeddings.enumerated() {
            guard let values = e["values"]?.arrayValue?.compactMap(\.doubleValue) else { return .failure(NotAnAnswer(why: "an embedding without values")) }
            data.append(["object": "embedding", "index": JSONValue(i), "embedding": base64 ? .string(encode(values)) : .array(values.map { .number($0) })])
        }
        let texts = (try? inputs(request)) ?? []
        let tokens = max(1, texts.reduce(0) { $0 + $1.utf8.count } / 4)
        let usage = TokenUsage(prompt: tokens)
        let out: JSONValue = ["object": "list", "data": .array(data), "model": .string(alias),
                              "usage": ["prompt_tokens": JSONValue(tokens), "total_tokens": JSONValue(tokens)]]
        return .success(TranslatedAnswer(body: out.bytes(sorted: true), usage: usage))
    }

    /// Little-endian float32, base64: what the openai SDK decodes.
    static func encode(_ values: [Double]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for v in values {
            let bits = Float(v).bitPattern
            bytes += [UInt8(bits & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8((bits >> 16) & 0xFF), UInt8(bits >> 24)]
        }
        return Data(bytes).base64EncodedString()
    }
}
