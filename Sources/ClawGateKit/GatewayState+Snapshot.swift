import ClawAdminAPI
import ClawShared
import Foundation
import Synchronization

/// What the admin API and `/metrics` read.
extension GatewayState {

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
        public var routing: ProviderRouting
        /// The share of its weight it gets now (below 1 during slow start).
        public var slowStartFactor: Double
        /// Attempts on it since the node started.
        public var attemptsTotal = 0
    }

    public struct RouteStatus: Sendable {
        public var alias: String
        public var panic: Bool
        public var window1m: WindowSummary
        public var window5m: WindowSummary
        public var strategy: RoutingStrategy
        public var lastDecision: Explained?
        /// [provider]: choices the strategy gave each provider in the last minute.
        public var chosen1m: [Int]
    }

    public struct Snapshot: Sendable {
        public var providers: [ProviderStatus]
        public var routes: [RouteStatus]
        public var effectiveRoutes: [ResolvedRoute]
        public var inFlight: Int
        public var operatorState: OperatorState
        public var refusedMaxInFlight: Int
        public var refusedProviderFull: Int
        /// Per configured client: in flight, requests and tokens in the last minute, spend today, counts.
        public var clients: [(inFlight: Int, requests1m: Int, tokens1m: Int, spendPerHour: Double, spendToday: Double, served: Int, errors: Int, refused: Int)]
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
                costToday: p.costDay == today ? p.costToday : 0,
                routing: p.routing,
                slowStartFactor: RoutingChooser.slowStartFactor(elapsed: p.routing.backSince.map { now - $0 }, window: config.slowStart),
                attemptsTotal: p.attemptsTotal
            )
        }
        let routes = state.routeStats.enumerated().map { index, stats in
            RouteStatus(alias: self.routes[index].alias, panic: state.routePanic[index],
                        window1m: stats.summary(window: 60, now: now), window5m: stats.summary(window: 300, now: now),
                        strategy: state.effectiveRoutes[index].strategy, lastDecision: state.lastDecision[index],
                        chosen1m: state.chosen[index].map { $0.total(now: now) })
        }
        let day = Int(wallClock() / 86400)
        let clients = state.clients.map { c in
            (inFlight: c.inFlight, requests1m: c.requests.total(now: now), tokens1m: c.tokens.total(now: now),
             spendPerHour: Double(c.spendMicros.total(now: now)) / 1_000_000 * 60,
             spendToday: c.spendDay == day ? c.spendToday : 0, served: c.served, errors: c.errors, refused: c.refused)
        }
        return Snapshot(providers: providers, routes: routes, effectiveRoutes: state.effectiveRoutes, inFlight: state.inFlight,
                        operatorState: state.operatorState, refusedMaxInFlight: state.refusedMaxInFlight,
                        refusedProviderFull: state.refusedProviderFull, clients: clients)
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
}
