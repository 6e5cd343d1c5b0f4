@testable import ClawGateKit
import ClawAdminAPI
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Fast failure detection: health probes (never a client request) bring an ejected provider back,
/// and a hanging provider is given up on after a deadline fitted to its own recent answers.
@Suite struct FailureDetectionTests {
    func state(healthChecks: Bool) -> GatewayState {
        var config = GatewayConfig(nodeID: "n", providers: ["a", "b"].map { .init(id: $0, baseURL: "http://127.0.0.1:1") })
        config.routes = [.init(alias: "chat", tiers: [[.init(provider: "a", model: "m", weight: 50), .init(provider: "b", model: "m", weight: 50)]])]
        config.breaker = .init(consecutiveFailures: 3, cooldown: 5, maxCooldown: 60)
        config.healthCheck.enabled = healthChecks
        return GatewayState(config: config, now: 1000, seed: 5)
    }

    func eject(_ s: GatewayState, at now: Double) {
        for _ in 0..<3 {
            guard case .success(let c) = s.choose(route: 0, tried: [1], attempt: 1, now: now), c.provider == 0 else { return }
            s.finishAttempt(provider: 0, outcome: .timeout, latency: 1, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0, now: now)
        }
    }

    func picks(_ s: GatewayState, now: Double, n: Int = 200) -> Int {
        var a = 0
        for _ in 0..<n {
            guard case .success(let c) = s.choose(route: 0, tried: [], attempt: 1, now: now) else { continue }
            if c.provider == 0 { a += 1 }
            s.finishAttempt(provider: c.provider, outcome: .clientClosed, latency: 0, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0, now: now)
        }
        return a
    }

    @Test func withHealthChecksOnlyAProbeBringsAnEjectedProviderBack() {
        let s = state(healthChecks: true)
        eject(s, at: 1000)
        #expect(s.snapshot(now: 1000).providers[0].breaker.state == .open)
        // The cooldown is over: still no client request goes to it.
        #expect(picks(s, now: 1006) == 0)
        // A probe before the cooldown's end changes nothing; one after it closes the circuit.
        s.recordProbe(provider: 0, ok: true, error: nil, now: 1004)
        #expect(s.snapshot(now: 1004).providers[0].breaker.state == .open)
        s.recordProbe(provider: 0, ok: true, error: nil, now: 1006)
        #expect(s.snapshot(now: 1006).providers[0].breaker.state == .closed)
        #expect(picks(s, now: 1006) > 50)
        #expect(s.events(since: 0).events.last?.detail == "health probe succeeded after the cooldown; back in rotation")
    }

    @Test func withoutHealthChecksTheFirstRequestAfterTheCooldownProbes() {
        let s = state(healthChecks: false)
        eject(s, at: 1000)
        #expect(picks(s, now: 1004) == 0)
        #expect(picks(s, now: 1006, n: 1) == 1, "one client request is the probe")
    }

    @Test func theHeadDeadlineFollowsTheProvidersOwnAnswersBetweenFloorAndCeiling() {
        let s = state(healthChecks: false)
        func deadline(_ now: Double) -> Double {
            guard case .success(let c) = s.choose(route: 0, tried: [1], attempt: 1, now: now) else { return -1 }
            s.finishAttempt(provider: 0, outcome: .clientClosed, latency: 0, ttft: nil, tokensIn: 0, tokensOut: 0, cost: 0, now: now)
            return c.firstByte
        }
        func answer(_ ttft: Double, at now: Double) {
            guard case .success = s.choose(route: 0, tried: [1], attempt: 1, now: now) else { return }
            s.finishAttempt(provider: 0, outcome: .ok, latency: ttft, ttft: ttft, tokensIn: 1, tokensOut: 1, cost: 0, now: now)
        }
        #expect(deadline(1000) == 30, "no answers yet: the configured first_byte")
        for _ in 0..<3 { answer(0.02, at: 1000) }
        #expect(deadline(1000) == 1, "5 x 20 ms is under the 1 s floor")
        answer(0.8, at: 1001)
        #expect(abs(deadline(1001) - 4) < 1e-9, "5 x the peak")
        for _ in 0..<10 { answer(10, at: 1002) }
        #expect(deadline(1002) == 30, "never above first_byte")
        #expect(deadline(1002 + 61) == 30, "nothing answered for a minute: first_byte again")
    }

