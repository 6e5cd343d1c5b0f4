import ClawShared
import Foundation
import HTTPTypes
import Hummingbird

extension SimProvider {
    static let azureKeyHeader = HTTPField.Name("api-key")!

    /// Azure OpenAI's checks before the OpenAI body: an `api-version` query and an `api-key` header.
    func azureRefusal(_ request: Request) -> Response? {
        if request.uri.queryParameters["api-version"].map({ $0.isEmpty }) ?? true {
            let body: JSONValue = ["error": [
                "code": "MissingApiVersionParameter",
                "message": "The api-version query parameter (?api-version=) is required for all requests.",
            ]]
            return Self.json(body.encoded(sorted: true), status: .badRequest)
        }
        if request.headers[Self.azureKeyHeader]?.isEmpty ?? true {
            let body: JSONValue = ["error": [
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
            ]]
            return Self.json(body.encoded(sorted: true), status: .unauthorized)
        }
        return nil
    }

    /// `GET /openai/models?api-version=...`: the models (deployments) this provider serves.
    func azureModels(request: Request) -> Response {
        let format = self.format
        guard format == .azureOpenAI else { return wrongRoute(format, request) }
        if let refused = azureRefusal(request) { return refused }
        if behaviour.outage {
            return Self.error(.serviceUnavailable, "\(id) is down (simulated outage)", type: "server_error", code: "outage")
        }
        let names = models.isEmpty ? ["sim-default"] : models
        let created = JSONValue(Int(Date().timeIntervalSince1970))
        let data: JSONValue = [
            "object": "list",
            "data": .array(names.map {
                ["id": .string($0), "object": "model", "created_at": created, "status": "succeeded",
                 "capabilities": ["chat_completion": true, "completion": false, "embeddings": false, "fine_tune": false, "inference": true]]
            }),
        ]
        return Self.json(data.encoded(sorted: true), status: .ok)
    }
}
