/// A route with provider ids resolved to indexes.
public struct ResolvedRoute: Sendable {
    public struct Target: Sendable, Equatable {
        public var provider: Int
        public var model: String
        public var weight: Int

        public init(provider: Int, model: String, weight: Int) {
            self.provider = provider
            self.model = model
            self.weight = weight
        }
    }

    public var alias: String
    public var tiers: [[Target]]
    public var strategy: RoutingStrategy
    /// The order the planner tries the tiers in (nil: as configured); a budget guard that shifts
    /// puts the cheapest first.
    public var order: [Int]?

    public init(alias: String, tiers: [[Target]], strategy: RoutingStrategy = .weighted) {
        self.alias = alias
        self.tiers = tiers
        self.strategy = strategy
    }
}

/// Chooses the provider for one attempt: weighted among the available providers of the first tier
/// that has one not yet tried; when no provider of any tier is available, the least-bad one (panic).
/// A provider that is `full` (at its in-flight limit) is never chosen, not even in panic.
public enum RoutePlanner {
    public struct Pick: Sendable, Equatable {
        public var target: ResolvedRoute.Target
        public var tier: Int
        public var panic: Bool
    }

    /// `choose` picks among the candidates of the first tier that has any (their targets and the
    /// tier's index), and says how.
    public static func pick(
        _ route: ResolvedRoute,
        tried: Set<Int>,
        available: (Int) -> Bool,
        badness: (Int) -> Double,
        full: (Int) -> Bool = { _ in false },
        choose: ([ResolvedRoute.Target], Int) -> RoutingDecision
    ) -> Pick? {
        var anyAvailable = false
        for tierIndex in route.order ?? Array(route.tiers.indices) {
            let tier = route.tiers[tierIndex]
            var candidates: [ResolvedRoute.Target] = []
            for target in tier where target.weight > 0 && !full(target.provider) && available(target.provider) {
                anyAvailable = true
                if !tried.contains(target.provider) { candidates.append(target) }
            }
            guard !candidates.isEmpty else { continue }
            let decision = choose(candidates, tierIndex)
            return Pick(target: candidates[decision.winner], tier: tierIndex, panic: false)
        }
        guard !anyAvailable else { return nil }
        // Panic: every weighted provider of every tier is out. Never go silent; use the least bad.
        var best: (Pick, Double)?
        for (tierIndex, tier) in route.tiers.enumerated() {
            for target in tier where target.weight > 0 && !tried.contains(target.provider) && !full(target.provider) {
                let score = badness(target.provider)
                if best == nil || score < best!.1 {
                    best = (Pick(target: target, tier: tierIndex, panic: true), score)
                }
            }
        }
        return best?.0
    }

    /// The weighted pick alone (tests, and routes that need no explanation).
    public static func pick(
        _ route: ResolvedRoute, tried: Set<Int>, available: (Int) -> Bool, badness: (Int) -> Double, full: (Int) -> Bool = { _ in false },
        random: inout some RandomNumberGenerator
    ) -> Pick? {
        pick(route, tried: tried, available: available, badness: badness, full: full) { targets, _ in
            RoutingChooser.choose(.weighted, targets.map { RoutingCandidate(provider: $0.provider, weight: Double($0.weight)) }, random: &random)
        }
    }
}
