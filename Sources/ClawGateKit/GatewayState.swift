import ClawAdminAPI
import ClawShared
import Foundation
import Synchronization

/// The lock-protected heart of a node: breakers, health, in-flight counts, stats, retry budget and
/// events. Every method is a short critical section with the time passed in; no I/O happens here.
public final class GatewayState: Sendable {
    public struct Health: Sendable, Equatable {
        public var healthy = true
        public var consecutiveFailures = 0
        public var consecutiveSuccesses = 0
        public var lastError: String?
        public var lastProbe: Double?
    }

    struct ProviderRuntime: Sendable {
        var breaker: CircuitBreaker
        var health = Health()
        var inFlight = 0
        var stats: RollingStats
        /// Cost since midnight UTC, and which day that is (days since 1970).
        var costToday = 0.0
        var costDay = 0
        var routing = ProviderRouting()
        /// A 429's retry-after (or its provider's own reset hint) keeps the provider out until then.
        var heldUntil: Double?
        /// Attempts on it since start (a drill's injected ones included).
        var attemptsTotal = 0
    }

    /// What the routing strategies know of a provider.
    public struct ProviderRouting: Sendable, Equatable {
        /// Time to first token of streams.
        public var ttft = PeakEWMA()
        /// Seconds per completion token of whole answers.
        public var perToken = PeakEWMA()
        /// Time to the first byte of an answer (stream or not), for the adaptive head deadline.
        public var head = PeakEWMA()
        /// A moving average of completion tokens per answer (for the cost estimate).
        public var completionTokens: Double?
        /// When the provider came back into rotation (slow start), if it did since start.
        public var backSince: Double?
        /// Power-of-two-choices comparisons this provider won and lost.
        public var won = 0
        public var lost = 0
    }

    /// What a strategy sees of the request it routes.
    public struct RoutingRequest: Sendable, Equatable {
        public var streaming: Bool
        /// Prompt tokens, estimated from the body's size.
        public var promptTokens: Double
        /// The request's `max_tokens` / `max_completion_tokens`, if it gives one.
        public var maxTokens: Int?

        public init(streaming: Bool = false, promptTokens: Double = 0, maxTokens: Int? = nil) {
            self.streaming = streaming
            self.promptTokens = promptTokens
            self.maxTokens = maxTokens
        }
    }

    struct Inner: Sendable {
        var providers: [ProviderRuntime]
        var routeStats: [RollingStats]
        var routePanic: [Bool]
        var retryBudget: RetryBudget
        var random: SeededRandom
        var events = EventRing()
        var inFlight = 0
        var operatorState: OperatorState
        var effectiveRoutes: [ResolvedRoute]
        /// [route][provider]: requests each provider served for the route in the last minute.
        var served: [[MinuteCounter]]
        /// [route][endpoint]: requests of the route in the last minute by the API called (chat,
        /// messages, embeddings, responses).
        var endpointRequests: [[MinuteCounter]]
        /// The last client requests, every one (the admin API's `/requests`, clawtop's Requests pane).
        var requests = RequestRing(capacity: GatewayState.requestLogCapacity)
        /// Client requests refused with 429 because a limit of this node was reached, since start.
        var refusedMaxInFlight = 0
        var refusedProviderFull = 0
        /// [route]: the latest strategy decision, to explain it in the snapshot.
        var lastDecision: [Explained?]
        /// [route][provider]: choices each provider won in the last minute (the strategy's wanted share).
        var chosen: [[MinuteCounter]]
        /// Per configured client: what its limits and accounting need.
        var clients: [ClientRuntime]
        /// [route]: the route's requests and those that failed for the client (a provider's fault or
        /// a limit), since start: counters a drill takes differences of.
        var routeRequestsTotal: [Int]
        var routeErrorsTotal: [Int]
        /// provider id -> the fault this node has said is in force (its start event raised, its end not yet).
        var announcedFaults: [String: InjectedFault] = [:]
    }

    /// A client's requests in flight and last minute, tokens, spend and counts.
    struct ClientRuntime: Sendable {
        var inFlight = 0
        var requests = MinuteCounter()
        var tokens = MinuteCounter()
        /// Spend in the last minute, in millionths of a dollar (times 60: the rate per hour).
        var spendMicros = MinuteCounter()
        var spendToday = 0.0
        var spendDay = 0
        /// What the other nodes of the fleet said this client spent today (through the fleet store).
        var othersSpend = 0.0
        var served = 0
        var errors = 0
        var refused = 0
    }

