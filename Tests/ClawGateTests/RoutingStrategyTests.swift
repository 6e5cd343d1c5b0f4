@testable import ClawGateKit
import ClawShared
import Foundation
import Testing

/// The routing strategies as pure functions: a seeded random source, the inputs given.
@Suite struct RoutingStrategyTests {
    func shares(_ strategy: RoutingStrategy, _ candidates: [RoutingCandidate], picks: Int = 10_000, seed: UInt64 = 7) -> [Double] {
        var random = SeededRandom(seed: seed)
        var counts = candidates.map { _ in 0 }
        for _ in 0..<picks { counts[RoutingChooser.choose(strategy, candidates, random: &random).winner] += 1 }
        return counts.map { Double($0) / Double(picks) }
    }

    @Test func weightedFollowsTheWeights() {
        let s = shares(.weighted, [.init(provider: 0, weight: 70), .init(provider: 1, weight: 30)])
        #expect(abs(s[0] - 0.7) < 0.02)
    }

    @Test func leastOutstandingPrefersTheIdleAndDoesNotHerdOnTies() {
        // Two candidates: both are always compared, the idle one always wins.
        #expect(shares(.leastOutstanding, [.init(provider: 0, weight: 1, inFlight: 10), .init(provider: 1, weight: 1, inFlight: 0)]) == [0, 1])
        // Equal load: no herding onto one provider; each of three gets about a third.
        let even = shares(.leastOutstanding, (0..<3).map { .init(provider: $0, weight: 1, inFlight: 4) })
        #expect(even.allSatisfy { abs($0 - 1.0 / 3) < 0.03 }, "\(even)")
        // In flight per unit of weight: 6 in flight at weight 3 beats 3 at weight 1.
        #expect(shares(.leastOutstanding, [.init(provider: 0, weight: 3, inFlight: 6), .init(provider: 1, weight: 1, inFlight: 3)])[0] == 1)
        // Weight 0 never reaches here: the planner leaves such providers out.
    }

    @Test func latencyPrefersTheFastButSeesLoadAndKeepsExploring() {
        let fast = RoutingCandidate(provider: 0, weight: 1, latency: 0.02)
        let slow = RoutingCandidate(provider: 1, weight: 1, latency: 0.2)
        let s = shares(.latency, [fast, slow])
        #expect(s[0] > 0.97 && s[1] > 0.002, "the slow one still gets the exploration share: \(s)")
        // Load counts: 20 in flight at 20 ms (0.42) loses to an idle 200 ms (0.2).
        var busy = fast
        busy.inFlight = 20
        #expect(shares(.latency, [busy, slow])[1] > 0.97)
        let d = { var r = SeededRandom(seed: 1); return RoutingChooser.choose(.latency, [fast, slow], random: &r) }()
        #expect(d.scores.map { $0.map { ($0 * 1000).rounded() / 1000 } } == [0.02, 0.2] && d.reason.contains("latency"))
    }

    @Test func peakEWMAJumpsToPeaksComesDownSlowlyAndIsForgottenWhenNotMeasured() {
        var e = PeakEWMA()
        #expect(e.current(now: 0) == nil, "unmeasured: the caller uses the tier's median, not zero")
        e.observe(0.1, now: 0)
        e.observe(1.0, now: 0.1)
        #expect(e.value == 1.0, "a peak is taken at once")
        e.observe(0.1, now: 3.1)
        let expected = 1.0 * exp(-0.3) + 0.1 * (1 - exp(-0.3))
        #expect(abs(e.value - expected) < 1e-9, "a lower sample pulls it down by the time since the last")
        #expect(e.current(now: 3.1 + RoutingConstants.resetAfter) == e.value)
        // No sample for a while: forgotten, so it gets measured again.
        #expect(e.current(now: 3.2 + RoutingConstants.resetAfter) == nil)
    }

