import AsyncHTTPClient
import ClawServerSupport
import ClawAdminAPI
import ClawShared
import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization

/// Lets the stream's response body take over the upstream iterator.
final class IteratorBox: @unchecked Sendable {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    init(_ iterator: HTTPClientResponse.Body.AsyncIterator) { self.iterator = iterator }
}

extension Gateway {
    static func jsonResponse(_ status: HTTPResponse.Status, _ data: Data, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The format of the client being answered: errors take its shape (Anthropic's for `/v1/messages`).
    @TaskLocal static var clientFormat = ClientFormat.chat

    static func errorResponse(_ status: HTTPResponse.Status, _ message: String, type: String, code: String? = nil,
                              param: String? = nil, extra: [String: JSONValue] = [:], headers: HTTPFields = [:]) -> Response {
        var extra = extra
        if let param { extra["param"] = .string(param) }
        let body = clientFormat.errorBody(status: Int(status.code), message: message, openAIType: type, code: code, extra: extra)
        return jsonResponse(status, Data(body), headers: headers)
    }

    static let providerHeader = HTTPField.Name("x-clawgate-provider")!
    static let modelHeader = HTTPField.Name("x-clawgate-upstream-model")!
    static let attemptsHeader = HTTPField.Name("x-clawgate-attempts")!
    static let failuresHeader = HTTPField.Name("x-clawgate-failed-attempts")!
    /// Asked for by a client (any value), answered with the routing decision of the last attempt as JSON.
    static let decisionHeader = HTTPField.Name("x-clawgate-decision")!

    func explainHeaders(_ attempts: [AttemptRecord], served: (provider: String, model: String)?, decision: GatewayState.Explained? = nil,
                        skipped: String = "") -> HTTPFields {
        var headers = HTTPFields()
        if !skipped.isEmpty { headers[Self.skippedHeader] = skipped }
        if let decision { headers[Self.decisionHeader] = String(decoding: AdminAPI.encode(decision.wire), as: UTF8.self) }
        if let served {
            headers[Self.providerHeader] = served.provider
            headers[Self.modelHeader] = served.model
        }
        headers[Self.attemptsHeader] = String(attempts.count)
        let failed = attempts.filter { $0.outcome != .ok }
        if !failed.isEmpty {
            headers[Self.failuresHeader] = failed.map { "\($0.provider)=\($0.outcome.label)" }.joined(separator: ", ")
        }
        return headers
    }

    /// How a client request ended, recorded once in `record(_:)`.
    struct RequestResult: Sendable {
        var route: Int
        /// The client (index in `clients:`) whose admitted request this was.
        var client: Int?
        var served: Int?
        var outcome: String
        var fault: Fault
        var latency: Double
        var ttft: Double?
        var tokensIn = 0
        var tokensOut = 0
        var cost = 0.0
        var attempts: [AttemptRecord]
        /// The API the client called: chat, messages, embeddings, responses.
        var endpoint = Gateway.clientFormat
        /// It failed only because of faults injected for a drill (its metrics say `fault="drill"`).
        var drill = false
        /// Where the request's record, log line and span gather (the client route's; a stream passes its own).
        var ledger: RequestLedger? = Gateway.ledger
    }

    /// The one place a client request is accounted: node state, metrics and its ledger. `attempt`:
    /// its last attempt, still open, accounted with it (one taking of the node's lock for both).
    func record(_ r: RequestResult, now: Double, attempt: GatewayState.AttemptEnd? = nil) {
        if let attempt { noteAttempt(attempt, route: r.route, ledger: r.ledger) }
        if let ledger = r.ledger {
            ledger.route = config.routes[r.route].alias
            ledger.served = r.served.map { config.providers[$0].id }
            ledger.outcome = r.outcome
            ledger.fault = r.fault.rawValue
            ledger.seconds = r.latency
            ledger.ttft = r.ttft
            ledger.tokensIn = r.tokensIn
            ledger.tokensOut = r.tokensOut
            ledger.cost = r.cost
        }
        state.finish(attempt: attempt, client: r.client.map { ($0, r.fault == .none) }, route: r.route, fault: r.fault, latency: r.latency, ttft: r.ttft,
                     tokensIn: r.tokensIn, tokensOut: r.tokensOut, cost: r.cost, now: now, served: r.served, endpoint: r.endpoint.index)
        if let client = r.client {
            metrics.client(clientAuth.clients![client].name, outcome: r.fault == .none ? "ok" : "error", tokens: r.tokensIn + r.tokensOut, cost: r.cost)
        }
        metrics.request(route: config.routes[r.route].alias, provider: r.served.map { config.providers[$0].id } ?? "none",
                        outcome: r.outcome, fault: r.fault, latency: r.latency, ttft: r.ttft,
                        tokensIn: r.tokensIn, tokensOut: r.tokensOut, cost: r.cost, endpoint: r.endpoint.rawValue, drill: r.drill)
    }

    /// The one place an upstream attempt is accounted: the provider's breaker and stats, metrics and the request's ledger.
    /// `drill`: a fault injected for a drill decided it; it counts as the failure it stands for,
    /// labelled `fault="drill"` in the metrics.
    func recordAttempt(provider: Int, route: Int, outcome: AttemptOutcome, latency: Double, ttft: Double?,
                       tokensIn: Int = 0, tokensOut: Int = 0, cost: Double = 0, now: Double, streaming: Bool, drill: Bool = false,
                       ledger: RequestLedger? = Gateway.ledger) {
        let end = GatewayState.AttemptEnd(provider: provider, outcome: outcome, latency: latency, ttft: ttft, tokensIn: tokensIn, tokensOut: tokensOut,
                                          cost: cost, streaming: streaming, drill: drill)
        noteAttempt(end, route: route, ledger: ledger)
        state.finishAttempt(provider: provider, outcome: outcome, latency: latency, ttft: ttft,
                            tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, now: now, streaming: streaming, drill: drill)
    }

    /// An attempt's end in its request's ledger and the metrics (the node's state is the caller's).
    func noteAttempt(_ a: GatewayState.AttemptEnd, route: Int, ledger: RequestLedger?) {
        ledger?.endAttempt { l in
            l.seconds = a.latency
            l.ttft = a.ttft
            l.outcome = a.outcome.label
            l.reason = a.outcome.reason
            l.status = a.outcome.httpStatus
            l.fault = a.drill ? "drill" : a.outcome.fault.rawValue
            l.tokensIn = a.tokensIn
            l.tokensOut = a.tokensOut
            l.cost = a.cost
        }
        metrics.attempt(provider: config.providers[a.provider].id, route: config.routes[route].alias, outcome: a.outcome.label,
                        fault: a.outcome.fault, latency: a.latency, drill: a.drill)
    }

    /// `POST /v1/chat/completions`: check, route, retry across providers, stream or return, account.
    public func chatCompletions(body: ByteBuffer, explain: Bool = false, authorization: String? = nil,
                                connection: (any Channel)? = nil) async -> Response {
        await proxy(format: .chat, body: body, explain: explain, authorization: authorization, connection: connection)
    }

    /// How often an attempt looks whether its client is still connected.
    static let clientWatchInterval = Duration.milliseconds(100)

    /// Run an upstream attempt while the client stays connected: nil when it left first (the attempt
    /// is cancelled, so neither its upstream call nor its in-flight slot outlives the client).
    static func whileConnected(_ connection: (any Channel)?, _ attempt: @escaping @Sendable () async -> AttemptResult) async -> AttemptResult? {
        guard let connection else { return await attempt() }
        return await withTaskGroup(of: AttemptResult?.self) { group in
            group.addTask { await attempt() }
            group.addTask {
                while connection.isActive, !Task.isCancelled {
                    try? await Task.sleep(for: clientWatchInterval)
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// How an attempt's answer reaches a client of `format` from a provider of `kind` (a kind that
    /// cannot serve the endpoint is never chosen: see `ClientFormat.served(by:)`).
    /// `read` is the request as read once for the translated paths (nil until a translated
    /// provider is tried).
    static func answerPath(format: ClientFormat, kind: ProviderKind, read: ReadRequest?, alias: String) -> AnswerPath {
        switch (format, kind) {
        case (.chat, .openai), (.chat, .azureOpenAI): .openAIPass
        case (.chat, _): .chat(ChatTranslator(kind)!)
        case (.messages, .anthropic): .anthropicPass
        case (.messages, _): .messages(ChatTranslator(kind))
        case (.embeddings, .gemini): .geminiEmbeddings(request: read?.body ?? [:], alias: alias)
        case (.embeddings, _), (.responses, _): .openAIPass
        }
    }

    /// Whether requests of `format` reach a provider of `kind` as the client's bytes (nothing read).
    static func passesThrough(format: ClientFormat, kind: ProviderKind) -> Bool {
        switch (format, kind) {
        case (.chat, .openai), (.chat, .azureOpenAI), (.messages, .anthropic), (.embeddings, .openai), (.embeddings, .azureOpenAI), (.responses, _): true
        default: false
        }
    }

    static let skippedHeader = HTTPField.Name("x-clawgate-skipped")!

    /// Check, route, retry across providers, stream or return, account: every client format.
    func proxy(format: ClientFormat, body: ByteBuffer, explain: Bool, authorization: String?, connection: (any Channel)? = nil) async -> Response {
        // Errors take the client's format, and every record names the endpoint.
        await Self.$clientFormat.withValue(format) {
            await proxyInFormat(format: format, body: body, explain: explain, authorization: authorization, connection: connection)
        }
    }

    func proxyInFormat(format: ClientFormat, body: ByteBuffer, explain: Bool, authorization: String?, connection: (any Channel)?) async -> Response {
        let start = clock()
        // With `clients:`, only a known key may call; checked before anything else.
        var client: Int?
        if clientAuth.clients != nil {
            guard let index = clientAuth.authenticate(authorization) else {
                Self.ledger?.refused("unauthorized")
                metrics.client("none", outcome: "unauthorized")
                let how = format == .messages ? "x-api-key: KEY (or Authorization: Bearer KEY)" : "Authorization: Bearer KEY"
                return Self.errorResponse(.unauthorized, "Incorrect or missing API key: send \(how) with a key this gateway's operators gave you.",
                                          type: "invalid_request_error", code: "invalid_api_key")
            }
            client = index
            Self.ledger?.client = clientAuth.clients![index].name
        }
        let request: ChatRequest
        let parsed = switch format {
        case .chat: ChatRequest.parse(body)
        case .messages: ChatRequest.parseMessages(body)
        case .embeddings, .responses: ChatRequest.parseOther(body, format: format)
        }
        switch parsed {
        case .success(let parsed): request = parsed
        case .failure(let error):
            Self.ledger?.refused(error.code)
            return Self.errorResponse(.badRequest, error.message, type: "invalid_request_error", code: error.code, param: error.param)
        }
        let alias = request.alias
        guard let route = state.routeIndex[alias] else {
            Self.ledger?.refused("model_not_found")
            return Self.errorResponse(.notFound, "The model '\(alias)' does not exist on this gateway; known: \(config.routes.map(\.alias).joined(separator: ", ")).",
                                      type: "invalid_request_error", code: "model_not_found", param: "model")
        }
        let ledger = Self.ledger
        ledger?.route = alias
        ledger?.streaming = request.streaming
        // Past its budget with `refuse`: 429 before anything else counts or is sent.
        if let guarded = budgetRefusal(route: route) {
            ledger?.outcome = "budget_exceeded"
            ledger?.fault = Fault.limit.rawValue
            metrics.request(route: alias, provider: "none", outcome: "budget_exceeded", fault: .limit, latency: clock() - start, ttft: nil,
                            tokensIn: 0, tokensOut: 0, cost: 0, endpoint: format.rawValue)
            return Self.errorResponse(
                .tooManyRequests,
                "Route '\(alias)' spent \(OperatorCommand.dollars(guarded.costPerHour))/h, past its budget of \(OperatorCommand.dollars(guarded.perHour))/h; its requests are refused until its cost stays under 90 % of the budget for 5 minutes or an operator lifts it.",
                type: "rate_limit_error", code: "budget_exceeded", headers: [.retryAfter: String(Self.budgetRetryAfter)])
        }
        let caller = client.map { clientAuth.clients![$0] }
        if let client, let caller, let refusal = state.admitClient(client, client: caller, route: alias, now: start) {
            ledger?.outcome = refusal.limit
            ledger?.fault = Fault.limit.rawValue
            metrics.client(caller.name, outcome: refusal.limit)
            return clientRefusal(refusal, name: caller.name, alias: alias)
        }
        guard state.beginRequest(now: start) else {
            ledger?.outcome = "max_in_flight"
            ledger?.fault = Fault.limit.rawValue
            if let client, let caller {
                state.finishClient(client, tokens: 0, cost: 0, ok: false, now: clock())
                metrics.client(caller.name, outcome: "error")
            }
            metrics.request(route: alias, provider: "none", outcome: "max_in_flight", fault: .limit, latency: clock() - start, ttft: nil,
                            tokensIn: 0, tokensOut: 0, cost: 0, endpoint: format.rawValue)
            return Self.errorResponse(
                .tooManyRequests,
                "This gateway node is serving its limit of \(state.limits.maxInFlight) requests at once (limits.max_in_flight); retry shortly.",
                type: "rate_limit_error", code: "max_in_flight", headers: [.retryAfter: "1"])
        }

        // Providers of a kind that cannot serve this endpoint are never chosen, and named.
        var skipped: [(index: Int, why: String)] = []
        var servable = 0
        for target in Set(config.routes[route].tiers.joined().map(\.provider)).sorted() {
            guard let index = state.providerIndex[target] else { continue }
            if format.served(by: config.providers[index].kind) {
                servable += 1
            } else {
                skipped.append((index, "\(target) (\(format.skipReason(config.providers[index].kind)))"))
            }
        }
        let skippedText = skipped.map(\.why).joined(separator: ", ")
        guard servable > 0 else {
            ledger?.outcome = "unsupported_endpoint"
            ledger?.fault = Fault.client.rawValue
            state.finishRequest(route: route, fault: .client, latency: clock() - start, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0, now: clock(),
                                endpoint: format.index)
            if let client, let caller {
                state.finishClient(client, tokens: 0, cost: 0, ok: false, now: clock())
                metrics.client(caller.name, outcome: "error")
            }
            return Self.errorResponse(.badRequest, "Route '\(alias)' has no provider that serves /v1/\(format.rawValue): \(skippedText).",
                                      type: "invalid_request_error", code: "unsupported_endpoint", param: "model", headers: [Self.skippedHeader: skippedText])
        }
        var machine = RequestMachine(maxAttempts: config.retry.maxAttempts, excluded: Set(skipped.map(\.index)))
        // The request read (its JSON, and as a conversation), once, the first time a translated provider is tried.
        var read: Result<ReadRequest, ChatRequestError>?
        var action = machine.start()
        // The routing decision of the latest attempt, for a client that asked how it was routed.
        var decision: GatewayState.Explained?
        // Failed attempts decided by a drill's injected fault, and the others.
        var drilledFailures = 0
        var realFailures = 0
        while true {
            switch action {
            case .choose(let number):
                if number > 1 { metrics.retry(route: alias) }
                let result = state.choose(route: route, tried: machine.tried, attempt: number, now: clock(), request: request.routing)
                if case .failure(.retryBudget) = result { metrics.retryBudgetExhausted(route: alias) }
                if explain, case .success(let choice) = result { decision = choice.explained }
                action = machine.chosen(result)

            case .send(let choice):
                let provider = config.providers[choice.provider]
                let providerID = provider.id
                let attemptStart = clock()
                let traced = ledger?.beginAttempt(provider: providerID, kind: provider.kind.rawValue, model: choice.model, tier: choice.tier,
                                                  decision: choice.panic ? "panic" : choice.explained.map { "\($0.strategy.rawValue): \($0.reason)" },
                                                  server: serverAddresses[choice.provider])
                let upstreamTrace = (ledger?.trace).map { trace in
                    UpstreamTrace(traceParent: trace.traceParent(spanID: traced!.spanID), traceState: trace.traceState, requestID: trace.requestID)
                }
                let through = Self.passesThrough(format: request.format, kind: provider.kind)
                if !through, read == nil { read = Self.readRequest(request) }
                let path = Self.answerPath(format: request.format, kind: provider.kind, read: try? read?.get(), alias: alias)
                let body: ByteBuffer
                if through {
                    body = request.upstreamBody(model: choice.model)
                } else {
                    switch read!.flatMap({ Self.translate($0, path, model: choice.model, provider: provider) }) {
                    case .success(let bytes):
                        body = ByteBuffer(bytes: bytes)
                    case .failure(let error):
                        // The request cannot be put in this provider's format as written: the client's
                        // fault, nothing sent, and the provider is neither blamed nor credited.
                        let now = clock()
                        let outcome = AttemptOutcome.clientError(status: 400)
                        action = machine.attemptEnded(providerID: providerID, outcome: outcome)
                        record(RequestResult(route: route, client: client, served: choice.provider, outcome: outcome.label, fault: .client,
                                             latency: now - start, attempts: machine.attempts), now: now,
                               attempt: .init(provider: choice.provider, outcome: outcome, latency: now - attemptStart, ttft: nil, streaming: request.streaming))
                        return Self.errorResponse(.badRequest, error.message, type: "invalid_request_error", code: error.code, param: error.param,
                                                  headers: explainHeaders(machine.attempts, served: (providerID, choice.model), decision: decision, skipped: skippedText))
                    }
                }
                let url = switch request.format {
                case .chat, .messages: provider.endpoint.chatURL(model: choice.model, streaming: request.streaming)
                case .embeddings: provider.endpoint.embeddingsURL(model: choice.model)
                case .responses: provider.endpoint.responsesURL()
                }
                // A drill's fault is decided here, before anything is sent: when it fires, no request
                // leaves for this provider, and what it stands for goes the way of a real failure.
                let injected = choice.fault
                let drilled = injected?.decides(deadline: choice.firstByte) ?? false
                let attempted = await Self.whileConnected(connection) {
                    var firstByte = choice.firstByte
                    if let injected {
                        if let outcome = await self.inject(injected, deadline: firstByte) { return .failure(outcome, retryAfter: nil) }
                        firstByte -= injected.delay
                    }
                    return await self.attempt(provider: choice.provider, url: url, body: body, streaming: request.streaming, firstByte: firstByte,
                                              path: path, format: request.format, clientWantsUsage: request.clientWantsUsage, model: choice.model,
                                              trace: upstreamTrace)
                }
                let now = clock()
                guard let result = attempted else {
                    // The client left before the first byte: nothing more is asked of any provider.
                    action = machine.attemptEnded(providerID: providerID, outcome: .clientClosed)
                    record(RequestResult(route: route, client: client, served: choice.provider, outcome: AttemptOutcome.clientClosed.label, fault: .none,
                                         latency: now - start, attempts: machine.attempts), now: now,
                           attempt: .init(provider: choice.provider, outcome: .clientClosed, latency: now - attemptStart, ttft: nil, streaming: request.streaming))
                    return Response(status: .init(code: 499, reasonPhrase: "Client Closed Request"))
                }
                switch result {
                case .failure(let outcome, let retryAfter):
                    recordAttempt(provider: choice.provider, route: route, outcome: outcome, latency: now - attemptStart, ttft: nil, now: now,
                                  streaming: request.streaming, drill: drilled)
                    if drilled { drilledFailures += 1 } else { realFailures += 1 }
                    if outcome == .status(429), let retryAfter, retryAfter > 0 {
                        // The provider asked to be left alone: it takes no request until then.
                        state.holdOff(provider: choice.provider, until: now + min(retryAfter, Self.longestHoldOff))
                    }
                    logger.debug("attempt failed", metadata: ["route": .string(alias), "provider": .string(providerID), "outcome": .string(outcome.label),
                                                            "request_id": .string(ledger?.trace.requestID ?? ""), "trace_id": .string(ledger?.trace.traceID ?? "")])
                    action = machine.attemptEnded(providerID: providerID, outcome: outcome,
                                                  retryAfter: retryAfter.map { String(Int($0.rounded(.up))) })
                case .passthrough(let status, let contentType, let bytes):
                    let outcome = AttemptOutcome.clientError(status: status)
                    action = machine.attemptEnded(providerID: providerID, outcome: outcome)
                    record(RequestResult(route: route, client: client, served: choice.provider, outcome: outcome.label, fault: .client, latency: now - start,
                                         attempts: machine.attempts), now: now,
                           attempt: .init(provider: choice.provider, outcome: outcome, latency: now - attemptStart, ttft: nil, streaming: request.streaming))
                    var headers = explainHeaders(machine.attempts, served: (providerID, choice.model), decision: decision, skipped: skippedText)
                    headers[.contentType] = contentType
                    return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: bytes))
                case .success(let bytes, let tokensIn, let tokensOut, let headAt):
                    if ledger?.readsAnswers == true { ledger?.answered(Array(bytes.readableBytesView)) }
                    let cost = cost(provider: choice.provider, tokensIn: tokensIn, tokensOut: tokensOut, embeddings: request.format == .embeddings)
                    action = machine.attemptEnded(providerID: providerID, outcome: .ok)
                    record(RequestResult(route: route, client: client, served: choice.provider, outcome: "ok", fault: .none, latency: now - start, ttft: headAt - start,
                                         tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, attempts: machine.attempts), now: now,
                           attempt: .init(provider: choice.provider, outcome: .ok, latency: now - attemptStart, ttft: headAt - attemptStart,
                                          tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, streaming: false))
                    var headers = explainHeaders(machine.attempts, served: (providerID, choice.model), decision: decision, skipped: skippedText)
                    headers[.contentType] = "application/json"
                    return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
                case .stream(let first, let box, let firstAt, let pipeline):
                    action = machine.attemptEnded(providerID: providerID, outcome: .ok)
                    // The stream's end records the request and finishes its ledger, not the client route.
                    ledger?.deferred = true
                    return streamingResponse(
                        route: route, provider: choice.provider, model: choice.model, first: first, box: box,
                        start: start, attemptStart: attemptStart, firstAt: firstAt, clientWantsUsage: request.clientWantsUsage,
                        attempts: machine.attempts, decision: decision, client: client, pipeline: pipeline, format: request.format, skipped: skippedText,
                        promptEstimate: Int(request.routing.promptTokens.rounded(.up)), ledger: ledger, loop: connection?.eventLoop
                    )
                }

            case .finish(let ending):
                return refusal(ending, machine: machine, route: route, start: start, decision: decision, client: client, skipped: skippedText,
                               drill: drilledFailures > 0 && realFailures == 0)
            }
        }
    }

    /// A client's request refused at its own limits: 403 for a route it may not use, 429 with
    /// Retry-After naming the limit; no provider sees it and nothing counts against one.
    func clientRefusal(_ refusal: GatewayState.ClientRefusal, name: String, alias: String) -> Response {
        switch refusal {
        case .blocked:
            return Self.errorResponse(.forbidden, "Client '\(name)' is blocked by this gateway's operators; ask them why.", type: "invalid_request_error",
                                      code: "client_blocked")
        case .routeNotAllowed:
            return Self.errorResponse(.forbidden, "Client '\(name)' may not use the model '\(alias)'.", type: "invalid_request_error",
                                      code: "model_not_allowed", param: "model")
        case .concurrency(let limit):
            return Self.errorResponse(.tooManyRequests, "Client '\(name)' has \(limit) requests in flight, its limit (concurrency); retry when one ends.",
                                      type: "rate_limit_error", code: "client_concurrency", headers: [.retryAfter: "1"])
        case .requestsPerMinute(let limit, let retryAfter):
            return Self.errorResponse(.tooManyRequests, "Client '\(name)' reached its limit of \(limit) requests per minute (rpm).",
                                      type: "rate_limit_error", code: "client_rpm", headers: [.retryAfter: String(retryAfter)])
        case .tokensPerMinute(let limit, let retryAfter):
            return Self.errorResponse(.tooManyRequests, "Client '\(name)' reached its limit of \(limit) tokens per minute (tpm).",
                                      type: "rate_limit_error", code: "client_tpm", headers: [.retryAfter: String(retryAfter)])
        case .spendPerDay(let limit, let retryAfter):
            return Self.errorResponse(.tooManyRequests, "Client '\(name)' spent its $\(limit) for today (spend_per_day); it resets at 00:00 UTC.",
                                      type: "rate_limit_error", code: "client_spend_per_day", headers: [.retryAfter: String(retryAfter)])
        }
    }

    /// The answer for a request that no provider served, accounted once.
    func refusal(_ ending: RequestMachine.Ending, machine: RequestMachine, route: Int, start: Double, decision: GatewayState.Explained?,
                 client: Int?, skipped: String = "", drill: Bool = false) -> Response {
        let now = clock()
        let alias = config.routes[route].alias
        let attempts = machine.attempts
        var headers = explainHeaders(attempts, served: nil, decision: decision, skipped: skipped)
        let list = attempts.map { "\($0.provider): \($0.outcome.label)" }.joined(separator: "; ")
        switch ending {
        case .providersFull:
            record(RequestResult(route: route, client: client, outcome: "max_in_flight_per_provider", fault: .limit, latency: now - start, attempts: attempts), now: now)
            headers[.retryAfter] = "1"
            return Self.errorResponse(
                .tooManyRequests,
                "Every provider of route '\(alias)' is serving its limit of \(state.limits.maxInFlightPerProvider) requests at once (limits.max_in_flight_per_provider); retry shortly.",
                type: "rate_limit_error", code: "max_in_flight_per_provider", headers: headers)
        case .served, .passedThrough:
            preconditionFailure("a served request is answered where it is served")
        case .noProvider, .allFailed:
            break
        }
        record(RequestResult(route: route, client: client, outcome: "failed", fault: .provider, latency: now - start, attempts: attempts, drill: drill), now: now)
        var message: String
        let status: HTTPResponse.Status
        switch ending {
        case .allFailed(429):
            status = .tooManyRequests
            message = "Every provider of route '\(alias)' is rate limiting: \(list)."
            if let retryAfter = machine.retryAfter { headers[.retryAfter] = retryAfter }
        case .allFailed(504):
            status = .gatewayTimeout
            message = "Every attempt for route '\(alias)' timed out: \(list)."
        case .allFailed:
            status = .badGateway
            message = "All \(attempts.count) attempt(s) for route '\(alias)' failed: \(list)."
        default:
            status = .serviceUnavailable
            message = "No provider of route '\(alias)' is available."
        }
        if machine.budgetRefused { message += " Further retries were refused by the retry budget." }
        let attemptList: JSONValue = .array(attempts.map { ["provider": .string($0.provider), "outcome": .string($0.outcome.label)] })
        return Self.errorResponse(status, message, type: "upstream_error", code: "all_providers_failed",
                                  extra: ["attempts": attemptList, "retry_budget_exhausted": .bool(machine.budgetRefused)], headers: headers)
    }

    enum AttemptResult: Sendable {
        /// `retryAfter`: seconds the provider asked to be left alone, when it said.
        case failure(AttemptOutcome, retryAfter: Double?)
        case passthrough(status: Int, contentType: String, body: ByteBuffer)
        case success(body: ByteBuffer, tokensIn: Int, tokensOut: Int, headAt: Double)
        /// `pipeline`: the stream's translators, past the events already in `first` (nil: OpenAI pass-through).
        case stream(first: ByteBuffer, box: IteratorBox, firstAt: Double, pipeline: StreamPipeline?)
    }

    /// The longest a provider's retry-after keeps it out (a provider asking for an hour is out for this).
    static let longestHoldOff = 300.0

    /// A request read for translation: its JSON, and (chat and messages) as a conversation.
    struct ReadRequest: Sendable {
        var body: JSONValue
        var conversation: ChatConversation
    }

    static func readRequest(_ request: ChatRequest) -> Result<ReadRequest, ChatRequestError> {
        guard let body = try? JSONValue.parse(bytes: request.bytes) else {
            return .failure(ChatRequestError(message: "The request body must be a JSON object.", code: "invalid_json"))
        }
        do {
            switch request.format {
            case .chat: return .success(ReadRequest(body: body, conversation: try ChatConversation.parse(body)))
            case .messages: return .success(ReadRequest(body: body, conversation: try AnthropicClientTranslator.conversation(body)))
            case .embeddings, .responses: return .success(ReadRequest(body: body, conversation: ChatConversation()))
            }
        } catch {
            return .failure(error)
        }
    }

    /// The provider's request body for a translated path.
    static func translate(_ read: ReadRequest, _ path: AnswerPath, model: String, provider: GatewayConfig.Provider) -> Result<[UInt8], ChatRequestError> {
        do {
            switch path {
            case .chat(let t), .messages(let t?): return .success(try t.request(read.conversation, model: model, provider: provider))
            case .messages(nil): return .success(try OpenAIRenderer.request(read.conversation, model: model, provider: provider))
            case .geminiEmbeddings: return .success(try GeminiEmbeddings.request(read.body, model: model, provider: provider))
            case .openAIPass, .anthropicPass: preconditionFailure("a pass-through path is not translated")
            }
        } catch {
            return .failure(error)
        }
    }

    /// An OpenAI-format provider's error answer: whose fault by status, its message kept.
    static func openAIError(status: Int, headers: [(String, String)], body: [UInt8]) -> UpstreamError {
        let parsed = try? JSONValue.parse(bytes: body)
        return UpstreamError(outcome: AttemptOutcome.classify(status: status),
                             message: parsed?["error"]?["message"]?.stringValue ?? "status \(status) from the provider",
                             type: parsed?["error"]?["code"]?.stringValue ?? parsed?["error"]?["type"]?.stringValue,
                             retryAfter: RetryHint.retryAfter(headers))
    }

    /// An error event in a 200 stream, in the words of a failed attempt.
    static func streamErrorOutcome(_ type: String) -> AttemptOutcome {
        switch type {
        case "overloaded_error": .status(529)
        case "rate_limit_error", "RESOURCE_EXHAUSTED", "rate_limit_exceeded": .status(429)
        case "UNAVAILABLE", "overloaded": .status(503)
        case "api_error", "INTERNAL", "server_error": .status(500)
        default: .badResponse("an error event in the stream (\(type))")
        }
    }

    static func wallClock() -> Double { Date().timeIntervalSince1970 }

    /// Why the first complete event of an OpenAI-format stream fails the attempt, if it does, read
    /// once: an error event (`data: {"error": ...}`, or the Responses API's `{"type": "error"}`) is
    /// the provider's failure; data that is neither a JSON object nor [DONE] (NUL and 0xFF bytes
    /// included) is not a stream of chunks. Either fails over before anything reached the client.
    static func firstEventFailure(_ first: ByteBuffer) -> AttemptOutcome? {
        var scanner = SSEScanner()
        guard let event = scanner.feed(first.readableBytesView).first, let data = SSEScanner.data(of: event), data != doneData else { return nil }
        guard (try? JSONSkimmer.topLevelObject(data)) != nil else { return .badResponse("a data: line that is not a JSON object") }
        guard data.starts(with: Array(#"{"error""#.utf8)) || data.starts(with: Array(#"{"type":"error""#.utf8)),
              let json = try? JSONValue.parse(bytes: data)
        else { return nil }
        if let error = json["error"] { return streamErrorOutcome(error["code"]?.stringValue ?? error["type"]?.stringValue ?? "error") }
        return json["type"] == "error" ? streamErrorOutcome(json["code"]?.stringValue ?? "error") : nil
    }

    /// An id for an answer whose provider gave none.
    static func answerID() -> String { "chatcmpl-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))" }

    /// A 2xx whole answer on a path that is not the OpenAI pass-through: the client's answer (nil
    /// body: the bytes as they came) and its tokens; nil for the OpenAI pass-through.
    static func translateAnswer(_ raw: [UInt8], path: AnswerPath, model: String) -> Result<(body: [UInt8]?, usage: TokenUsage), NotAnAnswer>? {
        let created = Int(wallClock())
        switch path {
        case .openAIPass:
            return nil
        case .geminiEmbeddings(let request, let alias):
            return GeminiEmbeddings.answer(raw, request: request, alias: alias).map { ($0.body, $0.usage) }
        case .anthropicPass:
            guard let message = try? JSONValue.parse(bytes: raw), message["type"]?.stringValue == "message" else {
                return .failure(NotAnAnswer(why: "not an Anthropic message"))
            }
            var usage = TokenUsage()
            AnthropicTranslator.usage(message["usage"], into: &usage)
            return .success((nil, usage))
        case .chat(let t):
            return t.answer(raw, created: created, model: model, fallbackID: answerID()).map { ($0.body, $0.usage) }
        case .messages(let t):
            var openAI = raw
            if let t {
                switch t.answer(raw, created: created, model: model, fallbackID: answerID()) {
                case .success(let a): openAI = a.body
                case .failure(let bad): return .failure(bad)
                }
            }
            return AnthropicClientTranslator.answer(openAI: openAI).map { ($0.body, $0.usage) }
        }
    }

    /// One upstream attempt, up to the point where it can still be retried.
    func attempt(provider: Int, url: String, body: ByteBuffer, streaming: Bool, firstByte: Double, path: AnswerPath = .openAIPass,
                 format: ClientFormat = .chat, clientWantsUsage: Bool = false, model: String = "", trace: UpstreamTrace? = nil) async -> AttemptResult {
        let timeouts = config.providers[provider].timeouts
        let attemptStart = clock()
        let request = upstreamRequest(provider: provider, url: url, method: .POST, body: body, trace: trace)
        let headDeadline = NIODeadline.now() + .nanoseconds(Int64(min(firstByte, timeouts.total) * 1e9))
        let response: HTTPClientResponse
        do {
            response = try await clients[provider].execute(request, deadline: headDeadline, logger: logger)
        } catch {
            return .failure(Self.classify(error), retryAfter: nil)
        }
        let headAt = clock()
        let status = Int(response.status.code)
        let verdict = AttemptOutcome.classify(status: status)
        guard verdict == .ok else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            let headers = response.headers.map { ($0.name, $0.value) }
            let raw = Array(bytes.readableBytesView)
            let error: UpstreamError
            switch path {
            case .openAIPass:
                if verdict.fault == .client {
                    return .passthrough(status: status, contentType: response.headers.first(name: "content-type") ?? "application/json", body: bytes)
                }
                return .failure(verdict, retryAfter: RetryHint.retryAfter(headers))
            case .anthropicPass:
                error = AnthropicTranslator.error(status: status, headers: headers, body: raw, now: Self.wallClock())
                // Same format both sides: the provider's own error body goes to the client as it came.
                if error.outcome.fault == .client {
                    return .passthrough(status: status, contentType: response.headers.first(name: "content-type") ?? "application/json", body: bytes)
                }
            case .chat(let t), .messages(let t?):
                error = t.error(status: status, headers: headers, body: raw, now: Self.wallClock())
            case .geminiEmbeddings:
                error = GeminiTranslator.error(status: status, headers: headers, body: raw)
            case .messages(nil):
                error = Self.openAIError(status: status, headers: headers, body: raw)
            }
            // The client gets an error in its own format that keeps the provider's words.
            if error.outcome.fault == .client {
                return .passthrough(status: status, contentType: "application/json", body: ByteBuffer(bytes: error.clientBody(format, status: status)))
            }
            return .failure(error.outcome, retryAfter: error.retryAfter)
        }
        if !streaming {
            let bytes: ByteBuffer
            do {
                bytes = try await response.body.collect(upTo: 32 << 20)
            } catch {
                return .failure(Self.classify(error) == .timeout ? .timeout : .reset, retryAfter: nil)
            }
            if clock() - attemptStart > timeouts.total { return .failure(.timeout, retryAfter: nil) }
            if case .openAIPass = path, format != .chat {
                // Embeddings and Responses answers: checked whole; only their usage is read.
                let answer = Array(bytes.readableBytesView)
                let listKey = format == .embeddings ? "data" : "output"
                guard let members = try? JSONSkimmer.topLevelObject(answer),
                      let list = members.first(where: { $0.key == listKey }), answer[list.value.lowerBound] == UInt8(ascii: "[")
                else {
                    return .failure(.badResponse("not \(format == .embeddings ? "an embeddings" : "a Responses") JSON body"), retryAfter: nil)
                }
                let usage = members.first { $0.key == "usage" }.flatMap { try? JSONValue.parse(bytes: answer[$0.value]) }
                let tokensIn = usage?["prompt_tokens"]?.intValue ?? usage?["input_tokens"]?.intValue ?? 0
                return .success(body: bytes, tokensIn: tokensIn, tokensOut: usage?["output_tokens"]?.intValue ?? 0, headAt: headAt)
            }
            if let translated = Self.translateAnswer(Array(bytes.readableBytesView), path: path, model: model) {
                switch translated {
                case .success(let answer):
                    return .success(body: answer.body.map { ByteBuffer(bytes: $0) } ?? bytes, tokensIn: answer.usage.prompt,
                                    tokensOut: answer.usage.completion, headAt: headAt)
                case .failure(let bad):
                    return .failure(.badResponse(bad.why), retryAfter: nil)
                }
            }
            // Checked whole, but only `usage` is built into a value: the answer goes on as it came.
            let answer = Array(bytes.readableBytesView)
            guard let members = try? JSONSkimmer.topLevelObject(answer),
                  let choices = members.first(where: { $0.key == "choices" }), answer[choices.value.lowerBound] == UInt8(ascii: "[")
            else {
                return .failure(.badResponse("not a chat completion JSON body"), retryAfter: nil)
            }
            let usage = members.first { $0.key == "usage" }.flatMap { try? JSONValue.parse(bytes: answer[$0.value]) }
            return .success(body: bytes, tokensIn: usage?["prompt_tokens"]?.intValue ?? 0,
                            tokensOut: usage?["completion_tokens"]?.intValue ?? 0, headAt: headAt)
        }
        var iterator = response.body.makeAsyncIterator()
        if var stream = StreamPipeline(path, clientWantsUsage: clientWantsUsage, created: Int(Self.wallClock()), model: model,
                                       fallbackID: Self.answerID()) {
            // A translated or Anthropic stream is the client's only once content came: an error event
            // before that (Anthropic sends overloaded_error inside a 200 stream) fails over unseen.
            var out: [UInt8] = []
            do {
                while true {
                    guard let chunk = try await iterator.next() else {
                        if stream.finished { return .stream(first: ByteBuffer(bytes: out), box: IteratorBox(iterator), firstAt: clock(), pipeline: stream) }
                        return .failure(.badResponse("the event stream ended before any content"), retryAfter: nil)
                    }
                    let step = stream.feed(chunk.readableBytesView)
                    if let error = step.error { return .failure(Self.streamErrorOutcome(error.type), retryAfter: nil) }
                    out += step.out
                    if stream.sawContent || stream.finished {
                        return .stream(first: ByteBuffer(bytes: out), box: IteratorBox(iterator), firstAt: clock(), pipeline: stream)
                    }
                    if clock() - attemptStart > timeouts.total { return .failure(.timeout, retryAfter: nil) }
                }
            } catch {
                return .failure(Self.classify(error), retryAfter: nil)
            }
        }
        do {
            guard let first = try await iterator.next() else {
                return .failure(.badResponse("empty event stream"), retryAfter: nil)
            }
            let lead = first.readableBytesView.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D }
            // An event stream starts with a field name (data, event, id, retry) or a ':' comment.
            guard let lead, [UInt8(ascii: "d"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "r"), UInt8(ascii: ":")].contains(lead) else {
                return .failure(.badResponse("not an event stream"), retryAfter: nil)
            }
            // An error event or a broken one before any content: the provider's failure, retried elsewhere unseen.
            if let failure = Self.firstEventFailure(first) { return .failure(failure, retryAfter: nil) }
            return .stream(first: first, box: IteratorBox(iterator), firstAt: clock(), pipeline: nil)
        } catch {
            return .failure(Self.classify(error), retryAfter: nil)
        }
    }

    /// Forward the committed stream event by event as it arrives, then account for it.
    func streamingResponse(route: Int, provider: Int, model: String, first: ByteBuffer, box: IteratorBox, start: Double,
                           attemptStart: Double, firstAt: Double, clientWantsUsage: Bool, attempts: [AttemptRecord],
                           decision: GatewayState.Explained?, client: Int?, pipeline: StreamPipeline? = nil, format: ClientFormat = .chat, skipped: String = "",
                           promptEstimate: Int = 0, ledger: RequestLedger? = nil, loop: (any EventLoop)? = nil) -> Response {
        let providerID = config.providers[provider].id
        var headers = explainHeaders(attempts, served: (providerID, model), decision: decision, skipped: skipped)
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let total = config.providers[provider].timeouts.total
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // On the client connection's event loop: each chunk's write is done there, with no hop.
            await EventLoopTaskExecutor.on(loop) {
                // The OpenAI pass-through reads what it forwards only as far as accounting needs
                // (OpenAIPassScanner); the Responses API's events are read one by one.
                var pass = OpenAIPassScanner(clientWantsUsage: clientWantsUsage)
                var scanner = SSEScanner()
                var tokensIn = 0
                var tokensOut = 0
                var outcome = AttemptOutcome.ok
                var stream = pipeline
                // An error event after content reached the client: the provider's words, and its fault.
                var streamError: (type: String, message: String)?
                // The Responses API's reading of what it forwards: content for metering a stream
                // without usage, whether it said it was complete, and what was not an event at all.
                var contentBytes = 0
                var complete = false
                var broken: String?
                func process(_ buffer: ByteBuffer) -> ByteBuffer {
                    if stream != nil {
                        guard streamError == nil else { return ByteBuffer() }
                        let step = stream!.feed(buffer.readableBytesView)
                        if let error = step.error { streamError = error }
                        return ByteBuffer(bytes: step.out)
                    }
                    if format != .responses {
                        let out = pass.feed(buffer)
                        broken = pass.broken
                        return out
                    }
                    var out = ByteBuffer()
                    guard broken == nil else { return out }
                    for event in scanner.feed(buffer.readableBytesView) {
                        guard let data = SSEScanner.data(of: event) else {
                            out.writeBytes(event)  // a comment or a field without data
                            continue
                        }
                        guard (try? JSONSkimmer.topLevelObject(data)) != nil else {
                            broken = "a data: line that is not a JSON object"
                            return out
                        }
                        // The Responses API ends with response.completed (its usage inside) or incomplete.
                        if Self.contains(data, Self.responseEndKey), let json = try? JSONValue.parse(bytes: data),
                           let type = json["type"]?.stringValue, type == "response.completed" || type == "response.incomplete" {
                            tokensIn = json["response"]?["usage"]?["input_tokens"]?.intValue ?? tokensIn
                            tokensOut = json["response"]?["usage"]?["output_tokens"]?.intValue ?? tokensOut
                            complete = true
                        } else if Self.contains(data, Self.responseFailedKey) {
                            broken = "response.failed"
                            out.writeBytes(event)
                            return out
                        }
                        contentBytes += Self.streamedContentBytes(data)
                        out.writeBytes(event)
                    }
                    if scanner.pendingCount > Self.maxEventBytes { broken = "an event larger than \(Self.maxEventBytes >> 20) MiB" }
                    return out
                }
                // With spans exported, what the stream says of itself (id, model, finish reasons) is read as it goes.
                let reads = ledger?.readsAnswers == true
                do {
                    // A translated stream's first chunks are translated already (the attempt read them).
                    let out = stream != nil ? first : process(first)
                    if reads { ledger?.answered(Array(out.readableBytesView)) }
                    if out.readableBytes > 0 { try await writer.write(out) }
                    while true {
                        let next: ByteBuffer?
                        do {
                            next = try await box.iterator.next()
                        } catch {
                            outcome = Self.classify(error) == .timeout ? .timeout : .streamCut
                            break
                        }
                        guard let next else { break }
                        let out = process(next)
                        if reads { ledger?.answered(Array(out.readableBytesView)) }
                        if out.readableBytes > 0 { try await writer.write(out) }
                        if let broken {
                            outcome = .badResponse(broken)
                            break
                        }
                        if self.clock() - attemptStart > total {
                            outcome = .timeout
                            break
                        }
                    }
                    var why = "ended early"
                    if outcome == .ok, stream != nil {
                        if let error = streamError {
                            outcome = Self.streamErrorOutcome(error.type)
                            if outcome.fault != .provider { outcome = .badResponse("an error event in the stream (\(error.type))") }
                            why = "sent an error event (\(error.type): \(error.message))"
                        } else if let rest = stream!.end() {
                            if !rest.isEmpty { try await writer.write(ByteBuffer(bytes: rest)) }
                        } else {
                            outcome = .streamCut
                        }
                    }
                    if stream == nil, format != .responses {
                        complete = pass.complete
                        tokensIn = pass.tokensIn
                        tokensOut = pass.tokensOut
                        contentBytes = pass.contentBytes
                    }
                    if outcome == .ok, stream == nil, !complete {
                        // Neither [DONE] nor a finish_reason: the provider stopped without saying it was done.
                        outcome = .badResponse("the stream ended without [DONE] or a finish_reason")
                        why = "ended without [DONE] or a finish_reason"
                    }
                    if case .badResponse(let reason) = outcome, stream == nil, broken != nil { why = "sent \(reason)" }
                    if outcome == .ok {
                        if format == .responses {
                            let rest = scanner.remainder
                            if !rest.isEmpty { try await writer.write(ByteBuffer(bytes: rest)) }
                        } else if pass.pendingCount > 0 {
                            try await writer.write(pass.remainder)
                        }
                    } else {
                        let message = "The upstream stream from \(providerID) \(why) (\(outcome.label))."
                        switch format {
                        case .responses:
                            var event: [UInt8] = []
                            AnthropicEventWriter.event("error", ["type": "error", "code": .string(outcome.label), "message": .string(message), "param": .null,
                                                                 "sequence_number": 0], into: &event)
                            try await writer.write(ByteBuffer(bytes: event))
                        case .chat, .embeddings:
                            let error = OpenAIError.body(message: message, type: "upstream_error", code: outcome.label)
                            try await writer.write(ByteBuffer(string: "data: " + String(decoding: error, as: UTF8.self) + "\n\n"))
                        case .messages:
                            let type = streamError?.type == "overloaded_error" ? "overloaded_error" : "api_error"
                            var event: [UInt8] = []
                            AnthropicEventWriter.event("error", ["type": "error", "error": ["type": .string(type), "message": .string(message)]], into: &event)
                            try await writer.write(ByteBuffer(bytes: event))
                        }
                    }
                    try await writer.finish(nil)
                } catch {
                    if outcome == .ok { outcome = .clientClosed }
                }
                if let stream {
                    tokensIn = stream.usage.prompt
                    tokensOut = stream.usage.completion
                    contentBytes = stream.contentBytes
                }
                // A stream that brought no usage is metered from what it streamed, never as zero.
                if tokensOut == 0, contentBytes > 0 { tokensOut = (contentBytes + 3) / 4 }
                if tokensIn == 0, tokensOut > 0 { tokensIn = promptEstimate }
                let now = self.clock()
                let cost = self.cost(provider: provider, tokensIn: tokensIn, tokensOut: tokensOut)
                var final = attempts
                final[final.count - 1].outcome = outcome
                self.record(RequestResult(route: route, client: client, served: provider, outcome: outcome.label, fault: outcome.fault, latency: now - start,
                                          ttft: firstAt - start, tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, attempts: final, endpoint: format,
                                          ledger: ledger), now: now,
                            attempt: .init(provider: provider, outcome: outcome, latency: now - attemptStart, ttft: firstAt - attemptStart,
                                           tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, streaming: true))
                if let ledger { self.finish(ledger) }
            }
        })
    }

    static let responseEndKey = Array("\"response.".utf8)
    static let responseFailedKey = Array("\"response.failed\"".utf8)
    static let doneData = Array("[DONE]".utf8)
    /// The largest event a stream may send (a provider's event past this is a broken stream).
    static let maxEventBytes = 4 << 20

    /// Bytes of `"content":"..."` and `"arguments":"..."` strings in an OpenAI chunk (escaped as sent).
    static func streamedContentBytes(_ data: [UInt8]) -> Int {
        var total = 0
        for key in [contentKey, argumentsKey, deltaKey] {
            var i = 0
            while let at = firstIndex(of: key, in: data, from: i) {
                var j = at + key.count
                let start = j
                while j < data.count, data[j] != UInt8(ascii: "\"") {
                    j += data[j] == UInt8(ascii: "\\") ? 2 : 1
                }
                total += j - start
                i = j
            }
        }
        return total
    }

    static let contentKey = Array("\"content\":\"".utf8)
    static let argumentsKey = Array("\"arguments\":\"".utf8)
    static let deltaKey = Array("\"delta\":\"".utf8)

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == needle[0] {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }
}

extension Gateway {
    /// `POST /v1/messages/count_tokens`: answered by the route's first anthropic provider (the
    /// client's bytes with `model` rewritten, the answer as it came); refused where the route has none.
    func countTokens(body: ByteBuffer, authorization: String?) async -> Response {
        if clientAuth.clients != nil, clientAuth.authenticate(authorization) == nil {
            return Self.errorResponse(.unauthorized, "Incorrect or missing API key: send x-api-key: KEY (or Authorization: Bearer KEY).",
                                      type: "invalid_request_error", code: "invalid_api_key")
        }
        let skim: ChatRequest.Skim
        let alias: String
        let model: JSONMember
        do {
            skim = try ChatRequest.Skim(body)
            (alias, model) = try skim.model("model: Field required (a string naming a route).")
        } catch {
            return Self.errorResponse(.badRequest, error.message, type: "invalid_request_error", code: error.code)
        }
        guard let route = state.routeIndex[alias] else {
            return Self.errorResponse(.notFound, "The model '\(alias)' does not exist on this gateway.", type: "invalid_request_error", code: "model_not_found")
        }
        let targets = config.routes[route].tiers.joined().filter { target in config.providers.first { $0.id == target.provider }?.kind == .anthropic }
        guard let target = targets.first, let index = config.providers.firstIndex(where: { $0.id == target.provider }) else {
            return Self.errorResponse(.badRequest, "count_tokens is answered by anthropic providers only, and route '\(alias)' has none.",
                                      type: "invalid_request_error", code: "unsupported_endpoint")
        }
        // The client's bytes but `model`, as for a message.
        let out = ChatRequest(format: .messages, bytes: skim.bytes, alias: alias, streaming: false, clientWantsUsage: true, modelValue: model.value,
                              usageEdit: nil).upstreamBody(model: target.model)
        let provider = config.providers[index]
        // No attempt span of its own: the provider's parent is the gateway's server span.
        let trace = Self.ledger.map { UpstreamTrace(traceParent: $0.trace.traceParent(spanID: $0.trace.spanID), traceState: $0.trace.traceState,
                                                    requestID: $0.trace.requestID) }
        let request = upstreamRequest(provider: index, url: provider.baseURL + "/v1/messages/count_tokens", method: .POST, body: out, trace: trace)
        do {
            let response = try await clients[index].execute(request, deadline: .now() + .nanoseconds(Int64(provider.timeouts.firstByte * 1e9)), logger: logger)
            let answer = try await response.body.collect(upTo: 1 << 20)
            return Response(status: HTTPResponse.Status(code: Int(response.status.code)),
                            headers: [.contentType: response.headers.first(name: "content-type") ?? "application/json", Self.providerHeader: provider.id],
                            body: .init(byteBuffer: answer))
        } catch {
            return Self.errorResponse(.badGateway, "count_tokens on \(provider.id) failed: \(Self.classify(error).label).", type: "upstream_error",
                                      code: "upstream_failed")
        }
    }
}