    /// Why a client's request is refused before any provider sees it.
    public enum ClientRefusal: Sendable, Equatable {
        case blocked
        case routeNotAllowed
        case concurrency(limit: Int)
        case requestsPerMinute(limit: Int, retryAfter: Int)
        case tokensPerMinute(limit: Int, retryAfter: Int)
        case spendPerDay(limit: Double, retryAfter: Int)

        /// The word for metrics: which limit refused it.
        public var limit: String {
            switch self {
            case .blocked: "blocked"
            case .routeNotAllowed: "route"
            case .concurrency: "concurrency"
            case .requestsPerMinute: "rpm"
            case .tokensPerMinute: "tpm"
            case .spendPerDay: "spend_per_day"
            }
        }
    }

    /// The limits in force (see `GatewayConfig.Limits`), resolved at start.
    public struct Limits: Sendable, Equatable {
        public var maxInFlight: Int
        public var maxInFlightPerProvider: Int
        /// Connections the client port holds open at once.
        public var maxConnections: Int

        public init(maxInFlight: Int = 10_000, maxInFlightPerProvider: Int = 10_000, maxConnections: Int = 10_000) {
            self.maxInFlight = maxInFlight
            self.maxInFlightPerProvider = maxInFlightPerProvider
            self.maxConnections = maxConnections
        }
    }

    public let config: GatewayConfig
    public let routes: [ResolvedRoute]
    public let routeIndex: [String: Int]
    public let providerIndex: [String: Int]
    public let limits: Limits
    let inner: Mutex<Inner>
    let wallClock: @Sendable () -> Double

    public init(config: GatewayConfig, now: Double, seed: UInt64 = UInt64.random(in: 0...UInt64.max),
                operatorState: OperatorState = OperatorState(), limits: Limits = Limits(),
                wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.config = config
        let providerIndex = Dictionary(uniqueKeysWithValues: config.providers.enumerated().map { ($1.id, $0) })
        self.providerIndex = providerIndex
        self.routes = config.routes.map { route in
            ResolvedRoute(alias: route.alias, tiers: route.tiers.map { tier in
                tier.compactMap { t in providerIndex[t.provider].map { ResolvedRoute.Target(provider: $0, model: t.model, weight: t.weight) } }
            })
        }
        self.routeIndex = Dictionary(uniqueKeysWithValues: config.routes.enumerated().map { ($1.alias, $0) })
        self.wallClock = wallClock
        self.limits = limits
        self.inner = Mutex(Inner(
            providers: config.providers.map { _ in ProviderRuntime(breaker: CircuitBreaker(settings: config.breaker, now: now), stats: RollingStats(now: now)) },
            routeStats: config.routes.map { _ in RollingStats(now: now) },
            routePanic: config.routes.map { _ in false },
            retryBudget: RetryBudget(settings: config.retry),
            random: SeededRandom(seed: seed),
            operatorState: operatorState,
            effectiveRoutes: operatorState.effectiveRoutes(config: config, providerIndex: providerIndex),
            served: config.routes.map { _ in config.providers.map { _ in MinuteCounter() } },
            endpointRequests: config.routes.map { _ in Self.endpoints.map { _ in MinuteCounter() } },
            lastDecision: config.routes.map { _ in nil },
            chosen: config.routes.map { _ in config.providers.map { _ in MinuteCounter() } },
            clients: (config.clients ?? []).map { _ in ClientRuntime() },
            routeRequestsTotal: config.routes.map { _ in 0 },
            routeErrorsTotal: config.routes.map { _ in 0 }
        ))
        // A node restarted during a drill says the fault is in force here too.
        _ = refreshFaults()
    }

    /// One attempt's permission: which provider, which upstream model, and whether in panic.
    public struct Choice: Sendable, Equatable {
        public var provider: Int
        public var model: String
        public var tier: Int
        public var panic: Bool
        /// How the strategy chose (nil in panic).
        public var explained: Explained?
        /// Seconds to wait for the response head: adapted to the provider's recent answers.
        public var firstByte: Double = 30
        /// A drill's fault that hits this attempt, drawn with the choice (see `drawFault`).
        public var fault: InjectedFault?
    }

