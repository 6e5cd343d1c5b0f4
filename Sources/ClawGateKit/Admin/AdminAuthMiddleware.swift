import Hummingbird
import NIOCore

/// The request context of a node's router: the admin token, once the middleware has checked it.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's admin token (admin routes only; nil on the data plane).
    public var token: AdminAuth.Token?
    /// The client's connection: a request whose client left is not worth an upstream call.
    public let channel: any Channel

    public init(source: Source) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Authentication for `/admin/v1`: a valid bearer token (401 otherwise); reads need any role,
/// anything else needs `operator` (403 for a viewer). Handlers behind it can rely on `context.token`.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let auth: AdminAuth

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        guard let token = auth.authenticate(request.headers[.authorization]) else { throw AdminError.unauthorized }
        let reads: Set<HTTPRequest.Method> = [.get, .head]
        if !reads.contains(request.method), token.role != .operator { throw AdminError.forbidden(token.name) }
        var context = context
        context.token = token
        return try await next(request, context)
    }
}
