import ClawAdminAPI
import ClawShared
import Foundation
import Synchronization

/// Whose fault an outcome is. Only the provider's faults feed the breaker, the error ratio,
/// `degraded` and alerts; the client's are passed back to the client and counted apart.
public enum Fault: String, Sendable, Equatable {
    case none
    /// The request itself was wrong (400, 413, 422, ...): the provider answered correctly.
    case client
    /// The provider failed, or refused the gateway's own key or model mapping.
    case provider
    /// A limit of this node was reached (`max_in_flight`, `max_in_flight_per_provider`).
    case limit
}

/// What an attempt or a probe came to, in the words of logs, metrics and error bodies.
public enum AttemptOutcome: Sendable, Equatable {
    case ok
    /// The provider answered a 4xx that says the request was wrong: passed through, no retry.
    case clientError(status: Int)
    /// 5xx, 429 or 408: the provider is failing or overloaded.
    case status(Int)
    /// 401, 402, 403, 404 or 405: the provider refused the gateway's key, account, model or path.
    case rejected(status: Int)
    case connectError
    case timeout
    case reset
    case badResponse(String)
    case streamCut
    case clientClosed

    public var label: String {
        switch self {
        case .ok: "ok"
        case .clientError(let s): "status_\(s)"
        case .status(let s): "status_\(s)"
        case .rejected(let s): "status_\(s)"
        case .connectError: "connect_error"
        case .timeout: "timeout"
        case .reset: "reset"
        case .badResponse: "bad_response"
        case .streamCut: "stream_cut"
        case .clientClosed: "client_closed"
        }
    }

    public var fault: Fault {
        switch self {
        case .ok, .clientClosed: .none
        case .clientError: .client
        default: .provider
        }
    }

    /// Failures that count against the provider's circuit.
    public var isProviderFailure: Bool { fault == .provider }

    /// Failures worth another provider, if nothing reached the client yet.
    public var isRetryable: Bool { isProviderFailure }

    /// The words for a failure in the breaker's reason and the provider's recent failures: what
    /// went wrong, and for a refusal of the gateway's own settings, what to check.
    public var reason: String {
        switch self {
        case .badResponse(let why): "bad_response (\(why))"
        case .rejected(let s) where s == 401 || s == 403: "status_\(s) (the provider refused the gateway's API key: check api_key_env)"
        case .rejected(402): "status_402 (the provider refused the gateway's account: check its billing)"
        case .rejected(let s): "status_\(s) (the provider does not know the model or path: check the route's model and the base_url)"
        default: label
        }
    }

    /// Whose fault an upstream HTTP status is (the table in README.md).
    public static func classify(status: Int) -> AttemptOutcome {
        switch status {
        case 200..<300: .ok
        case 408, 429, 500...599: .status(status)
        case 401, 402, 403, 404, 405: .rejected(status: status)
        case 400..<500: .clientError(status: status)
        default: .badResponse("unexpected status \(status)")
        }
    }
}

/// One upstream attempt of a client request.
public struct AttemptRecord: Sendable, Equatable {
    public var provider: String
    public var outcome: AttemptOutcome

    public init(provider: String, outcome: AttemptOutcome) {
        self.provider = provider
        self.outcome = outcome
    }
}

/// A client request that needed a retry or failed, kept so an operator can ask why.
public struct RequestRecord: Sendable, Equatable {
    public var sequence: Int
    public var time: Double
    public var route: String
    public var attempts: [AttemptRecord]
    public var outcome: String
    public var served: String?
    public var latency: Double
}

/// Counts per second over the last minute: which provider actually served a route's requests.
struct MinuteCounter: Sendable {
    private var counts = [Int](repeating: 0, count: 60)
    private var seconds = [Int](repeating: -1, count: 60)

    mutating func add(now: Double) {
        let second = Int(now.rounded(.down))
        let index = ((second % 60) + 60) % 60
        if seconds[index] != second {
            seconds[index] = second
            counts[index] = 0
        }
        counts[index] += 1
    }

