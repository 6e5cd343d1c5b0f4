import ClawShared
import Foundation

/// Embedding vectors for the simulated providers: the same text gives the same unit vector in every
/// format and run, so a test (or a gateway's cache) can compare them across providers.
enum SimEmbeddings {
    /// Dimensions when a request asks for none.
    static let defaultDimensions = 8
    /// The largest `dimensions` / `outputDimensionality` taken, as large as real models offer.
    static let maxDimensions = 4096

    /// One input of an embeddings request: its text (token ids written as text) and its token count.
    struct Input: Equatable {
        var text: String
        var tokens: Int
    }

    /// A unit vector of `dimensions` floats seeded from a hash of `text`. The components are drawn in
    /// order, so a shorter vector is the longer one's start made unit again, as text-embedding-3's
    /// shortened vectors are.
    static func vector(_ text: String, dimensions: Int) -> [Float] {
        var hash: UInt64 = 1_469_598_103_934_665_603
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        var random = SeededRandom(seed: hash)
        var values = (0..<dimensions).map { _ in Float(random.normal()) }
        let norm = values.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { values = values.map { $0 / norm } }
        return values
    }

    /// The vector as JSON numbers, each exactly the float32 the base64 form carries.
    static func floats(_ vector: [Float]) -> JSONValue {
        .array(vector.map { .number(Double($0)) })
    }

    /// The vector as OpenAI's `encoding_format: base64` sends it: float32 little-endian bytes, base64.
    static func base64(_ vector: [Float]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for value in vector {
            let bits = value.bitPattern.littleEndian
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
        }
        return Data(bytes).base64EncodedString()
    }

    /// Tokens of a text as the simulator counts them everywhere: characters / 4, at least 1.
    static func tokens(_ text: String) -> Int { max(1, text.count / 4) }

    /// OpenAI's `input`: a string, a list of strings, a list of token ids or a list of such lists.
    /// Returns the inputs, or the problem with `input` to answer 400 with.
    static func openAIInputs(_ value: JSONValue?) -> Result<[Input], SimFieldProblem> {
        func problem(_ reason: String) -> Result<[Input], SimFieldProblem> { .failure(SimFieldProblem(param: "input", reason: reason)) }
        guard let value else { return problem("'input' is required: a string, a list of strings, or a list of token ids (or lists of them)") }
        func tokenList(_ items: [JSONValue]) -> Input? {
            let ids = items.compactMap { $0.intValue.flatMap { $0 >= 0 ? $0 : nil } }
            guard ids.count == items.count, !ids.isEmpty else { return nil }
            return Input(text: "tokens:" + ids.map(String.init).joined(separator: ","), tokens: ids.count)
        }
        switch value {
        case .string(let text):
            guard !text.isEmpty else { return problem("'input' must not be an empty string") }
            return .success([Input(text: text, tokens: tokens(text))])
        case .array(let items):
            guard !items.isEmpty else { return problem("'input' must not be an empty list") }
            if items.allSatisfy({ $0.stringValue != nil }) {
                var inputs: [Input] = []
                for (index, item) in items.enumerated() {
                    let text = item.stringValue!
                    guard !text.isEmpty else { return problem("'input[\(index)]' must not be an empty string") }
                    inputs.append(Input(text: text, tokens: tokens(text)))
                }
                return .success(inputs)
            }
            if items.allSatisfy({ $0.doubleValue != nil }) {
                guard let input = tokenList(items) else { return problem("'input' token ids must be integers >= 0") }
                return .success([input])
            }
            if items.allSatisfy({ $0.arrayValue != nil }) {
                var inputs: [Input] = []
                for (index, item) in items.enumerated() {
                    guard let input = tokenList(item.arrayValue!) else {
                        return problem("'input[\(index)]' must be a non-empty list of integer token ids >= 0")
                    }
                    inputs.append(input)
                }
                return .success(inputs)
            }
            return problem("'input' must be a list of strings, of token ids or of token id lists, not a mix")
        default:
            return problem("'input' must be a string or a list, got \(value.kindName)")
        }
    }

    /// A `dimensions`-like field: nil (absent) -> the default; else an integer in 1...maxDimensions.
    static func dimensions(_ value: JSONValue?, param: String) -> Result<Int, SimFieldProblem> {
        guard let value, value != .null else { return .success(defaultDimensions) }
        guard let n = value.intValue, (1...maxDimensions).contains(n) else {
            return .failure(SimFieldProblem(param: param, reason: "'\(param)' must be an integer from 1 to \(maxDimensions), got \(value.kindName == "a number" ? "\(value.doubleValue!)" : value.kindName)"))
        }
        return .success(n)
    }
}

/// A broken request rule: the field (`param`, as OpenAI names it in its error) and what is wrong.
struct SimFieldProblem: Error, Equatable {
    var param: String
    var reason: String
}
