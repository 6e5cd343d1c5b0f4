import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// "Why is traffic going there?": headers, breaker detail, actual shares and the recent-requests log.
@Suite(.serialized) struct ExplainTests {
    let viewer = ["authorization": "Bearer \(TestFleet.viewerToken)"]

    @Test func aFailingProviderShowsWhyAndUntilWhenInTheSnapshot() async throws {
        try await TestFleet.withFleet([TestFleet.provider("bad", ["error_rate": 1]), TestFleet.provider("good")],
                            routes: ["chat": [[("bad", 1000), ("good", 1)]]]) { sim, gate, client in
            for _ in 0..<4 { _ = try await client.chat(gate.url, model: "chat") }
            let before = Date().timeIntervalSince1970
            let snap = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: viewer).json
            let bad = try #require(snap?["providers"]?.arrayValue?.first { $0["id"]?.stringValue == "bad" })
            let circuit = try #require(bad["circuit"])
            #expect(circuit["state"]?.stringValue == "open")
            #expect(circuit["reason"]?.stringValue?.contains("3 consecutive failures, last: status_50") == true)
            let until = try #require(circuit["open_until"]?.doubleValue)
            #expect(until > before - 1 && until < before + 5)  // cooldown 0.5 s in tests
            #expect(circuit["ejections"]?.intValue == 1)
            #expect(circuit["recent_failures"]?.arrayValue?.count == 3)
            #expect(circuit["recent_failures"]?.arrayValue?.first?["reason"]?.stringValue?.hasPrefix("status_50") == true)
            // The recent-requests log has every retried request with both attempts and why.
            let log = try await client.request("GET", gate.adminURL + "/admin/v1/requests", headers: viewer).json
            let first = try #require(log?["requests"]?.arrayValue?.first)
            #expect(first["route"]?.stringValue == "chat" && first["served"]?.stringValue == "good" && first["outcome"]?.stringValue == "ok")
            #expect(first["attempts"]?.arrayValue?.compactMap { $0["provider"]?.stringValue } == ["bad", "good"])
            #expect(first["attempts"]?.arrayValue?.first?["outcome"]?.stringValue?.hasPrefix("status_50") == true)
        }
    }

    @Test func streamingAnswersNameTheirAttemptsToo() async throws {
        try await TestFleet.withFleet([TestFleet.provider("bad", ["reset_rate": 1]), TestFleet.provider("good")],
                            routes: ["chat": [[("bad", 1000), ("good", 1)]]]) { sim, gate, client in
            let r = try await client.chat(gate.url, model: "chat", stream: true)
            #expect(r.status == 200 && r.text.hasSuffix("data: [DONE]\n\n"))
            #expect(r.header("x-clawgate-provider") == "good" && r.header("x-clawgate-attempts") == "2")
            #expect(r.header("x-clawgate-failed-attempts") == "bad=reset")
        }
    }

    @Test func actualShareTracksWeightAndDepartsWhenEjected() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 80), ("b", 20)]]]) { sim, gate, client in
            for _ in 0..<200 { _ = try await client.chat(gate.url, model: "chat") }
            func share(_ provider: String) async throws -> Double? {
                let snap = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: viewer).json
                let tier = snap?["routes"]?.arrayValue?.first?["tiers"]?.arrayValue?.first?.arrayValue
                return tier?.first { $0["provider"]?.stringValue == provider }?["actual_share"]?.doubleValue
            }
            // 200 draws at p = 0.8: sd 0.028; allow about 4 sd.
            let a = try #require(try await share("a"))
            #expect(abs(a - 0.8) < 0.12, "share of a: \(a)")
            // a fails: the breaker ejects it, b takes everything, and the share shows the skew.
            _ = try await client.setBehaviour(sim, "a", ["outage": true])
            for _ in 0..<300 { _ = try await client.chat(gate.url, model: "chat") }
            let after = try #require(try await share("a"))
            #expect(after < 0.5, "share of a after its outage: \(after)")
            #expect(try #require(try await share("b")) > 0.5)
        }
    }
}
