import ClawAdminAPI
import ClawShared
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix

/// A refused admin request: status, code and message, rendered as `{"error": {"code", "message"}}`.
struct AdminError: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// The request field to fix (400).
    var field: String?
    /// The node's current revision (412).
    var revision: Int?

    static func invalid(_ field: String, _ message: String) -> AdminError {
        AdminError(status: .badRequest, code: "invalid_request", message: "\(field): \(message)", field: field)
    }

    static func notFound(_ message: String) -> AdminError {
        AdminError(status: .notFound, code: "not_found", message: message)
    }
}

extension Gateway {
    /// An answer of the admin API, encoded from its wire type.
    static func adminAnswer(_ status: HTTPResponse.Status, _ value: some Encodable, revision: Int? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let revision { headers[.eTag] = "\"\(revision)\"" }
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: AdminAPI.encode(value))))
    }

    static func adminError(_ error: AdminError, headers extraHeaders: HTTPFields = [:]) -> Response {
        var response = adminAnswer(error.status, ErrorBody(.init(code: error.code, message: error.message, field: error.field, revision: error.revision)))
        for field in extraHeaders { response.headers.append(field) }
        return response
    }

    /// Check the bearer token and its role; a viewer may read, an operator may also write.
    func authorize(_ request: Request, write: Bool) -> Result<AdminAuth.Token, AdminError> {
        guard let token = auth.authenticate(request.headers[.authorization]) else {
            return .failure(AdminError(status: .unauthorized, code: "unauthorized",
                                       message: "A valid bearer token is required (Authorization: Bearer <token>)."))
        }
        if write, token.role != .operator {
            return .failure(AdminError(status: .forbidden, code: "forbidden",
                                       message: "The token '\(token.name)' has the viewer role; changing the node needs an operator token."))
        }
        return .success(token)
    }

    func adminRead(_ request: Request, _ body: () -> Response) -> Response {
        switch authorize(request, write: false) {
        case .failure(let error):
            return Self.adminError(error, headers: error.status == .unauthorized ? [.wwwAuthenticate: "Bearer"] : [:])
        case .success:
            return body()
        }
    }

    /// Parse a write's JSON body: an object with only the allowed keys; `reason` is always allowed.
    static func writeBody(_ buffer: ByteBuffer, allowed: [String]) -> Result<[String: JSONValue], AdminError> {
        if buffer.readableBytes == 0 { return .success([:]) }
        guard let value = try? JSONValue.parse(bytes: buffer.readableBytesView) else {
            return .failure(.invalid("body", "must be a JSON object"))
        }
        guard let object = value.objectValue else { return .failure(.invalid("body", "must be a JSON object")) }
        for key in object.keys.sorted() where key != "reason" && !allowed.contains(key) {
            return .failure(.invalid(key, "unknown field; allowed: \((allowed + ["reason"]).joined(separator: ", "))"))
        }
        if let reason = object["reason"], reason != .null {
            guard let text = reason.stringValue else { return .failure(.invalid("reason", "must be a string")) }
            // Counted as JSON Schema's maxLength counts: code points, not grapheme clusters.
            guard text.unicodeScalars.count <= 500 else { return .failure(.invalid("reason", "must be at most 500 characters")) }
        }
        return .success(object)
    }

    /// The common shape of every write: auth, If-Match, validate and change, persist, apply, audit, event.
    /// The serialised part (it fsyncs) runs on NIO's blocking thread pool, never on an event loop.
    func adminWrite(
        _ request: Request, body: ByteBuffer, allowed: [String], action: String, target: String,
        change: @escaping @Sendable ([String: JSONValue], inout OperatorState) throws(AdminError) -> Void
    ) async -> Response {
        let token: AdminAuth.Token
        switch authorize(request, write: true) {
        case .failure(let error):
            return Self.adminError(error, headers: error.status == .unauthorized ? [.wwwAuthenticate: "Bearer"] : [:])
        case .success(let t):
            token = t
        }
        let fields: [String: JSONValue]
        switch Self.writeBody(body, allowed: allowed) {
        case .failure(let error): return Self.adminError(error)
        case .success(let f): fields = f
        }
        var expected: Int?
        if let ifMatch = request.headers[.ifMatch] {
            guard let revision = Self.revision(ifMatch) else {
                return Self.adminError(.invalid("If-Match", "must be a revision number, plain or quoted, got '\(ifMatch)'"))
            }
            expected = revision
        }
        let reason = fields["reason"]?.stringValue
        let expectedRevision = expected
        do {
            return try await NIOThreadPool.singleton.runIfActive {
                self.commit(token: token, fields: fields, expected: expectedRevision, reason: reason, action: action, target: target, change: change)
            }
        } catch {
            return Self.adminError(AdminError(status: .serviceUnavailable, code: "shutting_down", message: "The node is shutting down; the change was not made."))
        }
    }

    /// Check the revision, change, persist, apply and audit, under the write lock.
    private func commit(token: AdminAuth.Token, fields: [String: JSONValue], expected: Int?, reason: String?, action: String, target: String,
                        change: ([String: JSONValue], inout OperatorState) throws(AdminError) -> Void) -> Response {
        writes.withLock { audit -> Response in
            let current = state.operatorState
            // A request that is wrong in itself is refused as such (400/404) before its precondition (412).
            var next = current
            do {
                try change(fields, &next)
            } catch let error as AdminError {
                return Self.adminError(error)
            } catch {
                return Self.adminError(AdminError(status: .internalServerError, code: "internal", message: "\(error)"))
            }
            if let expected, expected != current.revision {
                return Self.adminError(AdminError(
                    status: .preconditionFailed, code: "stale_revision",
                    message: "If-Match names revision \(expected) but the node is at revision \(current.revision); read the state again.",
                    revision: current.revision))
            }
            if next == current {
                return Self.adminAnswer(.ok, Written(revision: current.revision, changed: false, state: current.document), revision: current.revision)
            }
            next.revision = current.revision + 1
            do {
                try store.save(next)
            } catch {
                logger.error("cannot persist operator state; the write is refused", metadata: ["error": .string("\(error)")])
                return Self.adminError(AdminError(status: .internalServerError, code: "persist_failed",
                                                  message: "The change could not be saved, so it was not made: \(error)"))
            }
            state.apply(next)
            let entry = AuditEntry(sequence: audit.nextSequence, time: Date().timeIntervalSince1970, actor: token.name, action: action,
                                   target: target, before: Self.auditView(current, target: target), after: Self.auditView(next, target: target),
                                   reason: reason, revision: next.revision)
            audit.nextSequence += 1
            audit.entries.append(entry)
            if audit.entries.count > 1000 { audit.entries.removeFirst(audit.entries.count - 1000) }
            do {
                try store.append(entry)
            } catch {
                logger.error("cannot append to the audit log", metadata: ["error": .string("\(error)")])
            }
            state.appendEvent(kind: .operatorAction, subject: target,
                              detail: "\(action) by \(token.name)" + (reason.map { ": \($0)" } ?? ""))
            if action.hasSuffix(".failover") {
                let to = fields["to"]?.arrayValue?.compactMap(\.stringValue) ?? []
                state.appendEvent(kind: .failoverStarted, subject: target,
                                  detail: to.isEmpty ? "new traffic goes to the rest of the tier, then the next tier" : "new traffic goes to \(to.joined(separator: ", "))")
            } else if action.hasSuffix(".restore") {
                state.appendEvent(kind: .failoverRestored, subject: target, detail: "configured routing applies again")
            }
            if action == "node.drain" {
                state.appendEvent(kind: .nodeDraining, subject: config.nodeID, detail: "readiness answers 503; in-flight requests finish")
            } else if action == "node.undrain" {
                state.appendEvent(kind: .nodeServing, subject: config.nodeID, detail: "readiness answers 200 again")
            }
            logger.info("operator action", metadata: ["actor": .string(token.name), "action": .string(action), "target": .string(target),
                                                      "revision": .stringConvertible(next.revision)])
            return Self.adminAnswer(.ok, Written(revision: next.revision, changed: true, state: next.document), revision: next.revision)
        }
    }

    /// The part of the operator state a write touched, for the audit's before -> after.
    static func auditView(_ state: OperatorState, target: String) -> JSONValue {
        let parts = target.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return .null }
        switch parts[0] {
        case "provider":
            let f = state.failedOver(provider: parts[1])
            return ["drained": .bool(state.drainedProviders.contains(parts[1])), "failover": f?.json ?? .null]
        case "route":
            return .object((state.weights[parts[1]] ?? [:]).mapValues { JSONValue($0) })
        case "tier":
            return state.failovers.first { $0.subject == target }?.json ?? .null
        case "node":
            return ["drain": .bool(state.nodeDrain)]
        default:
            return .null
        }
    }

    // MARK: Write actions

    func provider(_ id: String) throws(AdminError) -> Int {
        guard let index = state.providerIndex[id] else {
            throw .notFound("No provider '\(id)'; known: \(config.providers.map(\.id).joined(separator: ", ")).")
        }
        return index
    }

    func route(_ alias: String) throws(AdminError) -> GatewayConfig.Route {
        guard let index = state.routeIndex[alias] else {
            throw .notFound("No route '\(alias)'; known: \(config.routes.map(\.alias).joined(separator: ", ")).")
        }
        return config.routes[index]
    }

    /// Parse and check `to`: providers that can take over from `from` on every route it serves.
    func failoverTargets(_ fields: [String: JSONValue], routes: [GatewayConfig.Route], exclude: Set<String>) throws(AdminError) -> [String] {
        guard let value = fields["to"] else { return [] }
        guard let list = value.arrayValue else { throw .invalid("to", "must be a list of provider ids") }
        var targets: [String] = []
        for (index, item) in list.enumerated() {
            guard let id = item.stringValue else { throw .invalid("to[\(index)]", "must be a provider id") }
            guard state.providerIndex[id] != nil else { throw .invalid("to[\(index)]", "unknown provider '\(id)'") }
            guard !exclude.contains(id) else { throw .invalid("to[\(index)]", "'\(id)' is the provider (or in the tier) being failed over") }
            for route in routes where !route.tiers.joined().contains(where: { $0.provider == id }) {
                throw .invalid("to[\(index)]", "'\(id)' is not in route '\(route.alias)', so it cannot take that route's traffic")
            }
            if !targets.contains(id) { targets.append(id) }
        }
        return targets
    }

    func setWeights(_ alias: String, _ fields: [String: JSONValue], _ next: inout OperatorState) throws(AdminError) {
        let route = try route(alias)
        guard let weights = fields["weights"]?.objectValue, !weights.isEmpty else {
            throw .invalid("weights", "required: an object of provider id -> weight 0..1000")
        }
        let inRoute = Set(route.tiers.joined().map(\.provider))
        var overrides = next.weights[alias] ?? [:]
        for (id, value) in weights.sorted(by: { $0.key < $1.key }) {
            guard inRoute.contains(id) else {
                throw .invalid("weights.\(id)", "provider '\(id)' is not in route '\(alias)'; its providers: \(inRoute.sorted().joined(separator: ", "))")
            }
            guard let weight = value.intValue, (0...1000).contains(weight) else {
                throw .invalid("weights.\(id)", "must be a whole number 0..1000")
            }
            overrides[id] = weight
        }
        for (index, tier) in route.tiers.enumerated() {
            // Keep only overrides that differ from the configuration.
            for t in tier where overrides[t.provider] == t.weight { overrides[t.provider] = nil }
            if tier.allSatisfy({ (overrides[$0.provider] ?? $0.weight) == 0 }) {
                throw .invalid("weights", "tier \(index) of route '\(alias)' would have every weight 0; keep at least one above 0")
            }
        }
        next.weights[alias] = overrides.isEmpty ? nil : overrides
    }

    func failoverProvider(_ id: String, _ fields: [String: JSONValue], _ next: inout OperatorState) throws(AdminError) {
        _ = try provider(id)
        let routes = config.routes.filter { $0.tiers.joined().contains { $0.provider == id } }
        let to = try failoverTargets(fields, routes: routes, exclude: [id])
        let subject = "provider:\(id)"
        if let existing = next.failovers.firstIndex(where: { $0.subject == subject }) {
            if next.failovers[existing].to == to { return }
            next.failovers[existing].to = to
        } else {
            next.failovers.append(.init(subject: subject, provider: id, route: nil, tier: nil, to: to,
                                        since: Date().timeIntervalSince1970, reason: fields["reason"]?.stringValue))
        }
    }

    func failoverTier(_ alias: String, _ tier: String, _ fields: [String: JSONValue], _ next: inout OperatorState) throws(AdminError) {
        let route = try route(alias)
        guard let index = Int(tier), route.tiers.indices.contains(index) else {
            throw .notFound("Route '\(alias)' has tiers 0..\(route.tiers.count - 1); no tier '\(tier)'.")
        }
        let to = try failoverTargets(fields, routes: [route], exclude: Set(route.tiers[index].map(\.provider)))
        let subject = "tier:\(alias)/\(index)"
        if let existing = next.failovers.firstIndex(where: { $0.subject == subject }) {
            if next.failovers[existing].to == to { return }
            next.failovers[existing].to = to
        } else {
            next.failovers.append(.init(subject: subject, provider: nil, route: alias, tier: index, to: to,
                                        since: Date().timeIntervalSince1970, reason: fields["reason"]?.stringValue))
        }
    }

    func tierSubject(_ alias: String, _ tier: String) throws(AdminError) -> String {
        let route = try route(alias)
        guard let index = Int(tier), route.tiers.indices.contains(index) else {
            throw .notFound("Route '\(alias)' has tiers 0..\(route.tiers.count - 1); no tier '\(tier)'.")
        }
        return "tier:\(alias)/\(index)"
    }

    // MARK: Routes

    func addAdminRoutes(to router: Router<BasicRequestContext>) {
        let admin = router.group("/admin/v1")
        admin.get("/snapshot") { request, _ -> Response in
            self.adminRead(request) {
                let snapshot = self.snapshot()
                return Self.adminAnswer(.ok, snapshot, revision: snapshot.node.revision)
            }
        }
        admin.get("/state") { request, _ -> Response in
            self.adminRead(request) {
                let s = self.state.operatorState
                return Self.adminAnswer(.ok, s.document, revision: s.revision)
            }
        }
        admin.get("/events") { request, _ -> Response in
            self.adminRead(request) {
                switch Self.sinceAndLimit(request) {
                case .failure(let error): return Self.adminError(error)
                case .success(let (since, limit)):
                    let (events, truncated) = self.state.events(since: since)
                    let page = Array(events.prefix(limit))
                    return Self.adminAnswer(.ok, EventPage(items: page, truncated: truncated, nextSince: page.last?.sequence ?? since,
                                                           more: events.count > page.count))
                }
            }
        }
        admin.get("/audit") { request, _ -> Response in
            self.adminRead(request) {
                switch Self.sinceAndLimit(request) {
                case .failure(let error): return Self.adminError(error)
                case .success(let (since, limit)):
                    let (entries, oldest) = self.writes.withLock { log in (log.entries.filter { $0.sequence > since }, log.entries.first?.sequence) }
                    let page = Array(entries.prefix(limit))
                    return Self.adminAnswer(.ok, AuditPage(items: page, truncated: oldest.map { since + 1 < $0 } ?? false,
                                                           nextSince: page.last?.sequence ?? since, more: entries.count > page.count))
                }
            }
        }
        admin.get("/requests") { request, _ -> Response in
            self.adminRead(request) {
                switch Self.sinceAndLimit(request) {
                case .failure(let error): return Self.adminError(error)
                case .success(let (since, limit)):
                    let (requests, truncated) = self.state.requests(since: since)
                    let page = Array(requests.prefix(limit))
                    return Self.adminAnswer(.ok, RequestPage(items: page.map(\.wire), truncated: truncated,
                                                             nextSince: page.last?.sequence ?? since, more: requests.count > page.count))
                }
            }
        }
        admin.post("/providers/:id/drain") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: [], action: "provider.drain", target: "provider:\(id)") { _, next throws(AdminError) in
                _ = try self.provider(id)
                next.drainedProviders.insert(id)
            }
        }
        admin.post("/providers/:id/undrain") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: [], action: "provider.undrain", target: "provider:\(id)") { _, next throws(AdminError) in
                _ = try self.provider(id)
                next.drainedProviders.remove(id)
            }
        }
        admin.post("/providers/:id/failover") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: ["to"], action: "provider.failover", target: "provider:\(id)") { fields, next throws(AdminError) in
                try self.failoverProvider(id, fields, &next)
            }
        }
        admin.post("/providers/:id/restore") { request, context -> Response in
            let id = context.parameters.get("id") ?? ""
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: [], action: "provider.restore", target: "provider:\(id)") { _, next throws(AdminError) in
                _ = try self.provider(id)
                next.failovers.removeAll { $0.subject == "provider:\(id)" }
            }
        }
        admin.put("/routes/:alias/weights") { request, context -> Response in
            let alias = context.parameters.get("alias") ?? ""
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: ["weights"], action: "route.weights", target: "route:\(alias)") { fields, next throws(AdminError) in
                try self.setWeights(alias, fields, &next)
            }
        }
        admin.post("/routes/:alias/tiers/:tier/failover") { request, context -> Response in
            let alias = context.parameters.get("alias") ?? ""
            let tier = context.parameters.get("tier") ?? ""
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: ["to"], action: "tier.failover", target: "tier:\(alias)/\(tier)") { fields, next throws(AdminError) in
                try self.failoverTier(alias, tier, fields, &next)
            }
        }
        admin.post("/routes/:alias/tiers/:tier/restore") { request, context -> Response in
            let alias = context.parameters.get("alias") ?? ""
            let tier = context.parameters.get("tier") ?? ""
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: [], action: "tier.restore", target: "tier:\(alias)/\(tier)") { _, next throws(AdminError) in
                let subject = try self.tierSubject(alias, tier)
                next.failovers.removeAll { $0.subject == subject }
            }
        }
        admin.post("/node/drain") { request, _ -> Response in
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: [], action: "node.drain", target: "node:\(self.config.nodeID)") { _, next in
                next.nodeDrain = true
            }
        }
        addMethodNotAllowed(to: admin)
        admin.post("/node/undrain") { request, _ -> Response in
            let body = try await Self.body(request)
            return await self.adminWrite(request, body: body, allowed: [], action: "node.undrain", target: "node:\(self.config.nodeID)") { _, next in
                next.nodeDrain = false
            }
        }
    }

    /// `If-Match`: a revision, plain (`3`) or quoted (`"3"`), at most nine digits.
    static func revision(_ header: String) -> Int? {
        var text = Substring(header)
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
        guard (1...9).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    /// Every admin path with its methods, so other methods get 405 with `Allow`.
    static let adminPaths: [(String, [HTTPRequest.Method])] = [
        ("/snapshot", [.get]), ("/state", [.get]), ("/events", [.get]), ("/audit", [.get]), ("/requests", [.get]),
        ("/providers/:id/drain", [.post]), ("/providers/:id/undrain", [.post]), ("/providers/:id/failover", [.post]),
        ("/providers/:id/restore", [.post]), ("/routes/:alias/weights", [.put]),
        ("/routes/:alias/tiers/:tier/failover", [.post]), ("/routes/:alias/tiers/:tier/restore", [.post]),
        ("/node/drain", [.post]), ("/node/undrain", [.post]),
    ]

    func addMethodNotAllowed(to admin: RouterGroup<BasicRequestContext>) {
        let all: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch, .options, .trace, .connect, HTTPRequest.Method("QUERY")!]
        for (path, allowed) in Self.adminPaths {
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            for method in all where !allowed.contains(method) && !(method == .head && allowed.contains(.get)) {
                admin.on(RouterPath(path), method: method) { _, _ -> Response in
                    var response = Self.adminError(AdminError(status: .methodNotAllowed, code: "method_not_allowed",
                                                              message: "\(method.rawValue) is not allowed here; use \(allow)."))
                    response.headers[.allow] = allow
                    return response
                }
            }
        }
    }

    static func body(_ request: Request) async throws -> ByteBuffer {
        var request = request
        return try await request.collectBody(upTo: 64 << 10)
    }

    static func sinceAndLimit(_ request: Request) -> Result<(Int, Int), AdminError> {
        let query = request.uri.queryParameters
        var since = 0
        var limit = 500
        if let text = query.get("since") {
            guard let value = Int(text), (0...1_000_000_000).contains(value) else {
                return .failure(.invalid("since", "must be a whole number 0..1000000000"))
            }
            since = value
        }
        if let text = query.get("limit") {
            guard let value = Int(text), (1...1000).contains(value) else { return .failure(.invalid("limit", "must be 1..1000")) }
            limit = value
        }
        return .success((since, limit))
    }
}

extension RequestRecord {
    /// The admin API's form, with each failed attempt's reason (what to check for a refusal).
    var wire: ClawAdminAPI.RequestRecord {
        .init(sequence: sequence, time: time, route: route, attempts: attempts.map { .init(provider: $0.provider, outcome: $0.outcome.reason) },
              outcome: outcome, served: served, latencySeconds: (latency * 1_000_000).rounded() / 1_000_000)
    }
}