    /// The head deadline for `provider`: 5 × its recent time to first byte, between the configured
    /// floor and `first_byte`, or `first_byte` itself until it has answered enough lately.
    func firstByteDeadline(_ p: ProviderRuntime, provider: Int, now: Double) -> Double {
        let timeouts = config.providers[provider].timeouts
        let ceiling = min(timeouts.firstByte, timeouts.total)
        let head = p.routing.head
        guard head.samples >= RoutingConstants.firstByteSamples, now - head.stamp <= RoutingConstants.firstByteMemory else { return ceiling }
        return min(ceiling, max(timeouts.firstByteFloor, head.value * RoutingConstants.firstByteFactor))
    }

    /// A strategy's decision with the providers named: for `x-clawgate-decision` and the snapshot.
    public struct Explained: Sendable, Equatable {
        public struct Candidate: Sendable, Equatable {
            public var provider: String
            public var weight: Double
            public var inFlight: Int
            public var latency: Double?
            public var price: Double?
            public var score: Double?
            public var compared: Bool
        }

        public var strategy: RoutingStrategy
        public var tier: Int
        public var winner: String
        public var reason: String
        public var candidates: [Candidate]
        public var time: Double
    }

    public enum NoChoice: Error, Sendable, Equatable {
        case exhausted
        case retryBudget
        /// Every provider left to try is at `max_in_flight_per_provider`.
        case providersFull
    }

    /// Count a new client request (feeds the retry budget), or refuse it when `max_in_flight`
    /// requests are already being served.
    public func beginRequest(now: Double) -> Bool {
        inner.withLock { state in
            guard state.inFlight < limits.maxInFlight else {
                state.refusedMaxInFlight += 1
                return false
            }
            state.retryBudget.recordRequest(now: now)
            state.inFlight += 1
            return true
        }
    }

    /// Admit a request of client `index` on `route` under its limits, or say why not; an admitted
    /// one holds a slot until `finishClient`.
    public func admitClient(_ index: Int, client: ClientAuth.Client, route: String, now: Double) -> ClientRefusal? {
        inner.withLock { state -> ClientRefusal? in
            var c = state.clients[index]
            defer { state.clients[index] = c }
            let day = Int(wallClock() / 86400)
            if c.spendDay != day {
                c.spendDay = day
                c.spendToday = 0
            }
            let refusal: ClientRefusal? = {
                if state.operatorState.blockedClients.contains(client.name) { return .blocked }
                if let routes = client.routes, !routes.contains(route) { return .routeNotAllowed }
                let l = client.limits.merged(state.operatorState.clientLimits[client.name])
                if let limit = l.concurrency, c.inFlight >= limit { return .concurrency(limit: limit) }
                if let limit = l.rpm, c.requests.total(now: now) >= limit {
                    return .requestsPerMinute(limit: limit, retryAfter: c.requests.secondsUntilOldestLeaves(now: now))
                }
                if let limit = l.tpm, c.tokens.total(now: now) >= limit {
                    return .tokensPerMinute(limit: limit, retryAfter: c.tokens.secondsUntilOldestLeaves(now: now))
                }
                if let limit = l.spendPerDay, c.spendToday + c.othersSpend >= limit {
                    return .spendPerDay(limit: limit, retryAfter: max(1, Int((Double(day + 1) * 86400 - wallClock()).rounded(.up))))
                }
                return nil
            }()
            if refusal != nil {
                c.refused += 1
                return refusal
            }
            c.inFlight += 1
            c.requests.add(now: now)
            return nil
        }
    }

    /// What each client spent today on this node (for the fleet store).
    public func clientSpendToday() -> [Double] {
        inner.withLock { state in
            let day = Int(wallClock() / 86400)
            return state.clients.map { $0.spendDay == day ? $0.spendToday : 0 }
        }
    }

    /// What the other nodes said each client spent today.
    public func setOthersSpend(_ spend: [Double]) {
        inner.withLock { state in
            for i in state.clients.indices where spend.indices.contains(i) { state.clients[i].othersSpend = spend[i] }
        }
    }

    /// A client's admitted request ended: its tokens and cost count against its limits.
    public func finishClient(_ index: Int, tokens: Int, cost: Double, ok: Bool, now: Double) {
        inner.withLock { finishClient(&$0, index, tokens: tokens, cost: cost, ok: ok, now: now) }
    }

