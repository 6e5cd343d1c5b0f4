import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Drills on a live node: a fault injected through the admin API fails or slows a provider's
/// attempts inside the gateway (nothing is sent for them), the breaker, retries and figures see it
/// as the real failure, and it ends by itself.
@Suite(.serialized) struct FaultInjectionTests {
    let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]

    func inject(_ client: TestClient, _ gate: GatewayServer, _ provider: String, _ body: JSONValue) async throws -> TestResponse {
        try await client.request("POST", gate.adminURL + "/admin/v1/providers/\(provider)/fault", body: body.encoded(), headers: op)
    }

    func events(_ gate: GatewayServer, _ kind: EventKind) -> [Event] { gate.gateway.state.events(since: 0).events.filter { $0.kind == kind } }

    func audit(_ client: TestClient, _ gate: GatewayServer) async throws -> [AuditEntry] {
        try AdminAPI.decode(AuditPage.self, from: try await client.request("GET", gate.adminURL + "/admin/v1/audit", headers: op).body).items
    }

    /// Wait up to `seconds` for `condition`.
    func within(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    /// `name{...}` lines of the metrics text holding every one of `labels`, with their values.
    func samples(_ text: String, _ name: String, _ labels: [String]) -> [Double] {
        text.split(separator: "\n").filter { $0.hasPrefix(name + "{") && labels.allSatisfy($0.contains) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    static let kinds: [(String, JSONValue)] = [
        ("outage", ["kind": "outage", "duration": 3]),
        ("hang", ["kind": "hang", "duration": 3]),
        ("error", ["kind": "error", "status": 503, "duration": "3s"]),
        // Longer than the first-byte deadline: the attempt times out as a slow provider's would.
        ("latency", ["kind": "latency", "extra_ms": 5000, "duration": 3]),
    ]

    @Test(arguments: 0..<4) func eachKindOpensTheBreakerFailsOverAndEndsByItself(_ which: Int) async throws {
        let (name, body) = Self.kinds[which]
        let outcome = ["outage": "connect_error", "hang": "timeout", "error": "status_503", "latency": "timeout"][name]!
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]],
                                      firstByteTimeout: 0.5) { sim, gate, client in
            let set = try await inject(client, gate, "a", (["reason": .string("drill \(name)")] as JSONValue).merging(body))
            #expect(set.status == 200, "\(set.text)")
            let written = try AdminAPI.decode(Written.self, from: set.body)
            #expect(written.state.faults.map(\.provider) == ["a"] && written.state.faults[0].kind.rawValue == name)
            #expect(gate.gateway.snapshot().providers[0].fault?.kind.rawValue == name)
            // Every request is served, by b: the injected failures fail over as real ones do.
            var slowest = 0.0
            for sent in 0..<40 {
                if sent >= 8, gate.gateway.snapshot().providers[0].circuit.ejections > 0 { break }
                let started = Date()
                let response = try await client.chat(gate.url, model: "chat")
                slowest = max(slowest, Date().timeIntervalSince(started))
                #expect(response.status == 200)
                #expect(response.header("x-clawgate-provider") == "b")
            }
            #expect(sim.provider("a")!.counters.requests == 0, "no request may leave for a provider whose fault fires")
            let a = gate.gateway.snapshot().providers[0]
            #expect(a.circuit.state == .open || a.circuit.ejections > 0, "the breaker sees injected failures: \(a.circuit)")
            #expect(a.circuit.reason?.contains("(drill)") == true, "\(a.circuit.reason ?? "no reason")")
            #expect(a.stats.oneMinute.errors >= 3, "the error figures count them")
            if name == "hang" || name == "latency" { #expect(slowest >= 0.45, "a hang waits out the first-byte deadline") }
            let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
            #expect(samples(metrics, "clawgate_upstream_attempts_total", [#"provider="a""#, #"outcome="\#(outcome)""#, #"fault="drill""#]).first ?? 0 >= 3)
            #expect(samples(metrics, "clawgate_upstream_attempts_total", [#"provider="a""#, #"fault="provider""#]).isEmpty)
            #expect(samples(metrics, "clawgate_fault_active", [#"provider="a""#, #"kind="\#(name)""#]) == [1])
            #expect(samples(metrics, "clawgate_fault_active", [#"provider="b""#]) == [0, 0, 0, 0])
            #expect(events(gate, .faultStarted).map(\.subject) == ["a"])
            #expect(events(gate, .faultStarted).first?.detail.contains("set by ops: drill \(name)") == true)
            // It ends by itself, with nobody asking: the state drops it, an event says so, the audit holds both.
            let ended = try await within(4) { gate.gateway.state.operatorState.faults.isEmpty }
            #expect(ended, "the fault did not expire by itself")
            #expect(events(gate, .faultEnded).count == 1)
            #expect(events(gate, .faultEnded).first?.detail.contains("its time was over") == true)
            let entries = try await audit(client, gate)
            #expect(entries.map(\.action) == ["provider.fault", "provider.fault_expired"])
            #expect(entries.map(\.actor) == ["ops", "clawgate"])
            #expect(entries.first?.reason == "drill \(name)" && entries.first?.after["fault"]?["kind"]?.stringValue == name)
            #expect(gate.gateway.snapshot().providers[0].fault == nil)
            let after = try await client.request("GET", gate.adminURL + "/metrics").text
            #expect(samples(after, "clawgate_fault_active", [#"provider="a""#, #"kind="\#(name)""#]) == [0])
        }
    }

    @Test func aShortLatencySlowsTheProviderButItServes() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]]) { sim, gate, client in
            #expect(try await inject(client, gate, "a", ["kind": "latency", "extra_ms": 300, "duration": 30]).status == 200)
            let started = Date()
            let response = try await client.chat(gate.url, model: "chat")
            #expect(response.status == 200 && response.header("x-clawgate-provider") == "a")
            #expect(Date().timeIntervalSince(started) >= 0.3)
            #expect(sim.provider("a")!.counters.requests == 1, "after its delay the attempt goes out")
            #expect(gate.gateway.snapshot().providers[0].stats.oneMinute.latencyP50Seconds ?? 0 >= 0.25, "the delay is the provider's latency (a bucketed p50)")
        }
    }

    @Test func aRatioHitsThatShareAndOnlyThoseAreNotSent() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 100)], [("b", 100)]]],
                                      configure: { $0.breaker = .init(consecutiveFailures: 1000, cooldown: 1, maxCooldown: 1) }) { sim, gate, client in
            #expect(try await inject(client, gate, "a", ["kind": "error", "status": 500, "ratio": 0.5, "duration": 60]).status == 200)
            var byA = 0
            for _ in 0..<40 {
                let response = try await client.chat(gate.url, model: "chat")
                #expect(response.status == 200)
                if response.header("x-clawgate-provider") == "a" { byA += 1 }
            }
            #expect((8...32).contains(byA), "about half: \(byA) of 40")
            #expect(sim.provider("a")!.counters.requests == byA, "each attempt the fault hit stayed inside the gateway")
            // The counters a drill report takes differences of: every attempt on a, injected or not.
            let snapshot = gate.gateway.snapshot()
            #expect(snapshot.providers[0].attemptsTotal == 40 && snapshot.providers[1].attemptsTotal == 40 - byA)
            #expect(snapshot.routes[0].requestsTotal == 40 && snapshot.routes[0].errorsTotal == 0)
        }
    }

    @Test func badFaultsAreRefusedNamingTheFieldAndChangeNothing() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]]) { _, gate, client in
            let bad: [(JSONValue, String)] = [
                (["kind": "outage", "duration": 3601], "duration"),
                (["kind": "outage", "duration": "2h"], "duration"),
                (["kind": "outage", "duration": "soon"], "duration"),
                (["kind": "outage"], "duration"),
                (["kind": "flood", "duration": 10], "kind"),
                (["duration": 10], "kind"),
                (["kind": "error", "status": 200, "duration": 10], "status"),
                (["kind": "error", "status": 404, "duration": 10], "status"),
                (["kind": "outage", "status": 503, "duration": 10], "status"),
                (["kind": "latency", "duration": 10], "extra_ms"),
                (["kind": "latency", "extra_ms": 0, "duration": 10], "extra_ms"),
                (["kind": "hang", "extra_ms": 10, "duration": 10], "extra_ms"),
                (["kind": "outage", "ratio": 1.5, "duration": 10], "ratio"),
                (["kind": "outage", "duration": 10, "until": 5], "until"),
            ]
            for (body, field) in bad {
                let refused = try await inject(client, gate, "a", body)
                #expect(refused.status == 400, "\(body): \(refused.text)")
                #expect(try AdminAPI.decode(ErrorBody.self, from: refused.body).error.field == field, "\(body): \(refused.text)")
            }
            #expect(try await inject(client, gate, "zzz", ["kind": "outage", "duration": 10]).status == 404)
            let viewer = try await client.request("POST", gate.adminURL + "/admin/v1/providers/a/fault", body: (["kind": "outage", "duration": 10] as JSONValue).encoded(),
                                                  headers: ["authorization": "Bearer \(TestFleet.viewerToken)"])
            #expect(viewer.status == 403)
            #expect(gate.gateway.state.operatorState.revision == 0 && gate.gateway.state.operatorState.faults.isEmpty, "nothing changed")
            // One fault per provider; DELETE ends it early, and again is a no-op.
            #expect(try await inject(client, gate, "a", ["kind": "outage", "duration": "2m"]).status == 200)
            #expect(gate.gateway.state.operatorState.faults["a"].map { $0.until - $0.since } == 120)
            let second = try await inject(client, gate, "a", ["kind": "hang", "duration": 10])
            #expect(second.status == 409 && (try? AdminAPI.decode(ErrorBody.self, from: second.body).error.code) == "fault_active", "\(second.text)")
            let end = try await client.request("DELETE", gate.adminURL + "/admin/v1/providers/a/fault", body: (["reason": "done"] as JSONValue).encoded(), headers: op)
            #expect(end.status == 200 && (try? AdminAPI.decode(Written.self, from: end.body).changed) == true, "\(end.text)")
            #expect(events(gate, .faultEnded).first?.detail.contains("ended by an operator") == true)
            let again = try await client.request("DELETE", gate.adminURL + "/admin/v1/providers/a/fault", headers: op)
            #expect(again.status == 200 && (try? AdminAPI.decode(Written.self, from: again.body).changed) == false)
            let other = try await client.request("PUT", gate.adminURL + "/admin/v1/providers/a/fault", headers: op)
            #expect(other.status == 405 && other.header("allow")?.contains("DELETE") == true && other.header("allow")?.contains("POST") == true)
            #expect(try await audit(client, gate).map(\.action) == ["provider.fault", "provider.unfault"])
        }
    }

    @Test func probesFailUnderTheFaultSoTheProviderStaysOut() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]],
                                      configure: { $0.healthCheck = GatewayConfig.HealthCheck(); $0.healthCheck.interval = 3600 }) { _, gate, client in
            let set = try await inject(client, gate, "a", ["kind": "outage", "duration": 30])
            #expect(set.status == 200)
            await gate.gateway.probeProviders()
            await gate.gateway.probeProviders()
            let a = gate.gateway.snapshot().providers[0]
            #expect(a.health.healthy == false && a.health.lastError == "connect_error (drill)", "\(a.health)")
            #expect(a.state == .ejected)
        }
    }

    @Test func aFaultSurvivesARestartOnlyUntilItEnds() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
        let client = TestClient()
        var gate = try await TestFleet.gateway(config)
        #expect(try await inject(client, gate, "a", ["kind": "outage", "duration": 60]).status == 200)
        #expect(try await inject(client, gate, "b", ["kind": "error", "duration": 2]).status == 200)
        await gate.stop()
        try await Task.sleep(for: .milliseconds(2200))
        gate = try await TestFleet.gateway(config)
        // a's fault holds after the restart; b's ended while the node was down and is dropped, audited.
        let snapshot = gate.gateway.snapshot()
        #expect(snapshot.providers.map { $0.fault?.kind } == [.outage, nil])
        #expect(events(gate, .faultStarted).map(\.subject) == ["a"], "the restarted node says the fault is in force")
        for _ in 0..<5 { #expect(try await client.chat(gate.url, model: "chat").header("x-clawgate-provider") == "b") }
        let dropped = try await within(2) { gate.gateway.state.operatorState.faults.keys.sorted() == ["a"] }
        #expect(dropped)
        #expect(try await audit(client, gate).map(\.action) == ["provider.fault", "provider.fault", "provider.fault_expired"])
        await client.shutdown()
        await gate.stop()
        await sim.stop()
        if let dir = config.admin.stateDir { try? FileManager.default.removeItem(atPath: dir) }
    }

    @Test func durationsAreReadAsOperatorsWriteThem() {
        #expect(DurationText.seconds("90") == 90 && DurationText.seconds("90s") == 90 && DurationText.seconds("2m") == 120)
        #expect(DurationText.seconds("1h30m") == 5400 && DurationText.seconds("1m30s") == 90 && DurationText.seconds("1ms") == 0.001)
        #expect(DurationText.seconds("2.5s") == 2.5)
        for bad in ["", "m", "5x", "2m5", "s5", "-"] { #expect(DurationText.seconds(bad) == nil, "\(bad)") }
    }
}

extension JSONValue {
    /// This object with `other`'s members added (other's win).
    func merging(_ other: JSONValue) -> JSONValue {
        guard case .object(var a) = self, case .object(let b) = other else { return self }
        for (k, v) in b { a[k] = v }
        return .object(a)
    }
}
