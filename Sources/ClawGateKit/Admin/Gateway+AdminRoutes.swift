import ClawAdminAPI
import ClawShared
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// One endpoint of the shared table (`AdminEndpoint.all`) with the code that answers it. The
/// table gives both the routes and, for every other method on the same path, the 405 answers.
struct AdminHandler: Sendable {
    var endpoint: AdminEndpoint
    var handle: @Sendable (Request, GatewayContext) async throws -> Response

    var method: HTTPRequest.Method { HTTPRequest.Method(endpoint.method.rawValue)! }
    var path: String { endpoint.path }
}

extension Gateway {
    /// A handler for every endpoint of the shared table, in its order. Reads answer their wire
    /// type; writes parse their body (only the table's fields and `reason`) into an
    /// `OperatorCommand` and commit it.
    func adminEndpoints() -> [AdminHandler] {
        func read(_ endpoint: AdminEndpoint, _ answer: @escaping @Sendable (Request) async throws -> Response) -> AdminHandler {
            AdminHandler(endpoint: endpoint) { request, _ in try await answer(request) }
        }
        func write<Body: Decodable>(_ endpoint: AdminEndpoint, _ body: Body.Type,
                                    _ command: @escaping @Sendable (Body, Parameters) throws(AdminError) -> OperatorCommand) -> AdminHandler {
            precondition(endpoint.request.map { ObjectIdentifier($0) } == ObjectIdentifier(Body.self), "\(endpoint) decodes \(Body.self), not the table's body")
            return AdminHandler(endpoint: endpoint) { request, context in
                let fields = try Self.writeBody(try await Self.body(request), allowed: endpoint.fields)
                let expected = try Self.ifMatch(request)
                let reason = fields["reason"]?.stringValue
                // A tier the route does not have is a 404 before anything in the body is looked at.
                if endpoint.path.contains(":tier") { _ = try self.tier(context.parameters) }
                let parsed = try command(try Self.decode(Body.self, fields), context.parameters)
                guard let caller = context.caller else { throw AdminError.unauthorized }
                let written = try await self.commit(parsed, caller: caller, expected: expected, reason: reason)
                return AdminAnswer.response(.ok, written, revision: written.revision)
            }
        }
        @Sendable func id(_ p: Parameters) -> String { p.get("id") ?? "" }
        @Sendable func alias(_ p: Parameters) -> String { p.get("alias") ?? "" }
        return [
            read(.snapshot) { _ in
                let snapshot = self.snapshot()
                return AdminAnswer.response(.ok, snapshot, revision: snapshot.node.revision)
            },
            read(.fleet) { _ in AdminAnswer.response(.ok, await self.fleetMembers()) },
            read(.state) { _ in
                let s = self.state.operatorState
                return AdminAnswer.response(.ok, s.document, revision: s.revision)
            },
            read(.events) { request in
                let (since, limit) = try Self.sinceAndLimit(request)
                let (events, truncated) = self.state.events(since: since)
                let page = Array(events.prefix(limit))
                return AdminAnswer.response(.ok, EventPage(items: page, truncated: truncated, nextSince: page.last?.sequence ?? since,
                                                           more: events.count > page.count))
            },
            read(.audit) { request in
                let (since, limit) = try Self.sinceAndLimit(request)
                // With a fleet store, the fleet's audit (every node's writes); else, or when it does
                // not answer, this node's own.
                var all = self.writes.withLock { $0.entries }
                if let fleetStore = self.fleetStore, let stored = try? await fleetStore.audit() { all = stored }
                let entries = all.filter { $0.sequence > since }
                let page = Array(entries.prefix(limit))
                return AdminAnswer.response(.ok, AuditPage(items: page, truncated: all.first.map { since + 1 < $0.sequence } ?? false,
                                                           nextSince: page.last?.sequence ?? since, more: entries.count > page.count))
            },
            read(.requests) { request in
                let (since, limit) = try Self.sinceAndLimit(request)
                let (requests, truncated) = self.state.requests(since: since)
                let page = Array(requests.prefix(limit))
                return AdminAnswer.response(.ok, RequestPage(items: page.map(\.wire), truncated: truncated,
                                                             nextSince: page.last?.sequence ?? since, more: requests.count > page.count))
            },
            write(.drainProvider, ReasonBody.self) { _, p in .drainProvider(id(p)) },
            write(.undrainProvider, ReasonBody.self) { _, p in .undrainProvider(id(p)) },
            write(.failoverProvider, FailoverBody.self) { body, p in .failoverProvider(id(p), to: body.to ?? []) },
            write(.restoreProvider, ReasonBody.self) { _, p in .restoreProvider(id(p)) },
            write(.setFault, FaultBody.self) { body, p throws(AdminError) in
                .setFault(provider: id(p), spec: try Self.faultSpec(body))
            },
            write(.endFault, ReasonBody.self) { _, p in .endFault(id(p)) },
            write(.setWeights, WeightsBody.self) { body, p in
                .setWeights(route: alias(p), weights: body.weights)
            },
            write(.setStrategy, StrategyBody.self) { body, p in
                .setStrategy(route: alias(p), strategy: RoutingStrategy(rawValue: body.strategy)!)
            },
            write(.setBudget, BudgetBody.self) { body, p in
                .setBudget(route: alias(p), perHour: body.perHour, action: body.action.flatMap(BudgetAction.init))
            },
            write(.failoverTier, FailoverBody.self) { body, p throws(AdminError) in
                .failoverTier(route: alias(p), tier: try self.tier(p), to: body.to ?? [])
            },
            write(.restoreTier, ReasonBody.self) { _, p throws(AdminError) in .restoreTier(route: alias(p), tier: try self.tier(p)) },
            write(.drainNode, ReasonBody.self) { _, _ in .drainNode },
            write(.undrainNode, ReasonBody.self) { _, _ in .undrainNode },
            write(.blockClient, ReasonBody.self) { _, p in .blockClient(p.get("name") ?? "") },
            write(.unblockClient, ReasonBody.self) { _, p in .unblockClient(p.get("name") ?? "") },
            write(.setClientLimits, ClientLimitsBody.self) { body, p in
                .setClientLimits(client: p.get("name") ?? "", limits: .init(body.limits))
            },
            write(.replaceState, StateBody.self) { body, _ in .replaceState(body.state) },
            AdminHandler(endpoint: .acknowledgeStore) { request, context in
                let fields = try Self.writeBody(try await Self.body(request), allowed: AdminEndpoint.acknowledgeStore.fields)
                let expected = try Self.ifMatch(request)
                guard let caller = context.caller else { throw AdminError.unauthorized }
                guard let fleetStore = self.fleetStore else {
                    throw AdminError(status: .conflict, code: "no_fleet_store",
                                     message: "This node keeps its own state file (store: {kind: file}); only a fleet store's state can be written straight into etcd, so there is nothing to acknowledge.")
                }
                // Nothing flagged: nothing to write (repeating an acknowledgement is a no-op).
                if fleetStore.health.withLock({ $0.unaudited.isEmpty }) {
                    let current = self.state.operatorState
                    if let expected, expected != current.revision { throw AdminError.stale(expected: expected, current: current.revision) }
                    return AdminAnswer.response(.ok, Written(revision: current.revision, changed: false, state: current.document), revision: current.revision)
                }
                let written = try await self.commit(.acknowledgeStore, caller: caller, expected: expected, reason: fields["reason"]?.stringValue)
                return AdminAnswer.response(.ok, written, revision: written.revision)
            },
        ]
    }

