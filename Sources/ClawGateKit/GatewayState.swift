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

}
