import ClawAdminAPI
import ClawShared
import Foundation

extension Gateway {
    /// A monotonic time as wall-clock seconds since 1970.
    func wall(_ monotonic: Double) -> Double { startedAtWall + (monotonic - startedAt) }

    static func rounded(_ value: Double?, _ places: Double = 1_000_000) -> Double? { value.map { ($0 * places).rounded() / places } }

    static func window(_ w: WindowSummary) -> Window {
        Window(windowSeconds: w.window, requests: w.requests, errors: w.errors, clientErrors: w.clientErrors,
               requestsPerSecond: (w.requestsPerSecond * 1000).rounded() / 1000, errorRatio: (w.errorRatio * 10000).rounded() / 10000,
               latencyP50Seconds: rounded(w.p50), latencyP95Seconds: rounded(w.p95), latencyP99Seconds: rounded(w.p99),
               ttftP50Seconds: rounded(w.ttftP50), ttftP95Seconds: rounded(w.ttftP95), tokensIn: w.tokensIn, tokensOut: w.tokensOut,
               costDollars: w.cost, costPerHourDollars: w.costPerHour)
    }

    /// Everything the console needs about this node in one answer.
    public func snapshot() -> Snapshot {
        let now = clock()
        let snap = state.snapshot(now: now)
        let op = snap.operatorState
        let nodeState = state.nodeState()
        var providers: [Provider] = []
        for (index, p) in snap.providers.enumerated() {
            let config = self.config.providers[index]
            var weights: [ProviderWeight] = []
            for (routeIndex, route) in self.config.routes.enumerated() {
                for (tierIndex, tier) in route.tiers.enumerated() {
                    let effective = snap.effectiveRoutes[routeIndex].tiers[tierIndex].first { $0.provider == index }?.weight ?? 0
                    if let t = tier.first(where: { $0.provider == p.id }) {
                        weights.append(ProviderWeight(route: route.alias, tier: tierIndex, configuredWeight: t.weight,
                                                      overrideWeight: op.weights[route.alias]?[p.id], effectiveWeight: effective))
                    } else if effective > 0 {
                        // A failover target taking over another provider's share in this tier.
                        weights.append(ProviderWeight(route: route.alias, tier: tierIndex, configuredWeight: 0, effectiveWeight: effective))
                    }
                }
            }
            let b = p.breaker
            let circuitState: CircuitState = switch b.state { case .closed: .closed; case .open: .open; case .probing: .probing }
            providers.append(Provider(
                id: p.id, region: config.region, state: p.state, inFlight: p.inFlight, maxInFlight: state.limits.maxInFlightPerProvider,
                drained: op.drainedProviders.contains(p.id), failedOver: op.failedOver(provider: p.id) != nil,
                circuit: Circuit(state: circuitState, since: wall(b.since), openUntil: b.openUntil.map(wall), reason: b.openReason,
                                 consecutiveFailures: b.consecutiveFailures, ejections: b.ejections,
                                 recentFailures: b.recentFailures.map { .init(time: wall($0.time), reason: $0.reason) }),
                health: Health(healthy: p.health.healthy, consecutiveFailures: p.health.consecutiveFailures, lastError: p.health.lastError,
                               lastProbe: p.health.lastProbe.map(wall)),
                price: Price(inputPer1M: config.price.inputPer1M, outputPer1M: config.price.outputPer1M),
                costTodayDollars: p.costToday, weights: weights,
                stats: Stats(oneMinute: Self.window(p.window1m), fiveMinutes: Self.window(p.window5m)),
                routing: Self.routing(p, now: now), kind: config.kind.rawValue, fault: op.fault(provider: p.id, now: state.wallClock()),
                attemptsTotal: p.attemptsTotal
            ))
        }
        let served = state.servedLastMinute(now: now)
        let byEndpoint = state.endpointRequestsLastMinute(now: now)
        let totals = state.totals()
        let routes: [Route] = self.config.routes.enumerated().map { routeIndex, route in
            let total = served[routeIndex].reduce(0, +)
            func share(_ provider: Int) -> (Int, Double?) {
                let count = served[routeIndex][provider]
                return (count, total > 0 ? (Double(count) / Double(total) * 10000).rounded() / 10000 : nil)
            }
            let chosen = snap.routes[routeIndex].chosen1m
            let choices = chosen.reduce(0, +)
            func wanted(_ provider: Int) -> Double? { choices > 0 ? (Double(chosen[provider]) / Double(choices) * 10000).rounded() / 10000 : nil }
            let tiers: [[Route.Target]] = route.tiers.enumerated().map { tierIndex, tier in
                let effective = snap.effectiveRoutes[routeIndex].tiers[tierIndex]
                var entries: [Route.Target] = tier.map { t in
                    let index = state.providerIndex[t.provider]!
                    let (count, fraction) = share(index)
                    return Route.Target(provider: t.provider, model: t.model, configuredWeight: t.weight,
                                        effectiveWeight: effective.first { $0.provider == index }?.weight ?? 0,
                                        served1m: count, actualShare: fraction, wantedShare: wanted(index))
                }
                for extra in effective where !tier.contains(where: { state.providerIndex[$0.provider] == extra.provider }) {
                    let (count, fraction) = share(extra.provider)
                    entries.append(Route.Target(provider: self.config.providers[extra.provider].id, model: extra.model, configuredWeight: 0,
                                                effectiveWeight: extra.weight, served1m: count, actualShare: fraction, wantedShare: wanted(extra.provider)))
                }
                return entries
            }
            var route = Route(alias: route.alias, panic: snap.routes[routeIndex].panic, tiers: tiers,
                              stats: Stats(oneMinute: Self.window(snap.routes[routeIndex].window1m), fiveMinutes: Self.window(snap.routes[routeIndex].window5m)),
                              strategy: snap.routes[routeIndex].strategy.rawValue, decision: snap.routes[routeIndex].lastDecision.map(\.wire))
            route.requestsByEndpoint1m = Dictionary(uniqueKeysWithValues: zip(GatewayState.endpoints, byEndpoint[routeIndex]))
            route.budget = budgetStatus(routeIndex, op)
            route.requestsTotal = totals.requests[routeIndex]
            route.errorsTotal = totals.errors[routeIndex]
            return route
        }
        let node = Node(
            id: self.config.nodeID, version: Gateway.version, state: nodeState, ready: nodeState == .serving, revision: op.revision,
            inFlight: snap.inFlight, maxInFlight: state.limits.maxInFlight, refusedMaxInFlight: snap.refusedMaxInFlight,
            refusedMaxInFlightPerProvider: snap.refusedProviderFull, startedAt: startedAtWall,
            uptimeSeconds: ((now - startedAt) * 1000).rounded() / 1000, persistent: store.directory != nil, store: storeStatus)
        let clients: [ClientStatus] = (clientAuth.clients ?? []).enumerated().map { i, c in
            let use = snap.clients[i]
            return ClientStatus(name: c.name, routes: c.routes.map { $0.sorted() }, blocked: op.blockedClients.contains(c.name),
                                limits: c.limits.merged(op.clientLimits[c.name]).wire,
                                inFlight: use.inFlight, requests1m: use.requests1m, tokens1m: use.tokens1m,
                                spendPerHourDollars: (use.spendPerHour * 1_000_000).rounded() / 1_000_000,
                                spendTodayDollars: (use.spendToday * 1_000_000).rounded() / 1_000_000, served: use.served, errors: use.errors, refused: use.refused)
        }
        return Snapshot(node: node, providers: providers, routes: routes, failovers: op.failovers,
                        clientAuth: clientAuth.clients == nil ? "off" : "on", clients: clients)
    }
}