    @Test func aHangingProviderIsGivenUpOnAfterItsOwnDeadlineNotTheConfiguredOne() async throws {
        let providers = [TestFleet.provider("a", ["latency_ms": 5, "latency_p99_ms": 6]), TestFleet.provider("b", ["latency_ms": 5, "latency_p99_ms": 6])]
        try await TestFleet.withFleet(providers, routes: ["chat": [[("a", 50), ("b", 50)]]], firstByteTimeout: 10, configure: {
            for i in $0.providers.indices { $0.providers[i].timeouts.firstByteFloor = 0.3 }
        }) { sim, gate, client in
            for _ in 0..<20 { #expect(try await client.chat(gate.url, model: "chat").status == 200) }
            _ = try sim.provider("a")!.update(["hang_rate": 1])
            var slowest = 0.0
            for _ in 0..<12 {
                let start = Date()
                let r = try await client.chat(gate.url, model: "chat")
                slowest = max(slowest, Date().timeIntervalSince(start))
                #expect(r.status == 200 && r.header("x-clawgate-provider") == "b")
            }
            #expect(slowest < 1.5, "a hanging attempt waited \(slowest) s, not the 0.3 s its answers set")
            let a = gate.gateway.snapshot().providers.first { $0.id == "a" }!
            #expect(a.circuit.state == .open && a.circuit.reason?.contains("timeout") == true, "\(a.circuit)")
        }
    }

    @Test func aChatProbeSeesAProviderWhoseChatHangsWhileItsModelListAnswers() async throws {
        let providers = [TestFleet.provider("a", ["hang_rate": 1]), TestFleet.provider("b")]
        for kind in [GatewayConfig.HealthCheck.Kind.models, .chat] {
            var health = GatewayConfig.HealthCheck()
            health.enabled = true
            health.interval = 3600
            health.timeout = 0.3
            health.unhealthyThreshold = 1
            health.kind = kind
            try await TestFleet.withFleet(providers, routes: ["chat": [[("a", 50), ("b", 50)]]], healthCheck: health) { sim, gate, client in
                await gate.gateway.probeProviders()
                let healthy = gate.gateway.snapshot().providers.map(\.health.healthy)
                #expect(healthy == (kind == .chat ? [false, true] : [true, true]), "\(kind): \(healthy)")
                if kind == .chat {
                    let probe = try JSONValue.parse(bytes: try #require(sim.provider("b")?.lastBody()))
                    #expect(probe["model"]?.stringValue == "sim-model" && probe["max_tokens"]?.intValue == 1)
                }
            }
        }
    }

    /// The shipped default probe is the free model list; an ejected provider is let back in only by
    /// a one-token completion (its model list answers while its chat hangs), and a healthy one is
    /// never sent a completion by the checker.
    @Test func anEjectedProviderIsProbedWithAChatAndAHealthyOneWithItsModelList() async throws {
        let providers = [TestFleet.provider("a", ["latency_ms": 5, "latency_p99_ms": 6]), TestFleet.provider("b", ["latency_ms": 5, "latency_p99_ms": 6])]
        var health = GatewayConfig.HealthCheck()
        health.interval = 3600
        health.timeout = 0.3
        #expect(health.kind == .models, "the shipped default")
        try await TestFleet.withFleet(providers, routes: ["chat": [[("a", 50), ("b", 50)]]], healthCheck: health, configure: {
            $0.breaker = .init(consecutiveFailures: 3, cooldown: 0.2, maxCooldown: 1)
            for i in $0.providers.indices { $0.providers[i].timeouts.firstByteFloor = 0.3 }
        }) { sim, gate, client in
            let a = try #require(sim.provider("a")), b = try #require(sim.provider("b"))
            for _ in 0..<10 { #expect(try await client.chat(gate.url, model: "chat").status == 200) }
            _ = try a.update(["hang_rate": 1])
            func circuit() -> CircuitState { gate.gateway.snapshot().providers[0].circuit.state }
            for _ in 0..<20 where circuit() != .open { #expect(try await client.chat(gate.url, model: "chat").status == 200) }
            #expect(circuit() == .open)
            try await Task.sleep(for: .milliseconds(300))
            a.resetCounters()
            b.resetCounters()
            await gate.gateway.probeProviders()
            #expect(circuit() == .open, "its model list answers, but a chat probe hangs: it stays out")
            #expect(a.counters.requests == 1, "the ejected provider got one chat probe")
            #expect(b.counters.requests == 0, "no completion is spent on the healthy provider")
            _ = try a.update(["hang_rate": 0])
            await gate.gateway.probeProviders()
            #expect(circuit() == .closed, "a chat probe that passes lets it back in")
            #expect(b.counters.requests == 0)
        }
    }
}
