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

    public init(alias: String, tiers: [[Target]]) {
        self.alias = alias
        self.tiers = tiers
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

    public static func pick(
        _ route: ResolvedRoute,
        tried: Set<Int>,
        available: (Int) -> Bool,
        badness: (Int) -> Double,
        full: (Int) -> Bool = { _ in false },
        random: inout some RandomNumberGenerator
    ) -> Pick? {
        var anyAvailable = false
        for (tierIndex, tier) in route.tiers.enumerated() {
            var candidates: [ResolvedRoute.Target] = []
            var total = 0
            for target in tier where target.weight > 0 && !full(target.provider) && available(target.provider) {
                anyAvailable = true
                if !tried.contains(target.provider) {
                    candidates.append(target)
                    total += target.weight
                }
            }
            guard total > 0 else { continue }
            var roll = Int.random(in: 0..<total, using: &random)
            for target in candidates {
                roll -= target.weight
                if roll < 0 { return Pick(target: target, tier: tierIndex, panic: false) }
            }
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
}