    /// The admin routes behind the auth middleware, and 405 with `Allow` for other methods.
    func addAdminRoutes(to router: Router<GatewayContext>) {
        let admin = router.group("/admin/v1").add(middleware: AdminAuthMiddleware(auth: auth))
        let endpoints = adminEndpoints()
        for endpoint in endpoints {
            admin.on(RouterPath(endpoint.path), method: endpoint.method, use: endpoint.handle)
            // HEAD answers what GET would, headers and length, without the body.
            if endpoint.method == .get {
                admin.on(RouterPath(endpoint.path), method: .head) { request, context -> Response in
                    var response = try await endpoint.handle(request, context)
                    response.body = ResponseBody(contentLength: response.body.contentLength) { writer in try await writer.finish(nil) }
                    return response
                }
            }
        }
        let all: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch, .options, .trace, .connect, HTTPRequest.Method("QUERY")!]
        for path in Set(endpoints.map(\.path)) {
            let allowed = endpoints.filter { $0.path == path }.map(\.method)
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            for method in all where !allowed.contains(method) && !(method == .head && allowed.contains(.get)) {
                admin.on(RouterPath(path), method: method) { _, _ -> Response in throw AdminError.methodNotAllowed(method, allow: allow) }
            }
        }
    }

    // MARK: Parsing

    /// `If-Match`: a revision, plain (`3`) or quoted (`"3"`), at most nine digits.
    static func revision(_ header: String) -> Int? {
        var text = Substring(header)
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
        guard (1...9).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    static func ifMatch(_ request: Request) throws(AdminError) -> Int? {
        guard let header = request.headers[.ifMatch] else { return nil }
        guard let revision = revision(header) else { throw .invalid("If-Match", "must be a revision number, plain or quoted, got '\(header)'") }
        return revision
    }

    static func body(_ request: Request) async throws(AdminError) -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: adminBodyLimit)
        } catch let error where Gateway.isTooLarge(error) {
            throw AdminError(status: .contentTooLarge, code: "body_too_large", message: "body: larger than \(adminBodyLimit >> 10) KiB; an admin write is a small JSON object",
                             field: "body")
        } catch {
            throw .invalid("body", "could not be read: \(error)")
        }
    }

    /// The largest admin write body.
    static let adminBodyLimit = 64 << 10

    /// A write's JSON body: an object with only the allowed keys; `reason` is always allowed.
    static func writeBody(_ buffer: ByteBuffer, allowed: [String]) throws(AdminError) -> [String: JSONValue] {
        if buffer.readableBytes == 0 { return [:] }
        let value: JSONValue
        do throws(JSONParseError) {
            value = try JSONValue.parse(bytes: buffer.readableBytesView)
        } catch {
            throw .invalid("body", "must be a JSON object; \(error)")
        }
        guard let object = value.objectValue else { throw .invalid("body", "must be a JSON object, got \(value.kindName)") }
        for key in object.keys.sorted() where key != "reason" && !allowed.contains(key) {
            throw .invalid(key, "unknown field; allowed: \((allowed + ["reason"]).joined(separator: ", "))")
        }
        if let reason = object["reason"], reason != .null {
            guard let text = reason.stringValue else { throw .invalid("reason", "must be a string") }
            // Counted as JSON Schema's maxLength counts: code points, not grapheme clusters.
            guard text.unicodeScalars.count <= 500 else { throw .invalid("reason", "must be at most 500 characters") }
        }
        return object
    }

    /// A write body decoded as its wire type (`AdminEndpoint.request`); a field that is not as the
    /// API takes it is refused naming it.
    static func decode<Body: Decodable>(_ type: Body.Type, _ fields: [String: JSONValue]) throws(AdminError) -> Body {
        do {
            return try JSONDecoder().decode(Body.self, from: Data(JSONValue.object(fields).bytes()))
        } catch let error as BodyFieldError {
            throw .invalid(error.field, error.message)
        } catch {
            throw .invalid("body", "\(error)")
        }
    }

    /// A fault's fields checked together (`error` takes a status, `latency` its extra_ms, at most an hour).
    static func faultSpec(_ body: FaultBody) throws(AdminError) -> OperatorCommand.FaultSpec {
        do throws(OperatorError) {
            return try OperatorCommand.checkFault(kind: FaultKind(rawValue: body.kind)!, ratio: body.ratio, status: body.status, extraMs: body.extraMs,
                                                  duration: body.duration)
        } catch {
            throw AdminError(error)
        }
    }

    /// The `:tier` of a path: a tier of the route (404 otherwise, as for an unknown route).
    func tier(_ p: Parameters) throws(AdminError) -> Int {
        let alias = p.get("alias") ?? ""
        let text = p.get("tier") ?? ""
        let route = try OperatorCommand.route(alias, config)
        guard let index = Int(text), route.tiers.indices.contains(index) else {
            throw .notFound("Route '\(alias)' has tiers 0..\(route.tiers.count - 1); no tier '\(text)'.")
        }
        return index
    }

    static func sinceAndLimit(_ request: Request) throws(AdminError) -> (Int, Int) {
        let query = request.uri.queryParameters
        var since = 0
        var limit = 500
        if let text = query.get("since") {
            guard let value = Int(text), (0...1_000_000_000).contains(value) else { throw .invalid("since", "must be a whole number 0..1000000000") }
            since = value
        }
        if let text = query.get("limit") {
            guard let value = Int(text), (1...1000).contains(value) else { throw .invalid("limit", "must be 1..1000") }
            limit = value
        }
        return (since, limit)
    }
}

extension RequestRecord {
    /// The admin API's form, with each failed attempt's reason (what to check for a refusal).
    var wire: ClawAdminAPI.RequestRecord {
        func micro(_ seconds: Double) -> Double { (seconds * 1_000_000).rounded() / 1_000_000 }
        return .init(sequence: sequence, time: time, route: route,
                     attempts: attempts.map {
                         .init(provider: $0.provider, outcome: $0.reason, model: $0.model, tier: $0.tier, status: $0.status, seconds: micro($0.seconds),
                               fault: $0.fault, decision: $0.decision, spanID: $0.spanID)
                     },
                     outcome: outcome, served: served, latencySeconds: micro(latency), requestID: trace.requestID, traceID: trace.traceID,
                     spanID: trace.spanID, parentSpanID: trace.parentSpanID, client: client, endpoint: endpoint, stream: streaming, status: status,
                     fault: fault, ttftSeconds: ttft.map(micro), tokensIn: tokensIn, tokensOut: tokensOut, costDollars: cost)
    }
}