    func finishClient(_ state: inout Inner, _ index: Int, tokens: Int, cost: Double, ok: Bool, now: Double) {
        do {
            state.clients[index].inFlight -= 1
            if tokens > 0 { state.clients[index].tokens.add(now: now, tokens) }
            if cost > 0 { state.clients[index].spendMicros.add(now: now, Int((cost * 1_000_000).rounded())) }
            state.clients[index].spendToday += cost
            if ok { state.clients[index].served += 1 } else { state.clients[index].errors += 1 }
        }
    }

    /// Whether a provider may take a request. With active health checks on, an open circuit stays
    /// out until a health probe closes it; without, the first request after the cooldown probes.
    func isAvailable(_ p: ProviderRuntime, now: Double) -> Bool {
        if let until = p.heldUntil, now < until { return false }
        return Self.isAvailable(health: p.health, breaker: p.breaker, healthChecks: config.healthCheck.enabled, now: now)
    }

    /// Keep a provider out of rotation until `until` (it answered 429 and said how long to wait).
    public func holdOff(provider: Int, until: Double) {
        inner.withLock { state in
            state.providers[provider].heldUntil = max(state.providers[provider].heldUntil ?? 0, until)
        }
    }

    static func isAvailable(health: Health, breaker: CircuitBreaker, healthChecks: Bool, now: Double) -> Bool {
        guard health.healthy else { return false }
        if healthChecks, breaker.state == .open { return false }
        return breaker.isAvailable(now: now)
    }

    /// Choose and take the provider for attempt number `attempt` (1-based) of a request on `route`.
    public func choose(route: Int, tried: Set<Int>, attempt: Int, now: Double, request: RoutingRequest = RoutingRequest()) -> Result<Choice, NoChoice> {
        inner.withLock { state -> Result<Choice, NoChoice> in
            let plan = state.effectiveRoutes[route]
            // The generator is taken out for the call so the closures can read the providers in
            // place (a copy of them here would be copied again on the first write below).
            var random = state.random
            let perProvider = limits.maxInFlightPerProvider
            var explained: Explained?
            // The providers a power-of-two-choices decision compared, and the one that won.
            var compared: (providers: [Int], winner: Int)?
            let chosen = RoutePlanner.pick(
                plan, tried: tried,
                available: { self.isAvailable(state.providers[$0], now: now) },
                badness: { state.providers[$0].breaker.openUntil ?? now },
                full: { state.providers[$0].inFlight >= perProvider },
                choose: { targets, tier in
                    let candidates = self.candidates(targets, state: state, request: request, now: now)
                    let decision = RoutingChooser.choose(plan.strategy, candidates, latencySlack: request.streaming ? RoutingConstants.ttftSlack : RoutingConstants.perTokenSlack,
                                                         random: &random)
                    explained = Explained(
                        strategy: plan.strategy, tier: tier, winner: config.providers[candidates[decision.winner].provider].id, reason: decision.reason,
                        candidates: candidates.indices.map { i in
                            let c = candidates[i]
                            return .init(provider: config.providers[c.provider].id, weight: c.weight, inFlight: c.inFlight, latency: c.latency,
                                         price: c.price, score: decision.scores[i], compared: decision.compared.contains(i))
                        }, time: wallClock())
                    compared = (decision.compared.map { candidates[$0].provider }, candidates[decision.winner].provider)
                    return decision
                }
            )
            state.random = random
            guard let pick = chosen else {
                let full = plan.tiers.contains { tier in
                    tier.contains { $0.weight > 0 && !tried.contains($0.provider) && state.providers[$0.provider].inFlight >= perProvider }
                }
                if full { state.refusedProviderFull += 1 }
                return .failure(full ? .providersFull : .exhausted)
            }
            if attempt > 1, !state.retryBudget.tryRetry(now: now) { return .failure(.retryBudget) }
            if state.routePanic[route] != pick.panic {
                state.routePanic[route] = pick.panic
                state.events.append(time: wallClock(), node: config.nodeID, kind: pick.panic ? .panicStarted : .panicEnded,
                                    subject: plan.alias,
                                    detail: pick.panic ? "every provider of every tier is out; routing to the least bad one" : "a provider is available again")
            }
            if pick.panic {
                // Panic traffic bypasses the breaker; its result still closes or keeps the circuit.
            } else {
                let (_, transition) = state.providers[pick.target.provider].breaker.acquire(now: now)
                if let transition { log(&state, provider: pick.target.provider, transition, now: now) }
            }
            state.providers[pick.target.provider].inFlight += 1
            if let explained, !pick.panic {
                state.lastDecision[route] = explained
                state.chosen[route][pick.target.provider].add(now: now)
                if let compared, compared.providers.count == 2 {
                    for p in compared.providers {
                        if p == compared.winner { state.providers[p].routing.won += 1 } else { state.providers[p].routing.lost += 1 }
                    }
                }
            }
            return .success(Choice(provider: pick.target.provider, model: pick.target.model, tier: pick.tier, panic: pick.panic,
                                   explained: pick.panic ? nil : explained,
                                   firstByte: firstByteDeadline(state.providers[pick.target.provider], provider: pick.target.provider, now: now),
                                   fault: drawFault(&state, provider: pick.target.provider)))
        }
    }

