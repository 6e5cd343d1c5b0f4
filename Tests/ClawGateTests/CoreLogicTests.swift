import ClawGateKit
import ClawShared
import Testing

@Suite struct CircuitBreakerTests {
    let settings = GatewayConfig.Breaker(consecutiveFailures: 3, cooldown: 1, maxCooldown: 3)

    @Test func opensAfterConsecutiveFailuresAndRecoversThroughOneProbe() {
        var breaker = CircuitBreaker(settings: settings, now: 0)
        #expect(breaker.recordFailure(reason: "timeout", now: 1) == nil)
        #expect(breaker.recordSuccess(now: 1.5) == nil)  // success resets the count
        #expect(breaker.recordFailure(reason: "timeout", now: 2) == nil)
        #expect(breaker.recordFailure(reason: "status_503", now: 2.1) == nil)
        guard case .opened(let cooldown, let reason) = breaker.recordFailure(reason: "status_503", now: 2.2) else {
            Issue.record("third failure did not open the circuit")
            return
        }
        #expect(cooldown == 1)
        #expect(reason.contains("3 consecutive failures"))
        #expect(breaker.state == .open)
        #expect(breaker.openUntil == 3.2)
        #expect(!breaker.isAvailable(now: 3.0))
        #expect(breaker.acquire(now: 3.0).allowed == false)
        let probe = breaker.acquire(now: 3.3)
        #expect(probe.allowed && probe.transition == .probing)
        #expect(breaker.acquire(now: 3.3).allowed == false)  // only one probe
        #expect(breaker.recordSuccess(now: 3.4) == .closed)
        #expect(breaker.state == .closed)
    }

    @Test func cooldownGrowsWithRepeatedEjectionsUpToTheCap() {
        var breaker = CircuitBreaker(settings: settings, now: 0)
        var now = 0.0
        var cooldowns: [Double] = []
        for _ in 0..<4 {
            for _ in 0..<3 { now += 0.01; if case .opened(let c, _) = breaker.recordFailure(reason: "x", now: now) { cooldowns.append(c) } }
            if cooldowns.count < 4 {
                now = breaker.openUntil! + 0.01
                _ = breaker.acquire(now: now)  // the probing request
                if case .opened(let c, _) = breaker.recordFailure(reason: "x", now: now) { cooldowns.append(c) }
                now = breaker.openUntil! + 0.01
                _ = breaker.acquire(now: now)
                _ = breaker.recordSuccess(now: now)
            }
        }
        #expect(cooldowns.prefix(3) == [1, 2, 3])
        #expect(breaker.ejections >= 3)
    }

    @Test func retryBudgetCapsRetriesToAShareOfRequests() {
        var budget = RetryBudget(settings: .init(maxAttempts: 3, budgetRatio: 0.2, minRetriesPerSecond: 0.1, window: 10))
        for i in 0..<100 { budget.recordRequest(now: 100 + Double(i) * 0.05) }
        var granted = 0
        for _ in 0..<100 where budget.tryRetry(now: 105) { granted += 1 }
        #expect(granted == 20)
        // Ten seconds later the window has moved on; only the floor is left.
        var later = 0
        for _ in 0..<10 where budget.tryRetry(now: 130) { later += 1 }
        #expect(later == 1)
    }

    @Test func histogramQuantilesAreWithinTheBucketResolution() {
        var h = LatencyHistogram()
        for i in 1...1000 { h.record(seconds: Double(i) / 1000) }  // 1 ms .. 1 s uniform
        let p50 = h.quantile(0.5)!
        let p99 = h.quantile(0.99)!
        #expect(abs(p50 - 0.5) / 0.5 < 0.12)
        #expect(abs(p99 - 0.99) / 0.99 < 0.12)
        #expect(LatencyHistogram().quantile(0.5) == nil)
    }

    @Test func rollingWindowsForgetOldSeconds() {
        var stats = RollingStats(now: 0)
        for i in 0..<60 { stats.record(now: Double(i), fault: i % 10 != 0 ? .none : .provider, latency: 0.1, ttft: 0.05, tokensIn: 10, tokensOut: 20, cost: 0.01) }
        let oneMinute = stats.summary(window: 60, now: 59.5)
        #expect(oneMinute.requests == 60)
        #expect(oneMinute.errors == 6)
        #expect(abs(oneMinute.requestsPerSecond - 60 / 59.5) < 0.01)
        #expect(oneMinute.tokensOut == 1200)
        #expect(abs(oneMinute.cost - 0.6) < 1e-9)
        let later = stats.summary(window: 60, now: 100)
        #expect(later.requests == 19)  // seconds 41...59
        #expect(stats.summary(window: 300, now: 100).requests == 60)
    }
}

@Suite struct RoutePlannerTests {
    let route = ResolvedRoute(alias: "chat", tiers: [
        [.init(provider: 0, model: "a", weight: 80), .init(provider: 1, model: "b", weight: 20)],
        [.init(provider: 2, model: "c", weight: 100)],
    ])

    @Test func weightsAreRespectedWithinStatisticalBounds() {
        var random = SeededRandom(seed: 1)
        var counts = [0, 0, 0]
        let n = 10_000
        for _ in 0..<n {
            let pick = RoutePlanner.pick(route, tried: [], available: { _ in true }, badness: { _ in 0 }, random: &random)!
            counts[pick.target.provider] += 1
        }
        // Binomial sd at p=0.8 is 40 for n=10000: allow 5 sd.
        #expect(abs(counts[0] - 8000) < 200)
        #expect(counts[2] == 0)
    }

    @Test func nextTierOnlyWhenTheFirstHasNoneLeft() {
        var random = SeededRandom(seed: 2)
        let retry = RoutePlanner.pick(route, tried: [0], available: { _ in true }, badness: { _ in 0 }, random: &random)!
        #expect(retry.target.provider == 1)
        let down = RoutePlanner.pick(route, tried: [], available: { $0 == 2 }, badness: { _ in 0 }, random: &random)!
        #expect(down.target.provider == 2 && down.tier == 1 && !down.panic)
        #expect(RoutePlanner.pick(route, tried: [0, 1, 2], available: { _ in true }, badness: { _ in 0 }, random: &random) == nil)
    }

    @Test func panicPicksTheLeastBadWhenEverythingIsOut() {
        var random = SeededRandom(seed: 3)
        let pick = RoutePlanner.pick(route, tried: [], available: { _ in false }, badness: { [5.0, 1.0, 9.0][$0] }, random: &random)!
        #expect(pick.panic && pick.target.provider == 1)
    }
}
