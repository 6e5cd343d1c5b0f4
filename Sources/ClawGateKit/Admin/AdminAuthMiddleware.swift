import Hummingbird
import NIOCore
import NIOSSL

/// The request context of a node's router: the admin token, once the middleware has checked it.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's admin token (admin routes only; nil on the data plane).
    public var token: AdminAuth.Token?
    /// The client's connection: a request whose client left is not worth an upstream call.
    public let channel: any Channel
    /// Who writes (admin writes only): the token, the peer's address and its certificate's subject.
    public var caller: AdminCaller?

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
        if !reads.contains(request.method) { context.caller = await AdminCaller(token: token, channel: context.channel) }
        return try await next(request, context)
    }
}

/// Who made an admin write, for the audit: the token's name, the address the connection came
/// from, and with TLS on the admin listener the subject of the client's certificate (nil when it
/// showed none).
public struct AdminCaller: Sendable {
    public var name: String
    public var address: String?
    public var certificate: String?

    public init(name: String, address: String? = nil, certificate: String? = nil) {
        self.name = name
        self.address = address
        self.certificate = certificate
    }

    init(token: AdminAuth.Token, channel: any Channel) async {
        name = token.name
        if let remote = channel.remoteAddress, let ip = remote.ipAddress {
            address = remote.protocol == .inet6 ? "[\(ip)]:\(remote.port ?? 0)" : "\(ip):\(remote.port ?? 0)"
        }
        // No TLS handler on a plain listener: no certificate.
        if let peer = try? await channel.nioSSL_peerCertificate().get() { certificate = ServerTLS.subject(of: peer) }
    }
}
