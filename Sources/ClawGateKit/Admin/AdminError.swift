import ClawAdminAPI
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A refused admin request that renders itself as `{"error": {"code", "message", "field"?, "revision"?}}`.
struct AdminError: HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// The request field to fix (400).
    var field: String?
    /// The node's current revision (412).
    var revision: Int?
    /// Extra headers: `WWW-Authenticate` on a 401, `Allow` on a 405.
    var headers: HTTPFields = [:]

    static func invalid(_ field: String, _ message: String) -> AdminError {
        AdminError(status: .badRequest, code: "invalid_request", message: "\(field): \(message)", field: field)
    }

    static func notFound(_ message: String) -> AdminError {
        AdminError(status: .notFound, code: "not_found", message: message)
    }

    static let unauthorized = AdminError(status: .unauthorized, code: "unauthorized",
                                         message: "A valid bearer token is required (Authorization: Bearer <token>).",
                                         headers: [.wwwAuthenticate: "Bearer"])

    static func forbidden(_ token: String) -> AdminError {
        AdminError(status: .forbidden, code: "forbidden",
                   message: "The token '\(token)' has the viewer role; changing the node needs an operator token.")
    }

    static func stale(expected: Int, current: Int) -> AdminError {
        AdminError(status: .preconditionFailed, code: "stale_revision",
                   message: "If-Match names revision \(expected) but the node is at revision \(current); read the state again.",
                   revision: current)
    }

    static func methodNotAllowed(_ method: HTTPRequest.Method, allow: String) -> AdminError {
        AdminError(status: .methodNotAllowed, code: "method_not_allowed", message: "\(method.rawValue) is not allowed here; use \(allow).",
                   headers: [.allow: allow])
    }

    var body: ErrorBody { ErrorBody(.init(code: code, message: message, field: field, revision: revision)) }

    func response(from request: Request, context: some RequestContext) throws -> Response { response }

    var response: Response {
        var response = AdminAnswer.response(status, body)
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// Admin answers: the wire type encoded, JSON, never cached, with the revision as ETag when given.
enum AdminAnswer {
    static func response(_ status: HTTPResponse.Status, _ value: some Encodable, revision: Int? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let revision { headers[.eTag] = "\"\(revision)\"" }
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: AdminAPI.encode(value))))
    }
}
