import ClawShared
import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import ClawServerSupport
import Synchronization

extension Gateway {
    /// The client port: the data plane (`/v1/...`) with `/healthz` and `/readyz` for load
    /// balancers. `/admin/...` and `/metrics` are not here (404): they live on the admin listener.
    func router() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        // Every client request: its request id and trace context, its record and log line.
        let v1 = router.group().add(middleware: RequestTelemetryMiddleware(gateway: self))
        // One handler for every client API (`serve`).
        for (path, format) in [("/v1/chat/completions", ClientFormat.chat), ("/v1/messages", .messages), ("/v1/embeddings", .embeddings),
                               ("/v1/responses", .responses)] {
            v1.post(RouterPath(path)) { request, context -> Response in
                // The whole request on its connection's event loop: no hop to the default pool per await.
                await EventLoopTaskExecutor.on(context.channel.eventLoop) { await self.serve(format: format, request: request, channel: context.channel) }
            }
        }
        v1.post("/v1/messages/count_tokens") { request, _ -> Response in
            var request = request
            let body = (try? await request.collectBody(upTo: 8 << 20)) ?? ByteBuffer()
            return await Self.$clientFormat.withValue(.messages) {
                await self.countTokens(body: body, authorization: Self.anthropicAuthorization(request.headers))
            }
        }
        v1.get("/v1/models") { request, _ -> Response in
            // With client keys, the routes are the callers' business only.
            if self.clientAuth.clients != nil, self.clientAuth.authenticate(request.headers[.authorization]) == nil {
                return Self.errorResponse(.unauthorized, "Incorrect or missing API key: send Authorization: Bearer KEY with a key this gateway's operators gave you.",
                                          type: "invalid_request_error", code: "invalid_api_key")
            }
            let created = JSONValue(Int(self.startedAtWall))
            let list: JSONValue = [
                "object": "list",
                "data": .array(self.config.routes.map { ["id": .string($0.alias), "object": "model", "created": created, "owned_by": "clawgate"] }),
            ]
            return Self.jsonResponse(.ok, list.encoded())
        }
        addProbes(to: router)
        return router
    }

    /// One client request of `format`: the body (at most 8 MiB), the caller's key, the proxy.
    func serve(format: ClientFormat, request: Request, channel: any Channel) async -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: 8 << 20)
        } catch let error where Self.isTooLarge(error) {
            return Self.$clientFormat.withValue(format) {
                Self.errorResponse(.contentTooLarge, "The request body is larger than 8 MiB.", type: "invalid_request_error", code: "body_too_large")
            }
        } catch {
            // A malformed chunked body (a bad chunk size, say), or the client left mid-body.
            return Self.$clientFormat.withValue(format) {
                Self.errorResponse(.badRequest, "The request body could not be read: \(error).", type: "invalid_request_error", code: "bad_body")
            }
        }
        let authorization = format == .messages ? Self.anthropicAuthorization(request.headers) : request.headers[.authorization]
        return await self.proxy(format: format, body: body, explain: self.mayExplain(request.headers), authorization: authorization,
                                connection: channel)
    }

    /// Whether collecting a body failed because it passed the limit (Hummingbird says so with a
    /// 413 when the length was announced, NIO with `NIOTooManyBytesError` when it was not).
    static func isTooLarge(_ error: any Error) -> Bool {
        if let error = error as? HTTPError { return error.status == .contentTooLarge }
        return error is NIOTooManyBytesError
    }

    /// The admin listener (`admin.listen`): `/admin/...`, `/metrics`, `/healthz` and `/readyz`, so
    /// operators and Prometheus reach the node while the client port is saturated.
    func adminRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        addProbes(to: router)
        router.get("/metrics") { _, _ -> Response in
            let now = self.clock()
            self.metrics.renderListeners(self.listeners)
            self.metrics.renderTLS([self.dataTLS, self.adminTLS].compactMap { $0 })
            self.metrics.renderDrops(accessLog: self.accessLog?.dropped.load(ordering: .relaxed) ?? 0, spans: self.traceExport?.droppedSpans ?? 0)
            let snapshot = self.state.snapshot(now: now)
            let budgets = self.config.routes.indices.map { self.budgetStatus($0, snapshot.operatorState) }
            let bytes = self.metrics.render(state: self.state, snapshot: snapshot, ready: self.isReady, now: now, budgets: budgets)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        addAdminRoutes(to: router)
        return router
    }

    static let apiKeyHeader = HTTPField.Name("x-api-key")!

    /// The routing decision shows prices, weights and in-flight counts: it answers only a request
    /// whose `x-clawgate-decision` header carries an operator token (`Bearer TOKEN`).
    func mayExplain(_ headers: HTTPFields) -> Bool {
        guard let value = headers[Self.decisionHeader] else { return false }
        return auth.authenticate(value.lowercased().hasPrefix("bearer ") ? value : "Bearer " + value)?.role == .operator
    }

    /// Anthropic's clients send their key as `x-api-key` (some as a bearer token): either is the key.
    static func anthropicAuthorization(_ headers: HTTPFields) -> String? {
        headers[.authorization] ?? headers[apiKeyHeader].map { "Bearer \($0)" }
    }

    /// `/healthz` and `/readyz`, on both listeners.
    private func addProbes(to router: Router<GatewayContext>) {
        router.get("/healthz") { _, _ -> Response in
            Self.jsonResponse(.ok, JSONValue.object(["status": "ok"]).encoded())
        }
        router.get("/readyz") { _, _ -> Response in
            let ready = self.isReady
            return Self.jsonResponse(ready ? .ok : .serviceUnavailable, JSONValue.object(["status": ready ? "ready" : "not ready"]).encoded())
        }
    }

    /// Every listener's limits, for `/metrics`.
    var listeners: [ListenerLimits] { [dataListener, adminListener] }

    /// Ready to take traffic: not drained by an operator.
    public var isReady: Bool { !state.operatorState.nodeDrain }
}