    @Test func costTakesTheCheapestBandWhileItIsFastEnoughAndNeverAssumesNoPriceIsCheap() {
        let cheap = RoutingCandidate(provider: 0, weight: 1, latency: 0.03, price: 0.001)
        let dear = RoutingCandidate(provider: 1, weight: 1, latency: 0.02, price: 0.010)
        let unpriced = RoutingCandidate(provider: 2, weight: 1, latency: 0.01, price: nil)
        // All but the exploration share (which keeps the dear one measured; never the unpriced one).
        let s = shares(.cost, [cheap, dear, unpriced])
        #expect(s[0] > 0.98 && s[1] > 0.002 && s[2] == 0, "\(s)")
        // The cheap one slows down past 2 × the best + 50 ms: the dear one takes over.
        var slowCheap = cheap
        slowCheap.latency = 0.2
        let slow = shares(.cost, [slowCheap, dear, unpriced])
        #expect(slow[1] > 0.98 && slow[2] == 0, "\(slow)")
        // Two within 25 % of the cheapest share by least outstanding.
        let alsoCheap = RoutingCandidate(provider: 3, weight: 1, latency: 0.03, price: 0.0012)
        let both = shares(.cost, [cheap, dear, alsoCheap])
        #expect(both[1] < 0.01 && abs(both[0] - 0.5) < 0.03, "\(both)")
        // Nobody has a price: least outstanding among all, and the reason says so.
        var r = SeededRandom(seed: 3)
        #expect(RoutingChooser.choose(.cost, [unpriced, unpriced], random: &r).reason.hasPrefix("no candidate has a price"))
    }

    @Test func slowStartRampsFromTheFloorToTheFullWeight() {
        #expect(RoutingChooser.slowStartFactor(elapsed: nil, window: 30) == 1)
        #expect(RoutingChooser.slowStartFactor(elapsed: 0, window: 30) == 0.1)
        #expect(RoutingChooser.slowStartFactor(elapsed: 15, window: 30) == 0.5)
        #expect(RoutingChooser.slowStartFactor(elapsed: 30, window: 30) == 1)
        #expect(RoutingChooser.slowStartFactor(elapsed: 5, window: 0) == 1, "window 0: off")
        #expect(RoutingChooser.median([nil, 0.3, 0.1, nil]) == 0.2 && RoutingChooser.median([nil]) == nil)
    }
}

/// Strategies inside the node's state: tiers, drains and the breaker still decide who is a
/// candidate; slow start ramps a provider that comes back.
@Suite struct RoutingStateTests {
    func state(_ strategy: RoutingStrategy, slowStart: Double = 0) -> GatewayState {
        var config = GatewayConfig(nodeID: "n", providers: ["a", "b", "c"].map { .init(id: $0, baseURL: "http://127.0.0.1:1") })
        config.routes = [.init(alias: "chat", tiers: [[.init(provider: "a", model: "m", weight: 50), .init(provider: "b", model: "m", weight: 50)],
                                                      [.init(provider: "c", model: "m", weight: 100)]], strategy: strategy)]
        config.slowStart = slowStart
        return GatewayState(config: config, now: 1000, seed: 11)
    }

    /// Share of `n` picks per provider at `now`, each attempt finished at once.
    func shares(_ s: GatewayState, now: Double, n: Int = 2000) -> [Double] {
        var counts = [0, 0, 0]
        for _ in 0..<n {
            guard case .success(let choice) = s.choose(route: 0, tried: [], attempt: 1, now: now) else { continue }
            counts[choice.provider] += 1
            s.finishAttempt(provider: choice.provider, outcome: .ok, latency: 0.01, ttft: nil, tokensIn: 1, tokensOut: 1, cost: 0, now: now)
        }
        return counts.map { Double($0) / Double(n) }
    }

    @Test func aProviderBackFromADrainRampsUpOverTheSlowStartWindow() {
        let s = state(.weighted, slowStart: 10)
        var drained = OperatorState()
        drained.drainedProviders = ["a"]
        s.apply(drained, now: 1000)
        #expect(shares(s, now: 1000)[0] == 0)
        s.apply(OperatorState(), now: 1000)
        let start = shares(s, now: 1000)
        #expect(abs(start[0] - 0.1 / 1.1) < 0.03, "10 % of its weight at first: \(start)")
        let half = shares(s, now: 1005)
        #expect(abs(half[0] - 0.5 / 1.5) < 0.03, "\(half)")
        #expect(abs(shares(s, now: 1010)[0] - 0.5) < 0.03, "full weight after the window")
        #expect(s.snapshot(now: 1005).providers[0].slowStartFactor == 0.5)
    }