    func total(now: Double) -> Int {
        let second = Int(now.rounded(.down))
        var sum = 0
        for i in 0..<60 where seconds[i] > second - 60 && seconds[i] <= second { sum += counts[i] }
        return sum
    }
}

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
        var requests: [RequestRecord] = []
        var nextRequestSequence = 1
        /// Client requests refused with 429 because a limit of this node was reached, since start.
        var refusedMaxInFlight = 0
        var refusedProviderFull = 0
    }

    /// The limits in force (see `GatewayConfig.Limits`), resolved at start.
    public struct Limits: Sendable, Equatable {
        public var maxInFlight: Int
        public var maxInFlightPerProvider: Int

        public init(maxInFlight: Int = 10_000, maxInFlightPerProvider: Int = 10_000) {
            self.maxInFlight = maxInFlight
            self.maxInFlightPerProvider = maxInFlightPerProvider
        }
    }

    public let config: GatewayConfig
    public let routes: [ResolvedRoute]
    public let routeIndex: [String: Int]
    public let providerIndex: [String: Int]
    public let limits: Limits
    private let inner: Mutex<Inner>
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
            served: config.routes.map { _ in config.providers.map { _ in MinuteCounter() } }
        ))
    }

    /// One attempt's permission: which provider, which upstream model, and whether in panic.
    public struct Choice: Sendable, Equatable {
        public var provider: Int
        public var model: String
        public var tier: Int
        public var panic: Bool
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

    static func isAvailable(_ p: ProviderRuntime, now: Double) -> Bool {
        p.health.healthy && p.breaker.isAvailable(now: now)
    }

    /// Choose and take the provider for attempt number `attempt` (1-based) of a request on `route`.
    public func choose(route: Int, tried: Set<Int>, attempt: Int, now: Double) -> Result<Choice, NoChoice> {
        inner.withLock { state -> Result<Choice, NoChoice> in
            let plan = state.effectiveRoutes[route]
            // The generator is taken out for the call so the closures can read the providers in
            // place (a copy of them here would be copied again on the first write below).
            var random = state.random
            let perProvider = limits.maxInFlightPerProvider
            let chosen = RoutePlanner.pick(
                plan, tried: tried,
                available: { Self.isAvailable(state.providers[$0], now: now) },
                badness: { state.providers[$0].breaker.openUntil ?? now },
                full: { state.providers[$0].inFlight >= perProvider },
                random: &random
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
                if let transition { log(&state, provider: pick.target.provider, transition) }
            }
            state.providers[pick.target.provider].inFlight += 1
            return .success(Choice(provider: pick.target.provider, model: pick.target.model, tier: pick.tier, panic: pick.panic))
        }
    }

    /// Record how an attempt on `provider` ended.
    public func finishAttempt(provider: Int, outcome: AttemptOutcome, latency: Double, ttft: Double?,
                              tokensIn: Int, tokensOut: Int, cost: Double, now: Double) {
        inner.withLock { state in
            state.providers[provider].inFlight -= 1
            let transition: CircuitBreaker.Transition?
            switch outcome.fault {
            case .provider, .limit:
                transition = state.providers[provider].breaker.recordFailure(reason: outcome.reason, now: now)
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
            if let transition { log(&state, provider: provider, transition) }
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

    /// Record how a client request ended.
    public static let requestLogCapacity = 500

    public func finishRequest(route: Int, fault: Fault, latency: Double, ttft: Double?, tokensIn: Int, tokensOut: Int, cost: Double, now: Double,
                              served: Int? = nil, attempts: [AttemptRecord] = [], outcome: String = "ok") {
        inner.withLock { state in
            state.inFlight -= 1
            state.routeStats[route].record(now: now, fault: fault, latency: latency, ttft: ttft, tokensIn: tokensIn, tokensOut: tokensOut, cost: cost)
            if let served { state.served[route][served].add(now: now) }
            if attempts.count > 1 || fault != .none {
                state.requests.append(RequestRecord(
                    sequence: state.nextRequestSequence, time: wallClock(), route: routes[route].alias, attempts: attempts, outcome: outcome,
                    served: served.map { config.providers[$0].id }, latency: latency))
                state.nextRequestSequence += 1
                if state.requests.count > Self.requestLogCapacity { state.requests.removeFirst(state.requests.count - Self.requestLogCapacity) }
            }
            if state.inFlight == 0, state.operatorState.nodeDrain {
                state.events.append(time: wallClock(), node: config.nodeID, kind: .nodeDrained, subject: config.nodeID,
                                    detail: "the last in-flight request finished")
            }
        }
    }

    // MARK: Operator state

    public var operatorState: OperatorState { inner.withLock { $0.operatorState } }

    /// Put a new operator state in effect (already validated and persisted).
    public func apply(_ next: OperatorState) {
        inner.withLock { state in
            let wasDraining = state.operatorState.nodeDrain
            state.operatorState = next
            state.effectiveRoutes = next.effectiveRoutes(config: config, providerIndex: providerIndex)
            if next.nodeDrain, !wasDraining, state.inFlight == 0 {
                state.events.append(time: wallClock(), node: config.nodeID, kind: .nodeDrained, subject: config.nodeID,
                                    detail: "no request was in flight")
            }
        }
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

    /// Record an active health probe.
    public func recordProbe(provider: Int, ok: Bool, error: String?, now: Double) {
        inner.withLock { state in
            let settings = config.healthCheck
            var health = state.providers[provider].health
            health.lastProbe = now
            let id = config.providers[provider].id
            if ok {
                health.consecutiveFailures = 0
                health.consecutiveSuccesses += 1
                if !health.healthy, health.consecutiveSuccesses >= settings.healthyThreshold {
                    health.healthy = true
                    health.lastError = nil
                    state.events.append(time: wallClock(), node: config.nodeID, kind: .healthRecovered, subject: id,
                                        detail: "health probe succeeded \(health.consecutiveSuccesses) time(s)")
                }
            } else {
                health.consecutiveSuccesses = 0
                health.consecutiveFailures += 1
                health.lastError = error
                if health.healthy, health.consecutiveFailures >= settings.unhealthyThreshold {
                    health.healthy = false
                    state.events.append(time: wallClock(), node: config.nodeID, kind: .healthFailed, subject: id,
                                        detail: "\(health.consecutiveFailures) failed health probes, last: \(error ?? "unknown")")
                }
            }
            state.providers[provider].health = health
        }
    }

    private func log(_ state: inout Inner, provider: Int, _ transition: CircuitBreaker.Transition) {
        let id = config.providers[provider].id
        let (kind, detail): (EventKind, String)
        switch transition {
        case .opened(let cooldown, let reason):
            (kind, detail) = (.circuitOpened, "\(reason); cooldown \(String(format: "%.1f", cooldown)) s")
        case .probing:
            (kind, detail) = (.circuitProbing, "cooldown over; letting one probe request through")
        case .closed:
            (kind, detail) = (.circuitClosed, "request succeeded; back in rotation")
        }
        state.events.append(time: wallClock(), node: config.nodeID, kind: kind, subject: id, detail: detail)
    }

    // MARK: Reading

    public struct ProviderStatus: Sendable {
        public var id: String
        /// One word of DESIGN.md: healthy, degraded, ejected, probing, drained, failed-over.
        public var state: ProviderState
        public var breaker: CircuitBreaker
        public var health: Health
        public var inFlight: Int
        public var window1m: WindowSummary
        public var window5m: WindowSummary
        /// Cost since midnight UTC.
        public var costToday: Double
    }

    public struct RouteStatus: Sendable {
        public var alias: String
        public var panic: Bool
        public var window1m: WindowSummary
        public var window5m: WindowSummary
    }

    public struct Snapshot: Sendable {
        public var providers: [ProviderStatus]
        public var routes: [RouteStatus]
        public var effectiveRoutes: [ResolvedRoute]
        public var inFlight: Int
        public var operatorState: OperatorState
        public var refusedMaxInFlight: Int
        public var refusedProviderFull: Int
    }

    /// Everything the admin API and `/metrics` show. Only a copy of the raw state is taken under the
    /// lock (arrays are shared until the request path next writes them); the windows are summed
    /// outside it, so a poll or a scrape never holds up requests.
    public func snapshot(now: Double) -> Snapshot {
        let state = inner.withLock { $0 }
        let today = Int(wallClock() / 86400)
        let providers = state.providers.enumerated().map { index, p in
            let w1 = p.stats.summary(window: 60, now: now)
            let id = config.providers[index].id
            let word: ProviderState
            if state.operatorState.drainedProviders.contains(id) {
                word = .drained
            } else if state.operatorState.failedOver(provider: id) != nil {
                word = .failedOver
            } else {
                word = Self.word(p, window1m: w1, now: now)
            }
            return ProviderStatus(
                id: id,
                state: word,
                breaker: p.breaker, health: p.health, inFlight: p.inFlight,
                window1m: w1, window5m: p.stats.summary(window: 300, now: now),
                costToday: p.costDay == today ? p.costToday : 0
            )
        }
        let routes = state.routeStats.enumerated().map { index, stats in
            RouteStatus(alias: self.routes[index].alias, panic: state.routePanic[index],
                        window1m: stats.summary(window: 60, now: now), window5m: stats.summary(window: 300, now: now))
        }
        return Snapshot(providers: providers, routes: routes, effectiveRoutes: state.effectiveRoutes, inFlight: state.inFlight,
                        operatorState: state.operatorState, refusedMaxInFlight: state.refusedMaxInFlight,
                        refusedProviderFull: state.refusedProviderFull)
    }

    static func word(_ p: ProviderRuntime, window1m: WindowSummary, now: Double) -> ProviderState {
        if !p.health.healthy { return .ejected }
        switch p.breaker.state {
        case .open: return .ejected
        case .probing: return .probing
        case .closed: break
        }
        if p.breaker.consecutiveFailures > 0 || p.health.consecutiveFailures > 0 || (window1m.requests >= 5 && window1m.errorRatio > 0.05) {
            return .degraded
        }
        return .healthy
    }

    /// Requests that needed a retry or failed, after `sequence`, and whether older ones were dropped.
    public func requests(since sequence: Int) -> (requests: [RequestRecord], truncated: Bool) {
        inner.withLock { state in
            let oldest = state.requests.first?.sequence ?? state.nextRequestSequence
            return (state.requests.filter { $0.sequence > sequence }, sequence + 1 < oldest)
        }
    }

    /// [route][provider] requests served in the last minute.
    public func servedLastMinute(now: Double) -> [[Int]] {
        inner.withLock { state in state.served.map { $0.map { $0.total(now: now) } } }
    }

    public func events(since sequence: Int) -> (events: [Event], truncated: Bool) {
        inner.withLock { $0.events.since(sequence) }
    }
}
