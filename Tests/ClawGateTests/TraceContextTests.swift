import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Following one request: its `X-Request-Id` answered on every response, the client's W3C trace
/// context kept up to the provider (with the gateway's attempt span as parent), and both in the
/// node's request records.
@Suite(.serialized) struct TraceContextTests {
    let viewer = ["authorization": "Bearer \(TestFleet.viewerToken)"]
    static let clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let clientSpan = "00f067aa0ba902b7"

    func chat(_ client: TestClient, _ url: String, headers: [String: String], model: String = "chat", stream: Bool = false) async throws -> TestResponse {
        var body: JSONValue = ["model": .string(model), "messages": [["role": "user", "content": "hi"]]]
        if stream, case .object(var o) = body { o["stream"] = true; body = .object(o) }
        return try await client.request("POST", url + "/v1/chat/completions", body: body.encoded(), headers: headers)
    }

    func received(_ client: TestClient, _ sim: Simulator, _ provider: String) async throws -> [String: String] {
        let info = try await client.request("GET", sim.controlURL + "/sim/providers/\(provider)/last-request-info").json
        var headers: [String: String] = [:]
        for (name, value) in info?["headers"]?.objectValue ?? [:] { headers[name] = value.stringValue }
        return headers
    }

    func records(_ client: TestClient, _ gate: GatewayServer) async throws -> [JSONValue] {
        try await client.request("GET", gate.adminURL + "/admin/v1/requests", headers: viewer).json?["requests"]?.arrayValue ?? []
    }