extension Gateway {
    /// A provider's routing inputs as the snapshot shows them.
    static func routing(_ p: GatewayState.ProviderStatus, now: Double) -> ClawAdminAPI.ProviderRouting {
        func measure(_ e: PeakEWMA) -> Measure {
            Measure(seconds: rounded(e.current(now: now)), samples: e.samples,
                    ageSeconds: e.samples > 0 ? rounded(now - e.stamp, 1000) : nil)
        }
        return .init(ttft: measure(p.routing.ttft), perToken: measure(p.routing.perToken),
                     completionTokens: p.routing.completionTokens.map { ($0 * 10).rounded() / 10 },
                     slowStartFactor: (p.slowStartFactor * 1000).rounded() / 1000, won: p.routing.won, lost: p.routing.lost)
    }
}

extension GatewayState.Explained {
    /// The admin API's form (also the `x-clawgate-decision` header).
    var wire: Decision {
        Decision(strategy: strategy.rawValue, tier: tier, winner: winner, reason: reason, time: time, candidates: candidates.map {
            .init(provider: $0.provider, weight: ($0.weight * 1000).rounded() / 1000, inFlight: $0.inFlight,
                  latencySeconds: Gateway.rounded($0.latency), priceDollars: Gateway.rounded($0.price, 1e9), score: Gateway.rounded($0.score, 1e6),
                  compared: $0.compared)
        })
    }
}
