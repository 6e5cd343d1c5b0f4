import ClawShared
import Foundation

extension Gateway {
    /// A monotonic time as wall-clock seconds since 1970.
    func wall(_ monotonic: Double) -> Double { startedAtWall + (monotonic - startedAt) }

    static func seconds(_ value: Double?) -> JSONValue { value.map { .number(($0 * 1_000_000).rounded() / 1_000_000) } ?? .null }

    static func window(_ w: WindowSummary) -> JSONValue {
        [
            "window_seconds": .number(w.window), "requests": JSONValue(w.requests), "errors": JSONValue(w.errors),
            "client_errors": JSONValue(w.clientErrors),
            "requests_per_second": .number((w.requestsPerSecond * 1000).rounded() / 1000),
            "error_rate": .number((w.errorRate * 10000).rounded() / 10000),
            "latency_p50_seconds": seconds(w.p50), "latency_p95_seconds": seconds(w.p95), "latency_p99_seconds": seconds(w.p99),
            "ttft_p50_seconds": seconds(w.ttftP50), "ttft_p95_seconds": seconds(w.ttftP95),
            "tokens_in": JSONValue(w.tokensIn), "tokens_out": JSONValue(w.tokensOut),
            "cost_dollars": .number(w.cost), "cost_per_hour_dollars": .number(w.costPerHour),
        ]
    }

    /// Everything the console needs about this node in one answer.
    public func snapshotJSON() -> JSONValue {
        let now = clock()
        let snap = state.snapshot(now: now)
        let op = snap.operatorState
        let nodeState = state.nodeState()
        var providers: [JSONValue] = []
        for (index, p) in snap.providers.enumerated() {
            let config = self.config.providers[index]
            var weights: [JSONValue] = []
            for (routeIndex, route) in self.config.routes.enumerated() {
                for (tierIndex, tier) in route.tiers.enumerated() {
                    let effective = snap.effectiveRoutes[routeIndex].tiers[tierIndex].first { $0.provider == index }?.weight ?? 0
                    if let t = tier.first(where: { $0.provider == p.id }) {
                        weights.append(["route": .string(route.alias), "tier": JSONValue(tierIndex), "configured": JSONValue(t.weight),
                                        "override": op.weights[route.alias]?[p.id].map { JSONValue($0) } ?? .null,
                                        "effective": JSONValue(effective)])
                    } else if effective > 0 {
                        // A failover target taking over another provider's share in this tier.
                        weights.append(["route": .string(route.alias), "tier": JSONValue(tierIndex), "configured": 0,
                                        "override": .null, "effective": JSONValue(effective)])
                    }
                }
            }
            let b = p.breaker
            providers.append([
                "id": .string(p.id), "region": .string(config.region), "state": .string(p.state), "in_flight": JSONValue(p.inFlight),
                "max_in_flight": JSONValue(state.limits.maxInFlightPerProvider),
                "drained": .bool(op.drainedProviders.contains(p.id)), "failed_over": .bool(op.failedOver(provider: p.id) != nil),
                "circuit": [
                    "state": .string(b.state.rawValue), "since": .number(wall(b.since)),
                    "open_until": b.openUntil.map { .number(wall($0)) } ?? .null,
                    "reason": b.openReason.map { .string($0) } ?? .null,
                    "consecutive_failures": JSONValue(b.consecutiveFailures), "ejections": JSONValue(b.totalEjections),
                    "recent_failures": .array(b.recentFailures.map { ["time": .number(wall($0.time)), "reason": .string($0.reason)] }),
                ],
                "health": [
                    "healthy": .bool(p.health.healthy), "consecutive_failures": JSONValue(p.health.consecutiveFailures),
                    "last_error": p.health.lastError.map { .string($0) } ?? .null,
                    "last_probe": p.health.lastProbe.map { .number(wall($0)) } ?? .null,
                ],
                "price": ["input_per_1m": .number(config.price.inputPer1M), "output_per_1m": .number(config.price.outputPer1M)],
                "cost_today_dollars": .number(p.costToday),
                "weights": .array(weights),
                "stats": ["1m": Self.window(p.window1m), "5m": Self.window(p.window5m)],
            ])
        }
        let served = state.servedLastMinute(now: now)
        let routes: [JSONValue] = self.config.routes.enumerated().map { routeIndex, route in
            let total = served[routeIndex].reduce(0, +)
            func share(_ provider: Int) -> (JSONValue, JSONValue) {
                let count = served[routeIndex][provider]
                return (JSONValue(count), total > 0 ? .number((Double(count) / Double(total) * 10000).rounded() / 10000) : .null)
            }
            let tiers: [JSONValue] = route.tiers.enumerated().map { tierIndex, tier in
                let effective = snap.effectiveRoutes[routeIndex].tiers[tierIndex]
                var entries: [JSONValue] = tier.map { t in
                    let index = state.providerIndex[t.provider]!
                    let (count, fraction) = share(index)
                    return ["provider": .string(t.provider), "model": .string(t.model), "configured_weight": JSONValue(t.weight),
                            "effective_weight": JSONValue(effective.first { $0.provider == index }?.weight ?? 0),
                            "served_1m": count, "actual_share": fraction]
                }
                for extra in effective where !tier.contains(where: { state.providerIndex[$0.provider] == extra.provider }) {
                    let (count, fraction) = share(extra.provider)
                    entries.append(["provider": .string(self.config.providers[extra.provider].id), "model": .string(extra.model),
                                    "configured_weight": 0, "effective_weight": JSONValue(extra.weight),
                                    "served_1m": count, "actual_share": fraction])
                }
                return .array(entries)
            }
            return [
                "alias": .string(route.alias), "panic": .bool(snap.routes[routeIndex].panic), "tiers": .array(tiers),
                "stats": ["1m": Self.window(snap.routes[routeIndex].window1m), "5m": Self.window(snap.routes[routeIndex].window5m)],
            ]
        }
        return [
            "node": [
                "id": .string(self.config.nodeID), "version": .string(Gateway.version), "state": .string(nodeState),
                "ready": .bool(nodeState == "serving"), "revision": JSONValue(op.revision), "in_flight": JSONValue(snap.inFlight),
                "max_in_flight": JSONValue(state.limits.maxInFlight),
                "refused_max_in_flight": JSONValue(snap.refusedMaxInFlight),
                "refused_max_in_flight_per_provider": JSONValue(snap.refusedProviderFull),
                "started_at": .number(startedAtWall), "uptime_seconds": .number(((now - startedAt) * 1000).rounded() / 1000),
                "persistent": .bool(store.directory != nil),
            ],
            "providers": .array(providers),
            "routes": .array(routes),
            "failovers": .array(op.failovers.map(\.json)),
        ]
    }
}