    /// The candidates of one tier as a strategy sees them: weights with slow start, in flight, the
    /// latency measure for this kind of request (an unmeasured one starts at the tier's median), and
    /// the estimated price of this request.
    func candidates(_ targets: [ResolvedRoute.Target], state: Inner, request: RoutingRequest, now: Double) -> [RoutingCandidate] {
        func measure(_ p: Int) -> PeakEWMA { request.streaming ? state.providers[p].routing.ttft : state.providers[p].routing.perToken }
        let median = RoutingChooser.median(targets.map { measure($0.provider).current(now: now) })
        return targets.map { t in
            let runtime = state.providers[t.provider]
            let factor = RoutingChooser.slowStartFactor(elapsed: runtime.routing.backSince.map { now - $0 }, window: config.slowStart)
            let provider = config.providers[t.provider]
            var price: Double?
            if provider.priced {
                let completion = Double(request.maxTokens.map { min($0, 1_000_000) } ?? 0) > 0
                    ? Double(request.maxTokens!) : (runtime.routing.completionTokens ?? RoutingConstants.defaultCompletionTokens)
                price = (request.promptTokens * provider.price.inputPer1M + completion * provider.price.outputPer1M) / 1_000_000
            }
            return RoutingCandidate(provider: t.provider, weight: Double(t.weight) * factor, inFlight: runtime.inFlight,
                                    latency: measure(t.provider).current(now: now) ?? median, price: price)
        }
    }

    /// Record how an attempt on `provider` ended. `drill`: an injected fault decided it (the
    /// breaker's reason says so; everything else sees it as the failure it stands for).
    public func finishAttempt(provider: Int, outcome: AttemptOutcome, latency: Double, ttft: Double?,
                              tokensIn: Int, tokensOut: Int, cost: Double, now: Double, streaming: Bool = false, drill: Bool = false) {
        inner.withLock {
            finishAttempt(&$0, AttemptEnd(provider: provider, outcome: outcome, latency: latency, ttft: ttft, tokensIn: tokensIn, tokensOut: tokensOut,
                                          cost: cost, streaming: streaming, drill: drill), now: now)
        }
    }

    /// How an attempt on a provider ended, for `finishAttempt` and `finish`.
    public struct AttemptEnd: Sendable {
        public var provider: Int
        public var outcome: AttemptOutcome
        public var latency: Double
        public var ttft: Double?
        public var tokensIn = 0
        public var tokensOut = 0
        public var cost = 0.0
        public var streaming = false
        public var drill = false
    }

