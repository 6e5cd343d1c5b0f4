import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// The admin API against a real node and real simulated providers: auth, validation, revisions,
/// and the effect of every write on live traffic.
@Suite(.serialized) struct AdminAPITests {
    let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]
    let viewer = ["authorization": "Bearer \(TestFleet.viewerToken)"]

    func withFleet(_ ids: [String] = ["a", "b", "c"], routes: [String: [[(String, Int)]]]? = nil,
                   _ body: (Simulator, GatewayServer, TestClient) async throws -> Void) async throws {
        try await TestFleet.withFleet(ids.map { TestFleet.provider($0) }, routes: routes ?? ["chat": [[("a", 50), ("b", 50)], [("c", 100)]]], body)
    }

    func post(_ client: TestClient, _ gate: GatewayServer, _ path: String, _ body: JSONValue? = nil,
              headers: [String: String], method: String = "POST") async throws -> TestResponse {
        try await client.request(method, gate.adminURL + "/admin/v1" + path, body: body?.encoded(), headers: headers)
    }

    /// Send n chat requests, return how many each provider served.
    func traffic(_ client: TestClient, _ gate: GatewayServer, _ n: Int) async throws -> [String: Int] {
        var served: [String: Int] = [:]
        for _ in 0..<n {
            let r = try await client.chat(gate.url, model: "chat")
            #expect(r.status == 200)
            served[r.header("x-clawgate-provider") ?? "none", default: 0] += 1
        }
        return served
    }

    @Test func authMatrixForEveryEndpoint() async throws {
        try await withFleet { sim, gate, client in
            let reads = ["/snapshot", "/state", "/events", "/audit"]
            let writes: [(String, String, JSONValue?)] = [
                ("POST", "/providers/a/drain", nil), ("POST", "/providers/a/undrain", nil),
                ("POST", "/providers/a/failover", ["to": ["b"]]), ("POST", "/providers/a/restore", nil),
                ("PUT", "/routes/chat/weights", ["weights": ["a": 10]]),
                ("POST", "/routes/chat/tiers/0/failover", nil), ("POST", "/routes/chat/tiers/0/restore", nil),
                ("POST", "/node/drain", nil), ("POST", "/node/undrain", nil),
                ("PUT", "/state", ["state": ["revision": 1, "drained_providers": ["b"], "weights": [:], "failovers": [], "node_drain": false]]),
            ]
            for path in reads {
                let none = try await client.request("GET", gate.adminURL + "/admin/v1" + path)
                #expect(none.status == 401, "\(path)")
                #expect(none.json?["error"]?["code"]?.stringValue == "unauthorized")
                #expect(none.header("www-authenticate") == "Bearer")
                let wrong = try await client.request("GET", gate.adminURL + "/admin/v1" + path, headers: ["authorization": "Bearer nope-nope-nope-nope"])
                #expect(wrong.status == 401)
                #expect(try await client.request("GET", gate.adminURL + "/admin/v1" + path, headers: viewer).status == 200, "\(path)")
                #expect(try await client.request("GET", gate.adminURL + "/admin/v1" + path, headers: op).status == 200, "\(path)")
            }
            for (method, path, body) in writes {
                let none = try await post(client, gate, path, body, headers: [:], method: method)
                #expect(none.status == 401, "\(path)")
                let asViewer = try await post(client, gate, path, body, headers: viewer, method: method)
                #expect(asViewer.status == 403, "\(path)")
                #expect(asViewer.json?["error"]?["code"]?.stringValue == "forbidden")
                #expect(!asViewer.text.contains(TestFleet.viewerToken), "a token must never appear in an answer")
                let asOperator = try await post(client, gate, path, body, headers: op, method: method)
                #expect(asOperator.status == 200, "\(path): \(asOperator.text)")
            }
            // Refused writes changed nothing: ten operator writes, ten revisions.
            let state = try await client.request("GET", gate.adminURL + "/admin/v1/state", headers: viewer)
            #expect(state.json?["revision"]?.intValue == 10)
        }
    }

    @Test func validationErrorsNameTheField() async throws {
        try await withFleet { sim, gate, client in
            let cases: [(String, String, JSONValue?, Int, String)] = [
                ("POST", "/providers/ghost/drain", nil, 404, "not_found"),
                ("PUT", "/routes/ghost/weights", ["weights": ["a": 1]], 404, "not_found"),
                ("PUT", "/routes/chat/weights", ["weights": ["zzz": 1]], 400, "weights.zzz"),
                ("PUT", "/routes/chat/weights", ["weights": ["a": 1001]], 400, "weights.a"),
                ("PUT", "/routes/chat/weights", ["weights": ["a": 2.5]], 400, "weights.a"),
                ("PUT", "/routes/chat/weights", ["weights": ["a": 0, "b": 0]], 400, "weights"),
                ("PUT", "/routes/chat/weights", [:], 400, "weights"),
                ("PUT", "/routes/chat/weights", ["weights": ["a": 1], "colour": "red"], 400, "colour"),
                ("POST", "/providers/a/failover", ["to": ["ghost"]], 400, "to[0]"),
                ("POST", "/providers/a/failover", ["to": ["a"]], 400, "to[0]"),
                ("POST", "/providers/a/failover", ["to": "b"], 400, "to"),
                ("POST", "/providers/a/failover", ["to": .null], 400, "to"),
                ("POST", "/routes/chat/tiers/7/failover", nil, 404, "not_found"),
                // A tier the route lacks is named before a body that is wrong too.
                ("POST", "/routes/chat/tiers/7/failover", ["to": "b"], 404, "not_found"),
                ("PUT", "/routes/chat/budget", ["per_hour": "lots"], 400, "per_hour"),
                ("PUT", "/clients/bob/limits", ["limits": ["rpm": 0]], 400, "limits.rpm"),
                ("POST", "/providers/a/fault", ["kind": "outage", "duration": "soon"], 400, "duration"),
                ("POST", "/providers/a/drain", ["reason": 5], 400, "reason"),
                // 300 characters as a person reads them, 600 code points: over the schema's maxLength 500.
                ("POST", "/providers/a/drain", ["reason": .string(String(repeating: "नि", count: 300))], 400, "reason"),
            ]
            for (method, path, body, status, field) in cases {
                let r = try await post(client, gate, path, body, headers: op, method: method)
                #expect(r.status == status, "\(path) \(String(describing: body)): \(r.text)")
                if status == 400 {
                    #expect(r.json?["error"]?["field"]?.stringValue == field, "\(path): \(r.text)")
                    #expect(r.json?["error"]?["message"]?.stringValue?.hasPrefix(field) == true)
                } else {
                    #expect(r.json?["error"]?["code"]?.stringValue == field)
                }
            }
            let notJSON = try await client.request("POST", gate.adminURL + "/admin/v1/providers/a/drain", body: Data("{x".utf8), headers: op)
            #expect(notJSON.status == 400)
            let state = try await client.request("GET", gate.adminURL + "/admin/v1/state", headers: op)
            #expect(state.json?["revision"]?.intValue == 0, "a refused write must change nothing")
        }
    }

    @Test func staleRevisionsAreRefusedAndRepeatsAreNoOps() async throws {
        try await withFleet { sim, gate, client in
            let first = try await post(client, gate, "/providers/a/drain", ["reason": "maintenance"], headers: op.merging(["if-match": "\"0\""]) { $1 })
            #expect(first.status == 200)
            #expect(first.json?["revision"]?.intValue == 1 && first.json?["changed"]?.boolValue == true)
            #expect(first.header("etag") == "\"1\"")
            let again = try await post(client, gate, "/providers/a/drain", nil, headers: op)
            #expect(again.status == 200 && again.json?["changed"]?.boolValue == false && again.json?["revision"]?.intValue == 1)
            let stale = try await post(client, gate, "/providers/a/undrain", nil, headers: op.merging(["if-match": "0"]) { $1 })
            #expect(stale.status == 412)
            #expect(stale.json?["error"]?["revision"]?.intValue == 1)
            let bad = try await post(client, gate, "/providers/a/undrain", nil, headers: op.merging(["if-match": "abc"]) { $1 })
            #expect(bad.status == 400)
            let fresh = try await post(client, gate, "/providers/a/undrain", nil, headers: op.merging(["if-match": "1"]) { $1 })
            #expect(fresh.status == 200 && fresh.json?["revision"]?.intValue == 2)
            // The audit log has both writes, with actor, before -> after and reason; the repeat and the refusals are not there.
            let audit = try await client.request("GET", gate.adminURL + "/admin/v1/audit", headers: viewer)
            let entries = try #require(audit.json?["entries"]?.arrayValue)
            #expect(entries.count == 2)
            #expect(entries[0]["actor"]?.stringValue == "ops" && entries[0]["action"]?.stringValue == "provider.drain")
            #expect(entries[0]["target"]?.stringValue == "provider:a" && entries[0]["reason"]?.stringValue == "maintenance")
            #expect(entries[0]["before"]?["drained"]?.boolValue == false && entries[0]["after"]?["drained"]?.boolValue == true)
            #expect(entries[1]["revision"]?.intValue == 2)
            let events = try await client.request("GET", gate.adminURL + "/admin/v1/events?since=0", headers: viewer)
            let details = events.json?["events"]?.arrayValue?.compactMap { $0["detail"]?.stringValue } ?? []
            #expect(details.contains("provider.drain by ops: maintenance"))
            let page = try await client.request("GET", gate.adminURL + "/admin/v1/events?since=1&limit=1", headers: viewer)
            #expect(page.json?["events"]?.arrayValue?.first?["sequence"]?.intValue == 2)
            #expect(try await client.request("GET", gate.adminURL + "/admin/v1/events?since=-4", headers: viewer).status == 400)
        }
    }

    @Test func drainedProviderGetsNoNewRequests() async throws {
        try await withFleet { sim, gate, client in
            _ = try await post(client, gate, "/providers/a/drain", nil, headers: op)
            let served = try await traffic(client, gate, 60)
            #expect(served["a", default: 0] == 0)
            #expect(served["b"] == 60)
            let snap = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: viewer)
            let a = snap.json?["providers"]?.arrayValue?.first { $0["id"]?.stringValue == "a" }
            #expect(a?["state"]?.stringValue == "drained")
            // The effective-weight gauge follows the drain; the configured one does not.
            let metrics = try await client.request("GET", gate.adminURL + "/metrics").text
            #expect(metrics.contains(#"clawgate_route_effective_weight{route="chat",tier="0",provider="a"} 0.0"#))
            #expect(metrics.contains(#"clawgate_route_weight{route="chat",tier="0",provider="a"} 50.0"#))
            _ = try await post(client, gate, "/providers/a/undrain", nil, headers: op)
            let after = try await traffic(client, gate, 60)
            #expect(after["a", default: 0] > 10)
        }
    }

    @Test func weightChangeShiftsTheShare() async throws {
        try await withFleet { sim, gate, client in
            let r = try await post(client, gate, "/routes/chat/weights", ["weights": ["a": 900, "b": 100]], headers: op, method: "PUT")
            #expect(r.status == 200)
            let served = try await traffic(client, gate, 300)
            // Expected 270 of 300 on a; binomial sd 5.2, allow about 5 sd.
            #expect(abs(served["a", default: 0] - 270) <= 26, "\(served)")
            let snap = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: viewer)
            let tier = snap.json?["routes"]?.arrayValue?.first?["tiers"]?.arrayValue?.first?.arrayValue
            #expect(tier?.first { $0["provider"]?.stringValue == "a" }?["effective_weight"]?.intValue == 900)
            #expect(tier?.first { $0["provider"]?.stringValue == "a" }?["configured_weight"]?.intValue == 50)
        }
    }

    @Test func failoverMovesAllNewTrafficAndRestoreReturnsIt() async throws {
        try await withFleet { sim, gate, client in
            let f = try await post(client, gate, "/providers/a/failover", ["to": ["c"], "reason": "a is slow"], headers: op)
            #expect(f.status == 200, "\(f.text)")
            let served = try await traffic(client, gate, 80)
            #expect(served["a", default: 0] == 0)
            #expect(served["c", default: 0] > 20 && served["b", default: 0] > 20, "\(served)")
            let snap = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: viewer)
            #expect(snap.json?["failovers"]?.arrayValue?.first?["subject"]?.stringValue == "provider:a")
            let a = snap.json?["providers"]?.arrayValue?.first { $0["id"]?.stringValue == "a" }
            #expect(a?["state"]?.stringValue == "failed-over")
            // A whole tier to the next tier: everything goes to c.
            _ = try await post(client, gate, "/providers/a/restore", nil, headers: op)
            _ = try await post(client, gate, "/routes/chat/tiers/0/failover", nil, headers: op)
            let tierDown = try await traffic(client, gate, 40)
            #expect(tierDown["c"] == 40)
            _ = try await post(client, gate, "/routes/chat/tiers/0/restore", nil, headers: op)
            let kinds = try await client.request("GET", gate.adminURL + "/admin/v1/events", headers: viewer).json?["events"]?.arrayValue?
                .map { ($0["kind"]?.stringValue ?? "", $0["subject"]?.stringValue ?? "") } ?? []
            #expect(kinds.contains { $0 == ("failover_started", "provider:a") } && kinds.contains { $0 == ("failover_restored", "tier:chat/0") })
            let restored = try await traffic(client, gate, 80)
            #expect(restored["c", default: 0] == 0)
            #expect(restored["a", default: 0] > 20 && restored["b", default: 0] > 20)
        }
    }

    @Test func anotherNodesStateIsTakenWholeOrNotAtAll() async throws {
        try await withFleet { sim, gate, client in
            _ = try await post(client, gate, "/node/drain", headers: op)
            _ = try await post(client, gate, "/providers/c/drain", headers: op)
            let before = try await client.request("GET", gate.adminURL + "/admin/v1/state", headers: op).text
            // Bad: an unknown provider, a failover of an unknown subject, a state that is not one.
            for (body, field) in [
                (["state": ["revision": 0, "drained_providers": ["zzz"], "weights": [:], "failovers": [], "node_drain": false]] as JSONValue, "state.drained_providers[0]"),
                (["state": ["revision": 0, "drained_providers": [], "weights": [:], "node_drain": false]], "state.failovers"),
                (["state": ["revision": 0, "drained_providers": [], "weights": [:], "node_drain": false,
                            "failovers": [["subject": "provider:zzz", "to": [], "since": 1]]]], "state.failovers[0]"),
                (["state": "everything"], "state"),
                (["state": ["revision": 0, "drained_providers": [], "weights": [:], "failovers": [], "node_drain": false], "extra": 1], "extra"),
            ] {
                let refused = try await post(client, gate, "/state", body, headers: op, method: "PUT")
                #expect(refused.status == 400 && refused.json?["error"]?["field"]?.stringValue == field, "\(field): \(refused.text)")
            }
            #expect(try await client.request("GET", gate.adminURL + "/admin/v1/state", headers: op).text == before, "a refused replace changed nothing")
            // Good: drains, weights and a failover taken; this node's drain stays.
            let taken = try await post(client, gate, "/state", [
                "state": ["revision": 12, "drained_providers": ["a"], "weights": ["chat": ["b": 90]], "node_drain": false,
                          "failovers": [["subject": "tier:chat/0", "route": "chat", "tier": 0, "to": ["c"], "since": 1, "reason": "copied"]]],
                "reason": "sync from node-1",
            ], headers: op, method: "PUT")
            #expect(taken.status == 200, "\(taken.text)")
            let state = try #require(taken.json?["state"])
            #expect(state["revision"]?.intValue == 3 && state["drained_providers"] == ["a"] && state["weights"] == ["chat": ["b": 90]])
            #expect(state["node_drain"] == true && state["failovers"]?.arrayValue?.first?["subject"]?.stringValue == "tier:chat/0")
            let audit = try await client.request("GET", gate.adminURL + "/admin/v1/audit", headers: op)
            let last = audit.json?["entries"]?.arrayValue?.last
            #expect(last?["action"]?.stringValue == "state.replace" && last?["target"]?.stringValue == "fleet" && last?["reason"]?.stringValue == "sync from node-1")
            // The same again is no change.
            let again = try await post(client, gate, "/state", ["state": state], headers: op, method: "PUT")
            #expect(again.json?["changed"] == false && again.json?["revision"]?.intValue == 3)
        }
    }

    @Test func drainingTheNodeFailsReadinessButServes() async throws {
        try await withFleet { sim, gate, client in
            #expect(try await client.request("GET", gate.url + "/readyz").status == 200)
            let r = try await post(client, gate, "/node/drain", ["reason": "deploy"], headers: op)
            #expect(r.status == 200)
            #expect(try await client.request("GET", gate.url + "/readyz").status == 503)
            #expect(try await client.chat(gate.url, model: "chat").status == 200)
            let snap = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: viewer)
            #expect(snap.json?["node"]?["state"]?.stringValue == "drained")
            let kinds = try await client.request("GET", gate.adminURL + "/admin/v1/events", headers: viewer).json?["events"]?.arrayValue?
                .compactMap { $0["kind"]?.stringValue } ?? []
            #expect(kinds.contains("node_draining") && kinds.contains("node_drained"))
            _ = try await post(client, gate, "/node/undrain", nil, headers: op)
            #expect(try await client.request("GET", gate.url + "/readyz").status == 200)
        }
    }

    @Test func snapshotCarriesProvidersRoutesAndStats() async throws {
        try await withFleet { sim, gate, client in
            _ = try await traffic(client, gate, 10)
            let snap = try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: viewer)
            let json = try #require(snap.json)
            #expect(json["node"]?["id"]?.stringValue == "test-node")
            #expect(json["node"]?["state"]?.stringValue == "serving")
            #expect(json["providers"]?.arrayValue?.count == 3)
            let a = try #require(json["providers"]?.arrayValue?.first)
            #expect(a["circuit"]?["state"]?.stringValue == "closed")
            #expect(a["stats"]?["1m"]?["requests"]?.intValue ?? 0 > 0)
            #expect(json["routes"]?.arrayValue?.first?["stats"]?["1m"]?["requests"]?.intValue == 10)
        }
    }
}
