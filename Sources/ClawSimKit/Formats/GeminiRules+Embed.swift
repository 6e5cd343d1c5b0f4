import ClawShared

/// The embedContent and batchEmbedContents rules, in the same style as generateContent's: unknown
/// fields named, each broken rule a 400 `INVALID_ARGUMENT` saying where.
extension GeminiRules {
    static let embedFields: Set<String> = ["model", "content", "taskType", "title", "outputDimensionality"]
    static let taskTypes: Set<String> = [
        "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
        "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY",
    ]

    /// The first broken rule of one EmbedContentRequest (`at` is its place in a batch, nil alone).
    static func embedProblem(in request: [String: JSONValue], at: String?) -> String? {
        let prefix = at.map { $0 + "." } ?? ""
        let unknown = request.keys.filter { !embedFields.contains(camel($0)) }.sorted()
        if !unknown.isEmpty {
            return "Invalid JSON payload received. Unknown name(s) \(unknown.map { "\"\(prefix)\($0)\"" }.joined(separator: ", ")): cannot find field(s); known: \(embedFields.sorted().joined(separator: ", "))"
        }
        guard let content = request.field("content") else { return "\(prefix)content: required, a Content with 'parts'" }
        guard content.objectValue != nil else { return "\(prefix)content: must be a Content object with 'parts'" }
        if let role = content.field("role"), role.stringValue == nil { return "\(prefix)content.role: must be a string" }
        if let problem = partsProblem(content.field("parts"), at: prefix + "content") { return problem }
        if let task = request.field("taskType") {
            guard let name = task.stringValue, taskTypes.contains(name) else {
                return "\(prefix)taskType: must be one of \(taskTypes.sorted().joined(separator: ", ")), got \(task.stringValue.map { "'\($0)'" } ?? task.kindName)"
            }
        }
        if let title = request.field("title"), title.stringValue == nil { return "\(prefix)title: must be a string" }
        if let dims = request.field("outputDimensionality") {
            guard let n = dims.intValue, (1...SimEmbeddings.maxDimensions).contains(n) else {
                return "\(prefix)outputDimensionality: must be an integer from 1 to \(SimEmbeddings.maxDimensions)"
            }
        }
        return nil
    }

    /// The first broken rule of a batchEmbedContents body for `models/{model}`: only `requests`, a
    /// non-empty list, each request naming the same model as the path.
    static func batchEmbedProblem(in body: [String: JSONValue], model: String) -> String? {
        let unknown = body.keys.filter { camel($0) != "requests" }.sorted()
        if !unknown.isEmpty {
            return "Invalid JSON payload received. Unknown name(s) \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")): cannot find field(s); known: requests"
        }
        guard let requests = body.field("requests")?.arrayValue else { return "requests: required, a list of EmbedContentRequest" }
        guard !requests.isEmpty else { return "requests: must not be empty" }
        for (index, request) in requests.enumerated() {
            let at = "requests[\(index)]"
            guard let fields = request.objectValue else { return "\(at): must be an object" }
            guard let named = fields.field("model")?.stringValue else { return "\(at).model: required, 'models/\(model)'" }
            guard named == "models/\(model)" || named == model else {
                return "\(at).model: '\(named)' does not match the model of the call, models/\(model)"
            }
            if let problem = embedProblem(in: fields, at: at) { return problem }
        }
        return nil
    }
}
