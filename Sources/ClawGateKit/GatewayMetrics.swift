import ClawAdminAPI
import Prometheus
import Synchronization

/// The node's Prometheus metrics, through swift-prometheus; names in base units with `_total`
/// and `_seconds` suffixes, so `promtool check metrics` passes.
public final class GatewayMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "clawgate", metricName: metric, unitName: unit, helpText: help)
    }

    nonisolated(unsafe) static let requests = name("requests", "total", "Client requests by route, serving provider (none when none served), outcome, fault (none, client, provider, limit; drill when only faults injected for a drill failed it) and endpoint (chat, messages, embeddings, responses).")
    nonisolated(unsafe) static let attempts = name("upstream_attempts", "total", "Upstream attempts by provider, route, outcome and fault (none, client, provider; drill for a failure injected for a drill).")
    nonisolated(unsafe) static let retries = name("retries", "total", "Retries sent to another provider, by route.")
    nonisolated(unsafe) static let budgetExhausted = name("retry_budget_exhausted", "total", "Retries refused by the retry budget, by route.")
    nonisolated(unsafe) static let duration = name("request_duration", "seconds", "Client request latency by route and provider.")
    nonisolated(unsafe) static let attemptDuration = name("upstream_attempt_duration", "seconds", "Upstream attempt latency by provider and route, failed attempts included.")
    nonisolated(unsafe) static let ttft = name("time_to_first_token", "seconds", "Time to the first token (first body bytes) by route and provider.")
    nonisolated(unsafe) static let tokens = name("tokens", "total", "Tokens by provider, route and direction (input or output).")
    nonisolated(unsafe) static let cost = name("cost_dollars", "total", "Cost in US dollars from the price table, by provider and route.")
    nonisolated(unsafe) static let inFlight = name("requests_in_flight", "", "Client requests being served.")
    nonisolated(unsafe) static let providerInFlight = name("provider_requests_in_flight", "", "Upstream requests in flight by provider.")
    nonisolated(unsafe) static let circuit = name("circuit_state", "", "Circuit breaker state by provider: 0 closed, 1 probing, 2 open.")
    nonisolated(unsafe) static let up = name("provider_up", "", "1 when the provider is in rotation (circuit not open, health probes passing).")
    nonisolated(unsafe) static let weight = name("route_weight", "", "Configured weight by route, tier and provider.")
    nonisolated(unsafe) static let effective = name("route_effective_weight", "", "Weight in effect (0 when the provider is out) by route, tier and provider.")
    nonisolated(unsafe) static let panic = name("route_panic", "", "1 when every provider of the route is out and it routes to the least bad one.")
    nonisolated(unsafe) static let routingLatency = name("routing_latency", "seconds",
                                                         "The routing strategies' peak EWMA by provider and kind (ttft: time to first token of streams; per_token: seconds per token of whole answers); absent when not measured for 5 s.")
    nonisolated(unsafe) static let routingScore = name("routing_score", "", "Each provider's score in the route's latest routing decision (lower wins), by route and provider.")
    nonisolated(unsafe) static let slowStart = name("routing_slow_start_factor", "", "The share of its weight a provider gets now (below 1 during slow start).")
    nonisolated(unsafe) static let strategy = name("route_strategy", "", "1 for the routing strategy in force on the route (label strategy).")
    nonisolated(unsafe) static let clientRequests = name("client_requests", "total",
                                                         "Client requests by client (a configured name, or none for a missing or unknown key) and outcome: ok, error, or the limit that refused it (unauthorized, route, rpm, tpm, spend_per_day, concurrency).")
    nonisolated(unsafe) static let clientTokens = name("client_tokens", "total", "Tokens (prompt and completion) by client.")
    nonisolated(unsafe) static let clientSpend = name("client_spend_dollars", "total", "Spend in US dollars from the price table, by client.")
    nonisolated(unsafe) static let clientInFlight = name("client_requests_in_flight", "", "Requests in flight by client.")
    nonisolated(unsafe) static let ready = name("node_ready", "", "1 when the node answers /readyz with 200.")
    nonisolated(unsafe) static let faultActive = name("fault_active", "", "1 while a fault injected for a drill is in force on the provider, by provider and kind (outage, hang, error, latency).")
    nonisolated(unsafe) static let budget = name("route_budget_dollars_per_hour", "", "The route's budget in force (dollars per hour), by route; absent without one.")
    nonisolated(unsafe) static let budgetCost = name("route_budget_cost_dollars_per_hour", "", "The route's cost per hour over the last 5 minutes as its budget guard sums it (over the fleet with a fleet store), by route.")
    nonisolated(unsafe) static let overBudget = name("route_over_budget", "", "1 while the route's budget guard is in force (its cost passed the budget), by route and action (shift, refuse).")
    nonisolated(unsafe) static let maxInFlight = name("max_in_flight", "", "limits.max_in_flight: client requests this node serves at once.")
    nonisolated(unsafe) static let providerMaxInFlight = name("provider_max_in_flight", "", "limits.max_in_flight_per_provider: upstream requests per provider at once.")

    nonisolated(unsafe) static let connectionsOpen = name("connections_open", "", "Client connections open now, by listener (data or admin).")
    nonisolated(unsafe) static let maxConnections = name("max_connections", "", "The connection cap by listener (limits.max_connections on the data port).")
    nonisolated(unsafe) static let connectionsRefused = name("connections_refused", "total", "Connections answered 503 and closed because the listener held its cap, by listener.")
    nonisolated(unsafe) static let connectionsTimedOut = name("connections_timed_out", "total",
                                                              "Connections closed by a clock, by listener and kind: header (the request head did not arrive within header_timeout), body (the request body did not arrive within body_timeout) or idle (no request within idle_timeout).")

    nonisolated(unsafe) static let tlsExpiry = name("tls_certificate_expiry_timestamp", "seconds",
                                                    "When the certificate a TLS listener serves now expires (seconds since 1970), by listener.")
    nonisolated(unsafe) static let tlsReloads = name("tls_reloads", "total", "TLS reloads (SIGHUP) by listener and outcome: ok, or failed (the certificate in force stays).")

    nonisolated(unsafe) static let accessLogDropped = name("access_log_dropped", "total",
                                                           "Access-log lines dropped because the writer fell more than 8 MiB behind (a stalled disk).")
    nonisolated(unsafe) static let spansDropped = name("spans_dropped", "total",
                                                       "Spans not exported: the export queue was full (the collector slow or down) or a batch failed to export.")

    public init() {}

    func tlsReloaded(listener: String, ok: Bool) {
        counter(32, Self.tlsReloads, [("listener", listener), ("outcome", ok ? "ok" : "failed")]).increment()
    }

    /// Each TLS listener's certificate expiry, and its reload counters at zero.
    func renderTLS(_ listeners: [ServerTLS]) {
        for tls in listeners {
            registry.makeGauge(descriptor: Self.tlsExpiry, labels: [("listener", tls.listener)]).set(tls.loaded.notAfter)
            for outcome in ["ok", "failed"] { _ = counter(32, Self.tlsReloads, [("listener", tls.listener), ("outcome", outcome)]) }
        }
    }


    private let reportedDrops = Mutex<(accessLog: Int, spans: Int)>((0, 0))

    /// The access log's and the span exporter's drop counts (kept as plain counts off the request
    /// path), as counters that a scrape always sees.
    func renderDrops(accessLog: Int, spans: Int) {
        reportedDrops.withLock { seen in
            let log = registry.makeCounter(descriptor: Self.accessLogDropped)
            if accessLog > seen.accessLog { log.increment(by: Int64(accessLog - seen.accessLog)) }
            let span = registry.makeCounter(descriptor: Self.spansDropped)
            if spans > seen.spans { span.increment(by: Int64(spans - seen.spans)) }
            seen = (max(seen.accessLog, accessLog), max(seen.spans, spans))
        }
    }

    public func connectionRefused(listener: String) {
        counter(30, Self.connectionsRefused, [("listener", listener)]).increment()
    }

    public func connectionTimedOut(listener: String, kind: String) {
        counter(31, Self.connectionsTimedOut, [("listener", listener), ("kind", kind)]).increment()
    }

    /// The listeners' gauges, and their counters at zero so a scrape always sees them.
    func renderListeners(_ listeners: [ListenerLimits]) {
        for listener in listeners {
            let labels = [("listener", listener.listener)]
            registry.makeGauge(descriptor: Self.connectionsOpen, labels: labels).set(Double(listener.openConnections))
            registry.makeGauge(descriptor: Self.maxConnections, labels: labels).set(Double(listener.maxConnections))
            _ = counter(30, Self.connectionsRefused, labels)
            for kind in ["header", "body", "idle"] { _ = counter(31, Self.connectionsTimedOut, [("listener", listener.listener), ("kind", kind)]) }
        }
    }

    /// Handles by metric and label values: the registry validates names on every lookup, which is
    /// too slow for the request path.
    private struct Key: Hashable {
        var metric: Int
        var a: String
        var b: String
        var c: String
        var d: String
        var e = ""
    }

    private let counters = Mutex<[Key: Counter]>([:])
    private let histograms = Mutex<[Key: ValueHistogram]>([:])

    private func counter(_ metric: Int, _ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) -> Counter {
        let key = Key(metric: metric, a: labels[0].1, b: labels.count > 1 ? labels[1].1 : "", c: labels.count > 2 ? labels[2].1 : "",
                      d: labels.count > 3 ? labels[3].1 : "", e: labels.count > 4 ? labels[4].1 : "")
        if let found = counters.withLock({ $0[key] }) { return found }
        let made = registry.makeCounter(descriptor: descriptor, labels: labels)
        counters.withLock { $0[key] = made }
        return made
    }

    private func histogram(_ metric: Int, _ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) -> ValueHistogram {
        let key = Key(metric: metric, a: labels[0].1, b: labels[1].1, c: "", d: "")
        if let found = histograms.withLock({ $0[key] }) { return found }
        let made = registry.makeValueHistogram(descriptor: descriptor, labels: labels, buckets: Self.latencyBuckets)
        histograms.withLock { $0[key] = made }
        return made
    }

    /// One upstream attempt: counted by outcome, its latency in the provider's histogram (the
    /// provider's own latency, which a client request's retries elsewhere do not blur).
    public func attempt(provider: String, route: String, outcome: String, fault: Fault, latency: Double, drill: Bool = false) {
        counter(0, Self.attempts, [("provider", provider), ("route", route), ("outcome", outcome), ("fault", Self.faultLabel(fault, drill: drill))]).increment()
        histogram(8, Self.attemptDuration, [("provider", provider), ("route", route)]).record(latency)
    }

    /// The `fault` label: a provider's fault injected for a drill is `drill`, so dashboards and
    /// alerts can tell it from a real one.
    static func faultLabel(_ fault: Fault, drill: Bool) -> String { drill && fault == .provider ? "drill" : fault.rawValue }

    public func request(route: String, provider: String, outcome: String, fault: Fault, latency: Double, ttft: Double?,
                        tokensIn: Int, tokensOut: Int, cost: Double, endpoint: String = "chat", drill: Bool = false) {
        counter(1, Self.requests, [("route", route), ("provider", provider), ("outcome", outcome), ("fault", Self.faultLabel(fault, drill: drill)),
                                   ("endpoint", endpoint)])
            .increment()
        histogram(2, Self.duration, [("route", route), ("provider", provider)]).record(latency)
        if let ttft {
            histogram(3, Self.ttft, [("route", route), ("provider", provider)]).record(ttft)
        }
        if provider != "none" {
            counter(4, Self.tokens, [("provider", provider), ("route", route), ("direction", "input")]).increment(by: Int64(tokensIn))
            counter(4, Self.tokens, [("provider", provider), ("route", route), ("direction", "output")]).increment(by: Int64(tokensOut))
            counter(5, Self.cost, [("provider", provider), ("route", route)]).increment(by: cost)
        }
    }

    /// A client's request: how it ended (its name is a configured one, or `none`).
    public func client(_ name: String, outcome: String, tokens: Int = 0, cost: Double = 0) {
        counter(20, Self.clientRequests, [("client", name), ("outcome", outcome)]).increment()
        if tokens > 0 { counter(21, Self.clientTokens, [("client", name)]).increment(by: Int64(tokens)) }
        if cost > 0 { counter(22, Self.clientSpend, [("client", name)]).increment(by: cost) }
    }

    public func retry(route: String) {
        counter(6, Self.retries, [("route", route)]).increment()
    }

    public func retryBudgetExhausted(route: String) {
        counter(7, Self.budgetExhausted, [("route", route)]).increment()
    }

    /// Refresh the gauges from the node's state, then render the text format.
    /// `budgets`: each route's budget in force, as the snapshot gives it (nil: none).
    public func render(state: GatewayState, snapshot: GatewayState.Snapshot, ready: Bool, now: Double, budgets: [BudgetStatus?] = []) -> [UInt8] {
        registry.makeGauge(descriptor: Self.inFlight).set(Double(snapshot.inFlight))
        registry.makeGauge(descriptor: Self.ready).set(ready ? 1.0 : 0.0)
        registry.makeGauge(descriptor: Self.maxInFlight).set(Double(state.limits.maxInFlight))
        registry.makeGauge(descriptor: Self.providerMaxInFlight).set(Double(state.limits.maxInFlightPerProvider))
        let wallNow = state.wallClock()
        for p in snapshot.providers {
            let labels = [("provider", p.id)]
            let fault = snapshot.operatorState.fault(provider: p.id, now: wallNow)
            for kind in FaultKind.allCases {
                registry.makeGauge(descriptor: Self.faultActive, labels: [("provider", p.id), ("kind", kind.rawValue)]).set(fault?.kind == kind ? 1.0 : 0.0)
            }
            registry.makeGauge(descriptor: Self.providerInFlight, labels: labels).set(Double(p.inFlight))
            let circuit: Double = switch p.breaker.state { case .closed: 0; case .probing: 1; case .open: 2 }
            registry.makeGauge(descriptor: Self.circuit, labels: labels).set(circuit)
            registry.makeGauge(descriptor: Self.up, labels: labels).set(p.health.healthy && p.breaker.state == .closed ? 1.0 : 0.0)
            registry.makeGauge(descriptor: Self.slowStart, labels: labels).set(p.slowStartFactor)
            for (kind, measure) in [("ttft", p.routing.ttft), ("per_token", p.routing.perToken)] {
                let gauge = [("provider", p.id), ("kind", kind)]
                if let value = measure.current(now: now) {
                    registry.makeGauge(descriptor: Self.routingLatency, labels: gauge).set(value)
                } else {
                    registry.unregisterGauge(registry.makeGauge(descriptor: Self.routingLatency, labels: gauge))
                }
            }
        }
        for (index, client) in (state.config.clients ?? []).enumerated() where snapshot.clients.indices.contains(index) {
            registry.makeGauge(descriptor: Self.clientInFlight, labels: [("client", client.name)]).set(Double(snapshot.clients[index].inFlight))
        }
        for (routeIndex, route) in state.routes.enumerated() {
            registry.makeGauge(descriptor: Self.panic, labels: [("route", route.alias)]).set(snapshot.routes[routeIndex].panic ? 1.0 : 0.0)
            let budget = budgets.indices.contains(routeIndex) ? budgets[routeIndex] : nil
            let routeLabel = [("route", route.alias)]
            if let budget {
                registry.makeGauge(descriptor: Self.budget, labels: routeLabel).set(budget.perHour)
                registry.makeGauge(descriptor: Self.budgetCost, labels: routeLabel).set(budget.costPerHour)
            } else {
                registry.unregisterGauge(registry.makeGauge(descriptor: Self.budget, labels: routeLabel))
                registry.unregisterGauge(registry.makeGauge(descriptor: Self.budgetCost, labels: routeLabel))
            }
            for action in BudgetAction.allCases {
                registry.makeGauge(descriptor: Self.overBudget, labels: [("route", route.alias), ("action", action.rawValue)])
                    .set(budget?.guardInForce?.action == action ? 1.0 : 0.0)
            }
            let status = snapshot.routes[routeIndex]
            for strategy in RoutingStrategy.allCases {
                registry.makeGauge(descriptor: Self.strategy, labels: [("route", route.alias), ("strategy", strategy.rawValue)])
                    .set(strategy == status.strategy ? 1.0 : 0.0)
            }
            for candidate in status.lastDecision?.candidates ?? [] {
                guard let score = candidate.score, score.isFinite else { continue }
                registry.makeGauge(descriptor: Self.routingScore, labels: [("route", route.alias), ("provider", candidate.provider)]).set(score)
            }
            for (tierIndex, tier) in route.tiers.enumerated() {
                for target in tier {
                    let labels = [("route", route.alias), ("tier", String(tierIndex)), ("provider", state.config.providers[target.provider].id)]
                    registry.makeGauge(descriptor: Self.weight, labels: labels).set(Double(target.weight))
                }
                // In effect: operator weights, drains and failovers applied, and 0 while the provider is out.
                for target in snapshot.effectiveRoutes[routeIndex].tiers[tierIndex] {
                    let p = snapshot.providers[target.provider]
                    let labels = [("route", route.alias), ("tier", String(tierIndex)), ("provider", p.id)]
                    let available = GatewayState.isAvailable(health: p.health, breaker: p.breaker, healthChecks: state.config.healthCheck.enabled, now: now)
                    registry.makeGauge(descriptor: Self.effective, labels: labels).set(available ? Double(target.weight) : 0)
                }
            }
        }
        return registry.emitToBuffer()
    }
}
