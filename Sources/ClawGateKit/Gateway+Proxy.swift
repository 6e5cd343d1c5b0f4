import AsyncHTTPClient
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

    static func errorResponse(_ status: HTTPResponse.Status, _ message: String, type: String, code: String? = nil,
                              param: String? = nil, extra: [String: JSONValue] = [:], headers: HTTPFields = [:]) -> Response {
        var extra = extra
        if let param { extra["param"] = .string(param) }
        return jsonResponse(status, OpenAIError.body(message: message, type: type, code: code, extra: extra), headers: headers)
    }

    static let providerHeader = HTTPField.Name("x-clawgate-provider")!
    static let modelHeader = HTTPField.Name("x-clawgate-upstream-model")!
    static let attemptsHeader = HTTPField.Name("x-clawgate-attempts")!
    static let failuresHeader = HTTPField.Name("x-clawgate-failed-attempts")!

    func explainHeaders(_ attempts: [AttemptRecord], served: (provider: String, model: String)?) -> HTTPFields {
        var headers = HTTPFields()
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

    /// `POST /v1/chat/completions`: route, retry across providers, stream or return, account.
    public func chatCompletions(body: ByteBuffer) async -> Response {
        let start = clock()
        guard let parsed = try? JSONValue.parse(body.readableBytesView), var fields = parsed.objectValue else {
            return Self.errorResponse(.badRequest, "The request body must be a JSON object.", type: "invalid_request_error", code: "invalid_json")
        }
        guard let alias = fields["model"]?.stringValue, !alias.isEmpty else {
            return Self.errorResponse(.badRequest, "'model' is required and must be a string naming a route.", type: "invalid_request_error",
                                      code: "missing_model", param: "model")
        }
        guard let messages = fields["messages"]?.arrayValue, !messages.isEmpty else {
            return Self.errorResponse(.badRequest, "'messages' is required and must be a non-empty list.", type: "invalid_request_error",
                                      code: "invalid_messages", param: "messages")
        }
        if let stream = fields["stream"], stream.boolValue == nil, stream != .null {
            return Self.errorResponse(.badRequest, "'stream' must be true or false.", type: "invalid_request_error", param: "stream")
        }
        guard let route = state.routeIndex[alias] else {
            return Self.errorResponse(.notFound, "The model '\(alias)' does not exist on this gateway; known: \(config.routes.map(\.alias).joined(separator: ", ")).",
                                      type: "invalid_request_error", code: "model_not_found", param: "model")
        }
        let streaming = fields["stream"]?.boolValue ?? false
        let clientWantsUsage = fields["stream_options"]?["include_usage"]?.boolValue ?? false
        if streaming {
            // Ask for usage upstream whatever the client asked: accounting needs it.
            var options = fields["stream_options"]?.objectValue ?? [:]
            options["include_usage"] = .bool(true)
            fields["stream_options"] = .object(options)
        }

        state.beginRequest(now: start)
        var attempts: [AttemptRecord] = []
        var tried = Set<Int>()
        var budgetRefused = false
        var retryAfter: String?
        attemptLoop: while attempts.count < config.retry.maxAttempts {
            let choice: GatewayState.Choice
            switch state.choose(route: route, tried: tried, attempt: attempts.count + 1, now: clock()) {
            case .success(let c):
                choice = c
            case .failure(.retryBudget):
                budgetRefused = true
                metrics.retryBudgetExhausted(route: alias)
                break attemptLoop
            case .failure(.exhausted):
                break attemptLoop
            }
            if !attempts.isEmpty { metrics.retry(route: alias) }
            tried.insert(choice.provider)
            let providerID = config.providers[choice.provider].id
            fields["model"] = .string(choice.model)
            let attemptStart = clock()
            let result = await attempt(provider: choice.provider, body: ByteBuffer(data: JSONValue.object(fields).encoded()), streaming: streaming)
            let now = clock()
            switch result {
            case .failure(let outcome, let after):
                state.finishAttempt(provider: choice.provider, outcome: outcome, latency: now - attemptStart, ttft: nil,
                                    tokensIn: 0, tokensOut: 0, cost: 0, now: now)
                metrics.attempt(provider: providerID, route: alias, outcome: outcome.label, latency: now - attemptStart)
                attempts.append(AttemptRecord(provider: providerID, outcome: outcome))
                if let after { retryAfter = after }
                logger.debug("attempt failed", metadata: ["route": .string(alias), "provider": .string(providerID), "outcome": .string(outcome.label)])
                continue
            case .passthrough(let status, let contentType, let bytes):
                let outcome = AttemptOutcome.clientError(status: status)
                state.finishAttempt(provider: choice.provider, outcome: outcome, latency: now - attemptStart, ttft: nil,
                                    tokensIn: 0, tokensOut: 0, cost: 0, now: now)
                attempts.append(AttemptRecord(provider: providerID, outcome: outcome))
                state.finishRequest(route: route, ok: false, latency: now - start, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0, now: now,
                                    served: choice.provider, attempts: attempts, outcome: outcome.label)
                metrics.attempt(provider: providerID, route: alias, outcome: outcome.label, latency: now - attemptStart)
                metrics.request(route: alias, provider: providerID, outcome: outcome.label, latency: now - start, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0)
                var headers = explainHeaders(attempts, served: (providerID, choice.model))
                headers[.contentType] = contentType
                return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: bytes))
            case .success(let bytes, let tokensIn, let tokensOut, let headAt):
                let cost = cost(provider: choice.provider, tokensIn: tokensIn, tokensOut: tokensOut)
                state.finishAttempt(provider: choice.provider, outcome: .ok, latency: now - attemptStart, ttft: headAt - attemptStart,
                                    tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, now: now)
                attempts.append(AttemptRecord(provider: providerID, outcome: .ok))
                state.finishRequest(route: route, ok: true, latency: now - start, ttft: headAt - start,
                                    tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, now: now,
                                    served: choice.provider, attempts: attempts, outcome: "ok")
                metrics.attempt(provider: providerID, route: alias, outcome: "ok", latency: now - attemptStart)
                metrics.request(route: alias, provider: providerID, outcome: "ok", latency: now - start, ttft: headAt - start,
                                tokensIn: tokensIn, tokensOut: tokensOut, cost: cost)
                var headers = explainHeaders(attempts, served: (providerID, choice.model))
                headers[.contentType] = "application/json"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
            case .stream(let first, let box, let firstAt):
                attempts.append(AttemptRecord(provider: providerID, outcome: .ok))
                return streamingResponse(
                    route: route, provider: choice.provider, model: choice.model, first: first, box: box,
                    start: start, attemptStart: attemptStart, firstAt: firstAt, clientWantsUsage: clientWantsUsage, attempts: attempts
                )
            }
        }
        return allFailed(route: route, alias: alias, attempts: attempts, budgetRefused: budgetRefused, retryAfter: retryAfter, start: start)
    }

    func allFailed(route: Int, alias: String, attempts: [AttemptRecord], budgetRefused: Bool, retryAfter: String?, start: Double) -> Response {
        let now = clock()
        state.finishRequest(route: route, ok: false, latency: now - start, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0, now: now,
                            attempts: attempts, outcome: "failed")
        metrics.request(route: alias, provider: "none", outcome: "failed", latency: now - start, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0)
        let list = attempts.map { "\($0.provider): \($0.outcome.label)" }.joined(separator: "; ")
        var message: String
        let status: HTTPResponse.Status
        var headers = explainHeaders(attempts, served: nil)
        if attempts.isEmpty {
            status = .serviceUnavailable
            message = "No provider of route '\(alias)' is available."
        } else if attempts.allSatisfy({ $0.outcome == .status(429) }) {
            status = .tooManyRequests
            message = "Every provider of route '\(alias)' is rate limiting: \(list)."
            if let retryAfter { headers[.retryAfter] = retryAfter }
        } else if attempts.allSatisfy({ $0.outcome == .timeout }) {
            status = .gatewayTimeout
            message = "Every attempt for route '\(alias)' timed out: \(list)."
        } else {
            status = .badGateway
            message = "All \(attempts.count) attempt(s) for route '\(alias)' failed: \(list)."
        }
        if budgetRefused { message += " Further retries were refused by the retry budget." }
        let attemptList: JSONValue = .array(attempts.map { ["provider": .string($0.provider), "outcome": .string($0.outcome.label)] })
        return Self.errorResponse(status, message, type: "upstream_error", code: "all_providers_failed",
                                  extra: ["attempts": attemptList, "retry_budget_exhausted": .bool(budgetRefused)], headers: headers)
    }

    enum AttemptResult: Sendable {
        case failure(AttemptOutcome, retryAfter: String?)
        case passthrough(status: Int, contentType: String, body: ByteBuffer)
        case success(body: ByteBuffer, tokensIn: Int, tokensOut: Int, headAt: Double)
        case stream(first: ByteBuffer, box: IteratorBox, firstAt: Double)
    }

    /// One upstream attempt, up to the point where it can still be retried.
    func attempt(provider: Int, body: ByteBuffer, streaming: Bool) async -> AttemptResult {
        let timeouts = config.providers[provider].timeouts
        let attemptStart = clock()
        let request = upstreamRequest(provider: provider, path: "/chat/completions", method: .POST, body: body)
        let headDeadline = NIODeadline.now() + .nanoseconds(Int64(min(timeouts.firstByte, timeouts.total) * 1e9))
        let response: HTTPClientResponse
        do {
            response = try await clients[provider].execute(request, deadline: headDeadline, logger: logger)
        } catch {
            return .failure(Self.classify(error), retryAfter: nil)
        }
        let headAt = clock()
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            if status == 429 || status >= 500 {
                return .failure(.status(status), retryAfter: response.headers.first(name: "retry-after"))
            }
            return .passthrough(status: status, contentType: response.headers.first(name: "content-type") ?? "application/json", body: bytes)
        }
        if !streaming {
            let bytes: ByteBuffer
            do {
                bytes = try await response.body.collect(upTo: 32 << 20)
            } catch {
                return .failure(Self.classify(error) == .timeout ? .timeout : .reset, retryAfter: nil)
            }
            if clock() - attemptStart > timeouts.total { return .failure(.timeout, retryAfter: nil) }
            guard let answer = try? JSONValue.parse(bytes.readableBytesView), answer["choices"]?.arrayValue != nil else {
                return .failure(.badResponse("not a chat completion JSON body"), retryAfter: nil)
            }
            let usage = answer["usage"]
            return .success(body: bytes, tokensIn: usage?["prompt_tokens"]?.intValue ?? 0,
                            tokensOut: usage?["completion_tokens"]?.intValue ?? 0, headAt: headAt)
        }
        var iterator = response.body.makeAsyncIterator()
        do {
            guard let first = try await iterator.next() else {
                return .failure(.badResponse("empty event stream"), retryAfter: nil)
            }
            let lead = first.readableBytesView.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D }
            // An event stream starts with a field name (data, event, id, retry) or a ':' comment.
            guard let lead, [UInt8(ascii: "d"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "r"), UInt8(ascii: ":")].contains(lead) else {
                return .failure(.badResponse("not an event stream"), retryAfter: nil)
            }
            return .stream(first: first, box: IteratorBox(iterator), firstAt: clock())
        } catch {
            return .failure(Self.classify(error), retryAfter: nil)
        }
    }

    /// Forward the committed stream event by event as it arrives, then account for it.
    func streamingResponse(route: Int, provider: Int, model: String, first: ByteBuffer, box: IteratorBox, start: Double,
                           attemptStart: Double, firstAt: Double, clientWantsUsage: Bool, attempts: [AttemptRecord]) -> Response {
        let providerID = config.providers[provider].id
        let alias = config.routes[route].alias
        var headers = explainHeaders(attempts, served: (providerID, model))
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let total = config.providers[provider].timeouts.total
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var scanner = SSEScanner()
            var tokensIn = 0
            var tokensOut = 0
            var outcome = AttemptOutcome.ok
            func process(_ buffer: ByteBuffer) -> ByteBuffer {
                var out = ByteBuffer()
                for event in scanner.feed(buffer.readableBytesView) {
                    if let data = SSEScanner.data(of: event), Self.contains(data, Self.usageKey),
                       let json = try? JSONValue.parse(data), let usage = json["usage"]?.objectValue {
                        tokensIn = usage["prompt_tokens"]?.intValue ?? tokensIn
                        tokensOut = usage["completion_tokens"]?.intValue ?? tokensOut
                        // The gateway asked for usage for its own accounting; drop it if the client did not.
                        if !clientWantsUsage, json["choices"]?.arrayValue?.isEmpty ?? true { continue }
                    }
                    out.writeBytes(event)
                }
                return out
            }
            do {
                let out = process(first)
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
                    if out.readableBytes > 0 { try await writer.write(out) }
                    if self.clock() - attemptStart > total {
                        outcome = .timeout
                        break
                    }
                }
                if outcome == .ok {
                    let rest = scanner.remainder
                    if !rest.isEmpty { try await writer.write(ByteBuffer(bytes: rest)) }
                } else {
                    let error = OpenAIError.body(message: "The upstream stream from \(providerID) ended early (\(outcome.label)).",
                                                 type: "upstream_error", code: outcome.label)
                    try await writer.write(ByteBuffer(string: "data: " + String(decoding: error, as: UTF8.self) + "\n\n"))
                }
                try await writer.finish(nil)
            } catch {
                if outcome == .ok { outcome = .clientClosed }
            }
            let now = self.clock()
            let cost = self.cost(provider: provider, tokensIn: tokensIn, tokensOut: tokensOut)
            self.state.finishAttempt(provider: provider, outcome: outcome, latency: now - attemptStart, ttft: firstAt - attemptStart,
                                     tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, now: now)
            let ok = outcome == .ok || outcome == .clientClosed
            var final = attempts
            final[final.count - 1].outcome = outcome
            self.state.finishRequest(route: route, ok: ok, latency: now - start, ttft: firstAt - start,
                                     tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, now: now,
                                     served: provider, attempts: final, outcome: outcome.label)
            self.metrics.attempt(provider: providerID, route: alias, outcome: outcome.label, latency: now - attemptStart)
            self.metrics.request(route: alias, provider: providerID, outcome: outcome.label, latency: now - start, ttft: firstAt - start,
                                 tokensIn: tokensIn, tokensOut: tokensOut, cost: cost)
        })
    }

    static let usageKey = Array("\"usage\"".utf8)

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
