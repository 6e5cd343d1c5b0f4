import ClawShared
import Foundation
import HTTPTypes
import Hummingbird

extension SimProvider {
    /// OpenAI's 400 for a broken field: `{"error": {"message", "type", "param", "code"}}`.
    static func fieldError(_ problem: SimFieldProblem, code: String = "invalid_value") -> Response {
        json(OpenAIError.body(message: problem.reason, type: "invalid_request_error", code: code, extra: ["param": .string(problem.param)]),
             status: .badRequest)
    }

    /// `POST /v1/embeddings` (OpenAI); with `deployment`, Azure's
    /// `POST /openai/deployments/{deployment}/embeddings?api-version=...`, where the deployment is the model.
    func openAIEmbeddings(request: Request, context: SimContext, deployment: String? = nil) async throws -> Response {
        var request = request
        let bytes = try await request.collectBody(upTo: 4 << 20)
        let format = keep(body: Array(bytes.readableBytesView), head: request.head)
        if format != (deployment == nil ? .openai : .azureOpenAI) { return wrongRoute(format, request) }
        if deployment != nil, let refused = azureRefusal(request) { return refused }
        guard let fields = (try? JSONValue.parse(bytes.readableBytesView))?.objectValue else {
            return Self.error(.badRequest, "request body is not a JSON object", type: "invalid_request_error")
        }
        guard let model = fields["model"]?.stringValue ?? deployment else {
            return Self.fieldError(SimFieldProblem(param: "model", reason: "'model' is required: the embedding model's name"), code: "missing_required_parameter")
        }
        let inputs: [SimEmbeddings.Input]
        switch SimEmbeddings.openAIInputs(fields["input"]) {
        case .failure(let problem): return Self.fieldError(problem, code: fields["input"] == nil ? "missing_required_parameter" : "invalid_value")
        case .success(let found): inputs = found
        }
        let dimensions: Int
        switch SimEmbeddings.dimensions(fields["dimensions"], param: "dimensions") {
        case .failure(let problem): return Self.fieldError(problem)
        case .success(let n): dimensions = n
        }
        let encoding = fields["encoding_format"] ?? "float"
        guard encoding == "float" || encoding == "base64" else {
            return Self.fieldError(SimFieldProblem(param: "encoding_format", reason: "'encoding_format' must be 'float' or 'base64', got \(encoding.stringValue.map { "'\($0)'" } ?? encoding.kindName)"))
        }
        if let user = fields["user"], user.stringValue == nil {
            return Self.fieldError(SimFieldProblem(param: "user", reason: "'user' must be a string, got \(user.kindName)"))
        }
        let listed = deployment ?? model
        if !models.isEmpty, !models.contains(listed) {
            if deployment != nil {
                return Self.error(.notFound, "The API deployment '\(listed)' does not exist on \(id)", type: "invalid_request_error", code: "DeploymentNotFound")
            }
            return Self.error(.notFound, "model '\(model)' does not exist on \(id)", type: "invalid_request_error", code: "model_not_found")
        }

        let (outcome, _, _) = nextOutcome(streaming: false)
        if let failure = try await failureAnswer(outcome, format: format, streaming: false, context: context) { return failure }
        guard case .ok(let delay, _) = outcome else { return Self.error(.internalServerError, "unreachable", type: "server_error") }
        if delay > 0 { try await Task.sleep(for: .seconds(delay)) }

        let data: [JSONValue] = inputs.enumerated().map { index, input in
            let vector = SimEmbeddings.vector(input.text, dimensions: dimensions)
            let embedding: JSONValue = encoding == "base64" ? .string(SimEmbeddings.base64(vector)) : SimEmbeddings.floats(vector)
            return ["object": "embedding", "index": JSONValue(index), "embedding": embedding]
        }
        let tokens = inputs.reduce(0) { $0 + $1.tokens }
        let answer: JSONValue = [
            "object": "list", "data": .array(data), "model": .string(model),
            "usage": ["prompt_tokens": JSONValue(tokens), "total_tokens": JSONValue(tokens)],
        ]
        return Self.json(answer.encoded(sorted: true), status: .ok)
    }

    /// Gemini's `:embedContent` (`{"embedding": {"values"}}`) and `:batchEmbedContents`
    /// (`{"embeddings": [{"values"}...]}`), with no usage, as Gemini answers; `fields` already passed
    /// the key check. Called from `geminiCall`.
    func geminiEmbed(fields: [String: JSONValue], model: String, batch: Bool, context: SimContext) async throws -> Response {
        let requests: [[String: JSONValue]]
        if batch {
            if let problem = GeminiRules.batchEmbedProblem(in: fields, model: model) { return Self.shapedError(.gemini, 400, problem) }
            requests = (fields.field("requests")?.arrayValue ?? []).compactMap(\.objectValue)
        } else {
            if let problem = GeminiRules.embedProblem(in: fields, at: nil) { return Self.shapedError(.gemini, 400, problem) }
            requests = [fields]
        }
        if !models.isEmpty, !models.contains(model) {
            return Self.shapedError(.gemini, 404, "models/\(model) is not found for API version v1beta on \(id)")
        }
        let (outcome, _, _) = nextOutcome(streaming: false)
        if let failure = try await failureAnswer(outcome, format: .gemini, streaming: false, context: context) { return failure }
        guard case .ok(let delay, _) = outcome else { return Self.shapedError(.gemini, 500, "unreachable") }
        if delay > 0 { try await Task.sleep(for: .seconds(delay)) }

        let embeddings: [JSONValue] = requests.map { request in
            let text = (request.field("content")?.field("parts")?.arrayValue ?? []).compactMap { $0.field("text")?.stringValue }.joined()
            let dimensions = request.field("outputDimensionality")?.intValue ?? SimEmbeddings.defaultDimensions
            return ["values": SimEmbeddings.floats(SimEmbeddings.vector(text, dimensions: dimensions))]
        }
        let answer: JSONValue = batch ? ["embeddings": .array(embeddings)] : ["embedding": embeddings[0]]
        return Self.json(answer.encoded(sorted: true), status: .ok)
    }
}