    func finishAttempt(_ state: inout Inner, _ end: AttemptEnd, now: Double) {
        let (provider, outcome, latency, ttft) = (end.provider, end.outcome, end.latency, end.ttft)
        let (tokensIn, tokensOut, cost, streaming, drill) = (end.tokensIn, end.tokensOut, end.cost, end.streaming, end.drill)
        do {
            state.providers[provider].inFlight -= 1
            state.providers[provider].attemptsTotal += 1
            // What the latency strategies learn: time to first token of a stream, time per token of a
            // whole answer; a provider's failure or refusal counts as a long wait.
            switch outcome.fault {
            case .provider, .limit:
                if streaming {
                    state.providers[provider].routing.ttft.observe(RoutingConstants.failurePenalty, now: now)
                } else {
                    state.providers[provider].routing.perToken.observe(RoutingConstants.failurePenalty, now: now)
                }
            case .none where outcome != .clientClosed:
                if let ttft { state.providers[provider].routing.head.observe(ttft, now: now) }
                if streaming, let ttft {
                    state.providers[provider].routing.ttft.observe(ttft, now: now)
                } else if !streaming {
                    state.providers[provider].routing.perToken.observe(latency / Double(max(1, tokensOut)), now: now)
                    let previous = state.providers[provider].routing.completionTokens ?? Double(tokensOut)
                    state.providers[provider].routing.completionTokens = previous * 0.9 + Double(tokensOut) * 0.1
                }
            default:
                break
            }
            let transition: CircuitBreaker.Transition?
            switch outcome.fault {
            case .provider, .limit:
                transition = state.providers[provider].breaker.recordFailure(reason: drill ? "\(outcome.reason) (drill)" : outcome.reason, now: now)
            case .client:
                // The provider answered correctly; the request was wrong. Neither good nor bad news.
                state.providers[provider].breaker.release()
                transition = nil
            case .none:
                if outcome == .clientClosed {
                    state.providers[provider].breaker.release()
                    transition = nil
                } else {
                    transition = state.providers[provider].breaker.recordSuccess(now: now)
                }
            }
            if let transition { log(&state, provider: provider, transition, now: now) }
            state.providers[provider].stats.record(now: now, fault: outcome.fault, latency: latency, ttft: ttft,
                                                   tokensIn: tokensIn, tokensOut: tokensOut, cost: cost)
            let day = Int(wallClock() / 86400)
            if state.providers[provider].costDay != day {
                state.providers[provider].costDay = day
                state.providers[provider].costToday = 0
            }
            state.providers[provider].costToday += cost
        }
    }

    /// Client requests the node keeps records of (`/admin/v1/requests`).
    public static let requestLogCapacity = 1000

    /// Record how a client request ended.
    public func finishRequest(route: Int, fault: Fault, latency: Double, ttft: Double?, tokensIn: Int, tokensOut: Int, cost: Double, now: Double,
                              served: Int? = nil, endpoint: Int = 0) {
        inner.withLock {
            finishRequest(&$0, route: route, fault: fault, latency: latency, ttft: ttft, tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, now: now,
                          served: served, endpoint: endpoint)
        }
    }

    /// A request's end in one taking of the lock: its last attempt (when one is still open), its
    /// client's accounting (when it has one) and the request's own.
    func finish(attempt: AttemptEnd?, client: (index: Int, ok: Bool)?, route: Int, fault: Fault, latency: Double, ttft: Double?, tokensIn: Int,
                tokensOut: Int, cost: Double, now: Double, served: Int?, endpoint: Int) {
        inner.withLock { state in
            if let attempt { finishAttempt(&state, attempt, now: now) }
            if let client { finishClient(&state, client.index, tokens: tokensIn + tokensOut, cost: cost, ok: client.ok, now: now) }
            finishRequest(&state, route: route, fault: fault, latency: latency, ttft: ttft, tokensIn: tokensIn, tokensOut: tokensOut, cost: cost, now: now,
                          served: served, endpoint: endpoint)
        }
    }

    func finishRequest(_ state: inout Inner, route: Int, fault: Fault, latency: Double, ttft: Double?, tokensIn: Int, tokensOut: Int, cost: Double,
                       now: Double, served: Int?, endpoint: Int) {
        do {
            state.inFlight -= 1
            state.endpointRequests[route][endpoint].add(now: now)
            state.routeStats[route].record(now: now, fault: fault, latency: latency, ttft: ttft, tokensIn: tokensIn, tokensOut: tokensOut, cost: cost)
            if let served { state.served[route][served].add(now: now) }
            state.routeRequestsTotal[route] += 1
            if fault == .provider || fault == .limit { state.routeErrorsTotal[route] += 1 }
            if state.inFlight == 0, state.operatorState.nodeDrain {
                state.events.append(time: wallClock(), node: config.nodeID, kind: .nodeDrained, subject: config.nodeID,
                                    detail: "the last in-flight request finished")
            }
        }
    }

    /// The client APIs, in the order of `endpointRequests`.
    public static let endpoints = ClientFormat.allCases.map(\.rawValue)

    /// [route][endpoint]: requests in the last minute by the API called.
    public func endpointRequestsLastMinute(now: Double) -> [[Int]] {
        inner.withLock { state in state.endpointRequests.map { $0.map { $0.total(now: now) } } }
    }

    // MARK: Operator state

    public var operatorState: OperatorState { inner.withLock { $0.operatorState } }

