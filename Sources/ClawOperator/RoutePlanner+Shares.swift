/// The shares the router wants each provider to get, worked out rather than sampled: the console's
/// preview predicts with these, so what it shows is what the router does with the same inputs.
extension RoutePlanner {
    /// The tier that takes new requests: the first, in the route's order, with an available provider
    /// of weight above 0 (nil: none is available, and the planner panics).
    public static func servingTier(_ route: ResolvedRoute, available: (Int) -> Bool) -> Int? {
        (route.order ?? Array(route.tiers.indices)).first { index in route.tiers[index].contains { $0.weight > 0 && available($0.provider) } }
    }

    /// The serving tier and each of its available providers' expected share of new requests under
    /// the route's strategy, from each target's inputs (`candidate`; by default its weight alone).
    public static func wantedShares(_ route: ResolvedRoute, available: (Int) -> Bool,
                                    candidate: (ResolvedRoute.Target) -> RoutingCandidate = { RoutingCandidate(provider: $0.provider, weight: Double($0.weight)) })
        -> (tier: Int?, shares: [Int: Double]) {
        guard let tier = servingTier(route, available: available) else { return (nil, [:]) }
        let serving = route.tiers[tier].filter { $0.weight > 0 && available($0.provider) }
        let candidates = serving.map(candidate)
        var out: [Int: Double] = [:]
        for (c, share) in zip(candidates, RoutingChooser.expectedShares(route.strategy, candidates)) { out[c.provider, default: 0] += share }
        return (tier, out)
    }
}

extension RoutingChooser {
    /// Each candidate's expected share of `choose`'s picks with these inputs held still: by weight
    /// for `weighted`, and for `least_outstanding` and `cost`'s band (equal load per unit of weight
    /// is where picks by fewest in flight settle); the exact odds of power of two choices on the
    /// latency score for `latency`; and the exploration share by weight, as `choose` makes it.
    public static func expectedShares(_ strategy: RoutingStrategy, _ candidates: [RoutingCandidate],
                                      latencySlack: Double = RoutingConstants.ttftSlack) -> [Double] {
        func byWeight(_ among: [Int]) -> [Double] {
            let total = among.reduce(0) { $0 + candidates[$1].weight }
            var out = [Double](repeating: 0, count: candidates.count)
            guard total > 0 else { return out }
            for i in among { out[i] += candidates[i].weight / total }
            return out
        }
        let all = Array(candidates.indices)
        guard candidates.count > 1 else { return byWeight(all) }
        let explored = strategy == .cost && all.contains(where: { candidates[$0].price != nil }) ? all.filter { candidates[$0].price != nil } : all
        let exploration = (strategy == .latency || strategy == .cost) && explored.count > 1 ? RoutingConstants.exploration : 0
        var chosen: [Double]
        switch strategy {
        case .weighted, .leastOutstanding:
            return byWeight(all)
        case .latency:
            // The first sampled by weight, the second by weight among the others; the second wins
            // only with a strictly lower score.
            let p = byWeight(all)
            let scores = candidates.map { latencyScore($0) ?? .infinity }
            chosen = [Double](repeating: 0, count: candidates.count)
            for i in all {
                for j in all where j != i {
                    let pair = p[i] * p[j] / (1 - p[i])
                    if scores[j] < scores[i] { chosen[j] += pair } else { chosen[i] += pair }
                }
            }
        case .cost:
            let priced = all.filter { candidates[$0].price != nil }
            guard !priced.isEmpty else { return byWeight(all) }
            let best = priced.compactMap { candidates[$0].latency }.min()
            let fast = priced.filter { i in
                guard let best, let latency = candidates[i].latency else { return true }
                return latency <= best * RoutingConstants.latencyFactor + latencySlack
            }
            let cheapest = fast.map { candidates[$0].price! }.min()!
            chosen = byWeight(fast.filter { candidates[$0].price! <= cheapest * (1 + RoutingConstants.costBand) + 1e-12 })
        }
        let explore = byWeight(explored)
        return all.map { chosen[$0] * (1 - exploration) + explore[$0] * exploration }
    }
}