    @Test func theClientsRequestIdComesBackAndAMissingOrBadOneIsReplaced() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 1)]]]) { sim, gate, client in
            let given = try await chat(client, gate.url, headers: ["x-request-id": "support-bot/0312-42"])
            #expect(given.status == 200 && given.header("x-request-id") == "support-bot/0312-42")
            let none = try await chat(client, gate.url, headers: [:])
            let made = try #require(none.header("x-request-id"))
            #expect(made.count == 32 && made.allSatisfy(\.isHexDigit))
            for bad in ["has space", String(repeating: "x", count: 129), "tab\there"] {
                let r = try await chat(client, gate.url, headers: ["x-request-id": bad])
                #expect(r.header("x-request-id") != bad && r.header("x-request-id")?.count == 32)
            }
            // Every answer carries it: a refusal, an unknown model, a bad body, the model list.
            let unknown = try await chat(client, gate.url, headers: ["x-request-id": "r-404"], model: "nope")
            #expect(unknown.status == 404 && unknown.header("x-request-id") == "r-404")
            let broken = try await client.request("POST", gate.url + "/v1/chat/completions", body: Data("{".utf8), headers: ["x-request-id": "r-400"])
            #expect(broken.status == 400 && broken.header("x-request-id") == "r-400")
            let models = try await client.request("GET", gate.url + "/v1/models", headers: ["x-request-id": "r-models"])
            #expect(models.status == 200 && models.header("x-request-id") == "r-models")
            // The record names it, with the trace the gateway started.
            let record = try #require(try await records(client, gate).first { $0["request_id"]?.stringValue == "support-bot/0312-42" })
            #expect(record["trace_id"]?.stringValue?.count == 32 && record["status"]?.intValue == 200 && record["endpoint"]?.stringValue == "chat")
        }
    }

    @Test func theProviderGetsTheClientsTraceWithTheAttemptSpanAsParent() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 1)]]]) { sim, gate, client in
            let parent = "00-\(Self.clientTrace)-\(Self.clientSpan)-01"
            let r = try await chat(client, gate.url, headers: ["traceparent": parent, "tracestate": "vendor=abc,other=1", "x-request-id": "t-1"])
            #expect(r.status == 200)
            let seen = try await received(client, sim, "a")
            let traceparent = try #require(seen["traceparent"])
            let parts = traceparent.split(separator: "-").map(String.init)
            #expect(parts.count == 4 && parts[0] == "00" && parts[1] == Self.clientTrace && parts[3] == "01")
            #expect(parts[2] != Self.clientSpan)  // the gateway's own span is the provider's parent
            #expect(seen["tracestate"] == "vendor=abc,other=1")
            let record = try #require(try await records(client, gate).first { $0["request_id"]?.stringValue == "t-1" })
            #expect(record["trace_id"]?.stringValue == Self.clientTrace)
            #expect(record["parent_span_id"]?.stringValue == Self.clientSpan)
            #expect(record["attempts"]?.arrayValue?.first?["span_id"]?.stringValue == parts[2])
            #expect(record["span_id"]?.stringValue != parts[2] && record["span_id"]?.stringValue?.count == 16)
        }
    }

    @Test func aMissingOrBrokenTraceparentStartsANewTrace() async throws {
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 1)]]]) { sim, gate, client in
            for (id, header) in [("n-1", nil), ("n-2", "00-\(String(repeating: "0", count: 32))-\(Self.clientSpan)-01"), ("n-3", "garbage")] {
                var headers = ["x-request-id": id]
                if let header { headers["traceparent"] = header; headers["tracestate"] = "vendor=abc" }
                #expect(try await chat(client, gate.url, headers: headers).status == 200)
                let seen = try await received(client, sim, "a")
                let parts = try #require(seen["traceparent"]).split(separator: "-").map(String.init)
                let record = try #require(try await records(client, gate).first { $0["request_id"]?.stringValue == id })
                #expect(parts.count == 4 && parts[1] == record["trace_id"]?.stringValue && parts[1] != String(repeating: "0", count: 32))
                #expect(record["parent_span_id"] == .null)
                #expect(seen["tracestate"] == nil)  // a tracestate is kept only beside a valid traceparent
            }
        }
    }

    @Test func aFailoverIsTwoAttemptsEachWithItsOwnSpanAndEveryRequestIsRecorded() async throws {
        try await TestFleet.withFleet([TestFleet.provider("bad", ["error_rate": 1]), TestFleet.provider("good")],
                            routes: ["chat": [[("bad", 1000), ("good", 1)]]]) { sim, gate, client in
            let parent = "00-\(Self.clientTrace)-\(Self.clientSpan)-01"
            let r = try await chat(client, gate.url, headers: ["traceparent": parent, "x-request-id": "f-1"], stream: true)
            #expect(r.status == 200 && r.header("x-clawgate-provider") == "good" && r.header("x-request-id") == "f-1")
            let seenBad = try await received(client, sim, "bad")
            let seenGood = try await received(client, sim, "good")
            let badSpan = try #require(seenBad["traceparent"]).split(separator: "-")[2]
            let goodSpan = try #require(seenGood["traceparent"]).split(separator: "-")[2]
            #expect(badSpan != goodSpan)
            let record = try #require(try await records(client, gate).first { $0["request_id"]?.stringValue == "f-1" })
            let attempts = try #require(record["attempts"]?.arrayValue)
            #expect(attempts.compactMap { $0["provider"]?.stringValue } == ["bad", "good"])
            #expect(attempts.compactMap { $0["span_id"]?.stringValue } == [String(badSpan), String(goodSpan)])
            #expect((500..<600).contains(attempts[0]["status"]?.intValue ?? 0) && attempts[1]["status"]?.intValue == 200)
            #expect(attempts[0]["fault"]?.stringValue == "provider" && attempts[0]["outcome"]?.stringValue?.hasPrefix("status_5") == true)
            #expect(attempts[0]["seconds"]?.doubleValue ?? -1 >= 0 && attempts[0]["model"]?.stringValue == "sim-model")
            #expect(record["stream"]?.boolValue == true && record["served"]?.stringValue == "good" && record["outcome"]?.stringValue == "ok")
            // A request served at once is recorded too (the Requests pane tails them all).
            _ = try await chat(client, gate.url, headers: ["x-request-id": "plain"], model: "chat")
            let all = try await records(client, gate)
            #expect(all.contains { $0["request_id"]?.stringValue == "plain" })
        }
    }

    @Test func requestsRefusedBeforeARouteAreRecordedAndTheEventsARequestRaisedNameIt() async throws {
        try await TestFleet.withFleet([TestFleet.provider("bad", ["error_rate": 1]), TestFleet.provider("good")],
                            routes: ["chat": [[("bad", 1000), ("good", 1)]]]) { sim, gate, client in
            // Refused before any route was known: an unknown model, a body that is not JSON, no such path.
            _ = try await chat(client, gate.url, headers: ["x-request-id": "r-404"], model: "nope")
            _ = try await client.request("POST", gate.url + "/v1/chat/completions", body: Data("{".utf8), headers: ["x-request-id": "r-400"])
            let all = try await records(client, gate)
            let unknown = try #require(all.first { $0["request_id"]?.stringValue == "r-404" })
            #expect(unknown["status"]?.intValue == 404 && unknown["outcome"]?.stringValue == "model_not_found")
            #expect(unknown["fault"]?.stringValue == "client" && unknown["route"]?.stringValue == "" && unknown["attempts"]?.arrayValue?.isEmpty == true)
            let broken = try #require(all.first { $0["request_id"]?.stringValue == "r-400" })
            #expect(broken["status"]?.intValue == 400 && broken["fault"]?.stringValue == "client" && broken["outcome"]?.stringValue != "ok")
            // Three requests whose first attempts fail open bad's circuit: the event names the request
            // whose failure opened it.
            var sent: [String] = []
            for n in 1...6 {
                sent.append("e-\(n)")
                _ = try await chat(client, gate.url, headers: ["x-request-id": "e-\(n)"])
                let events = try await client.request("GET", gate.adminURL + "/admin/v1/events", headers: viewer).json?["events"]?.arrayValue ?? []
                if let opened = events.first(where: { $0["kind"]?.stringValue == "circuit_opened" && $0["subject"]?.stringValue == "bad" }) {
                    #expect(opened["request_id"]?.stringValue == sent.last, "opened by \(opened["request_id"] ?? nil), sent \(sent)")
                    return
                }
            }
            Issue.record("bad's circuit never opened after \(sent)")
        }
    }

    @Test func theTraceHelpersParseAndRefuseAsW3CSays() {
        #expect(RequestTrace.usableRequestID("abc-123_./:") && !RequestTrace.usableRequestID("") && !RequestTrace.usableRequestID("é"))
        let ok = RequestTrace.clientContext(traceParent: "00-\(Self.clientTrace)-\(Self.clientSpan)-00", traceState: "a=1")
        #expect(ok?.traceID == Self.clientTrace && ok?.spanID == Self.clientSpan && ok?.sampled == false && ok?.state == "a=1")
        #expect(RequestTrace.clientContext(traceParent: "00-\(Self.clientTrace)-\(String(repeating: "0", count: 16))-01", traceState: nil) == nil)
        #expect(RequestTrace.clientContext(traceParent: "00-\(Self.clientTrace)-\(Self.clientSpan)-01", traceState: "bad state with spaces")?.state == nil)
        let trace = RequestTrace(requestID: "r", traceID: Self.clientTrace, parentSpanID: nil, spanID: "1111111111111111", sampled: true, traceState: nil)
        #expect(trace.traceParent(spanID: "2222222222222222") == "00-\(Self.clientTrace)-2222222222222222-01")
    }
}