    /// Put a new operator state in effect (already validated and persisted).
    public func apply(_ next: OperatorState, now: Double) {
        inner.withLock { state in
            let wasDraining = state.operatorState.nodeDrain
            let before = Self.routedWeight(state.effectiveRoutes, providers: state.providers.count)
            state.operatorState = next
            state.effectiveRoutes = next.effectiveRoutes(config: config, providerIndex: providerIndex)
            noteFaults(&state, now: wallClock())
            // A provider that had no weight anywhere and has some now (undrained, restored, weighted
            // up from 0) ramps up from here (slow start).
            let after = Self.routedWeight(state.effectiveRoutes, providers: state.providers.count)
            for p in state.providers.indices where before[p] == 0 && after[p] > 0 { state.providers[p].routing.backSince = now }
            if next.nodeDrain, !wasDraining, state.inFlight == 0 {
                state.events.append(time: wallClock(), node: config.nodeID, kind: .nodeDrained, subject: config.nodeID,
                                    detail: "no request was in flight")
            }
        }
    }

    // MARK: Faults (drills)

    /// The fault that hits this attempt on `provider`, if one is in force and the draw (its ratio)
    /// picks this attempt. Decided before anything is sent.
    public func drawFault(provider: Int) -> InjectedFault? {
        inner.withLock { drawFault(&$0, provider: provider) }
    }

    func drawFault(_ state: inout Inner, provider: Int) -> InjectedFault? {
        guard !state.operatorState.faults.isEmpty,
              let fault = state.operatorState.fault(provider: config.providers[provider].id, now: wallClock()) else { return nil }
        if fault.ratio >= 1 { return fault }
        return state.random.unit() < fault.ratio ? fault : nil
    }

    /// Raise the start and end events of faults as they come into force and end (by their time or by
    /// an operator), once each on this node, and say which faults in the state are over: those the
    /// node drops with a write of its own.
    public func refreshFaults() -> [String] {
        inner.withLock { state -> [String] in
            let now = wallClock()
            noteFaults(&state, now: now)
            return state.operatorState.faults.values.filter { !$0.active(now: now) }.map(\.provider).sorted()
        }
    }

    func noteFaults(_ state: inout Inner, now: Double) {
        var active: [String: InjectedFault] = [:]
        for (id, fault) in state.operatorState.faults where fault.active(now: now) { active[id] = fault }
        for (id, fault) in state.announcedFaults.sorted(by: { $0.key < $1.key }) where active[id] != fault {
            let detail = !fault.active(now: now) ? "\(fault.summary) ended: its time was over (set for \(Self.span(fault.until - fault.since)))"
                                 : "\(fault.summary) ended by an operator after \(Self.span(now - fault.since))"
            state.events.append(time: now, node: config.nodeID, kind: .faultEnded, subject: id, detail: detail)
        }
        for (id, fault) in active.sorted(by: { $0.key < $1.key }) where state.announcedFaults[id] != fault {
            var detail = "drill: \(fault.summary)\(fault.ratio < 1 ? " of attempts" : " on every attempt") for \(Self.span(fault.until - now))"
            if let actor = fault.actor { detail += ", set by \(actor)" }
            if let reason = fault.reason, !reason.isEmpty { detail += ": \(reason)" }
            state.events.append(time: now, node: config.nodeID, kind: .faultStarted, subject: id, detail: detail)
        }
        state.announcedFaults = active
    }

    /// `45s`, `2m0s`, `1h0m`: how long, in event details.
    static func span(_ seconds: Double) -> String {
        let s = Int(min(max(0, seconds), 1e9).rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        return "\(s / 3600)h\(s % 3600 / 60)m"
    }

    /// Each provider's summed weight over every route and tier in effect.
    static func routedWeight(_ routes: [ResolvedRoute], providers: Int) -> [Int] {
        var total = Array(repeating: 0, count: providers)
        for route in routes { for tier in route.tiers { for t in tier { total[t.provider] += t.weight } } }
        return total
    }

    public func appendEvent(kind: EventKind, subject: String, detail: String) {
        inner.withLock { $0.events.append(time: wallClock(), node: config.nodeID, kind: kind, subject: subject, detail: detail) }
    }

    /// serving, draining (readiness 503, finishing in-flight) or drained.
    public func nodeState() -> NodeState {
        inner.withLock { state in
            guard state.operatorState.nodeDrain else { return .serving }
            return state.inFlight > 0 ? .draining : .drained
        }
    }

}