    @Test func aStrategyChoosesOnlyWithinTheTierAndTheBreakerStillDecides() {
        let s = state(.leastOutstanding)
        // Tier 0 serves while it has a candidate; tier 1 (c) gets nothing.
        #expect(shares(s, now: 1000)[2] == 0)
        // a's circuit opens: b alone in tier 0.
        for _ in 0..<5 {
            guard case .success = s.choose(route: 0, tried: [1], attempt: 1, now: 1000) else { continue }
            s.finishAttempt(provider: 0, outcome: .status(500), latency: 0.01, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0, now: 1000)
        }
        let after = shares(s, now: 1000.5)
        #expect(after[0] == 0 && after[1] == 1, "\(after)")
        // Weight 0 means no traffic, whatever the strategy.
        var zero = OperatorState()
        zero.weights = ["chat": ["b": 0]]
        s.apply(zero, now: 1001)
        #expect(shares(s, now: 1001)[1] == 0)
    }

    /// One attempt on `provider` (the other of tier 0 counts as tried) ending with `outcome`.
    func sample(_ s: GatewayState, _ provider: Int, _ outcome: AttemptOutcome, latency: Double, now: Double) {
        guard case .success(let c) = s.choose(route: 0, tried: [1 - provider], attempt: 1, now: now), c.provider == provider else {
            Issue.record("provider \(provider) was not chosen")
            return
        }
        s.finishAttempt(provider: provider, outcome: outcome, latency: latency, ttft: nil, tokensIn: 1, tokensOut: 1, cost: 0, now: now)
    }

    @Test func latencyLearnsFromAnswersAndCountsFailuresAsSlow() {
        let s = state(.latency)
        // a answers fast, b slowly: a wins nearly everything.
        for _ in 0..<20 {
            sample(s, 0, .ok, latency: 0.02, now: 1000)
            sample(s, 1, .ok, latency: 0.2, now: 1000)
        }
        #expect(shares(s, now: 1000)[0] > 0.95)
        // a fails fast: that counts as a 2 s sample, so it stops attracting traffic.
        sample(s, 0, .status(429), latency: 0.001, now: 1000.1)
        #expect(shares(s, now: 1000.1)[1] > 0.95)
        // Streams are measured by time to first token, apart: no stream measured yet, so equal.
        var counts = [0, 0, 0]
        for _ in 0..<1000 {
            guard case .success(let c) = s.choose(route: 0, tried: [], attempt: 1, now: 1000.2, request: .init(streaming: true)) else { continue }
            counts[c.provider] += 1
            s.finishAttempt(provider: c.provider, outcome: .clientClosed, latency: 0, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0, now: 1000.2, streaming: true)
        }
        #expect(counts[0] > 350 && counts[1] > 350, "\(counts)")
    }

    @Test func anUnmeasuredProviderStartsAtTheTiersMedianNotAtZero() {
        var config = GatewayConfig(nodeID: "n", providers: ["a", "b", "c"].map { .init(id: $0, baseURL: "http://127.0.0.1:1") })
        config.routes = [.init(alias: "chat", tiers: [["a", "b", "c"].map { .init(provider: $0, model: "m", weight: 50) }], strategy: .latency)]
        let s = GatewayState(config: config, now: 1000, seed: 3)
        func answer(_ provider: Int, _ latency: Double) {
            guard case .success(let c) = s.choose(route: 0, tried: Set([0, 1, 2]).subtracting([provider]), attempt: 1, now: 1000), c.provider == provider
            else { Issue.record("not chosen"); return }
            s.finishAttempt(provider: provider, outcome: .ok, latency: latency, ttft: nil, tokensIn: 1, tokensOut: 1, cost: 0, now: 1000)
        }
        answer(0, 0.02)
        answer(1, 0.2)
        guard case .success(let c) = s.choose(route: 0, tried: [], attempt: 1, now: 1000) else { Issue.record("no choice"); return }
        let latency = Dictionary(uniqueKeysWithValues: (c.explained?.candidates ?? []).map { ($0.provider, $0.latency) })
        #expect(latency["c"] == 0.11, "c, never measured, scores at the median of a and b: \(latency)")
        #expect(latency["a"] == 0.02 && latency["b"] == 0.2)
    }
}
