import ClawAdminAPI
import ClawGateKit
import ClawShared
import ClawTesting
import Foundation
import Testing
import Yams

/// The admin API's Swift types and its OpenAPI document describe the same wire: every schema
/// property has a field and every field a property, and the enums list the same words.
@Suite struct WireModelTests {
    static let document: JSONValue = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/ClawGateKit/openapi.yaml").path
        let text = try! String(contentsOfFile: path, encoding: .utf8)
        return try! YAMLDecoder().decode(JSONValue.self, from: text)
    }()

    static func resolve(_ schema: JSONValue) -> JSONValue {
        guard let ref = schema["$ref"]?.stringValue else { return schema }
        var node = document
        for part in ref.dropFirst(2).split(separator: "/") { node = node[String(part)] ?? .null }
        return resolve(node)
    }

    /// Every difference between a schema and an encoded value, recursively, as "path: why".
    static func differences(_ schema: JSONValue, _ value: JSONValue, at path: String) -> [String] {
        var schema = resolve(schema)
        // A nullable object: check the value against the object branch.
        if case .object = value, let branch = schema["oneOf"]?.arrayValue?.map(resolve).first(where: { $0["properties"] != nil }) { schema = branch }
        switch value {
        case .object(let fields):
            guard let properties = schema["properties"]?.objectValue else { return [] }  // a free-form map
            var found: [String] = []
            for key in Set(properties.keys).subtracting(fields.keys).sorted() { found.append("\(path).\(key): in the document, not in the type") }
            for key in Set(fields.keys).subtracting(properties.keys).sorted() { found.append("\(path).\(key): in the type, not in the document") }
            for key in Set(properties.keys).intersection(fields.keys).sorted() {
                found += differences(properties[key]!, fields[key]!, at: "\(path).\(key)")
            }
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where fields[key] == nil {
                found.append("\(path).\(key): required but not encoded")
            }
            return found
        case .array(let items):
            guard let first = items.first, let itemSchema = schema["items"] else { return [] }
            return differences(itemSchema, first, at: path + "[]")
        default:
            return []
        }
    }

    static func json(_ value: some Encodable) -> JSONValue { try! JSONValue.parse(bytes: AdminAPI.encode(value)) }

    /// A snapshot with every list non-empty, so every nested schema is reached.
    static let fullSnapshot = Snapshot(
        node: Node(id: "n1", version: "0.1.0"),
        providers: [Provider(id: "p", circuit: Circuit(recentFailures: [.init(time: 1, reason: "timeout")]),
                             weights: [.init(route: "chat", tier: 0, configuredWeight: 1, overrideWeight: 2, effectiveWeight: 2)],
                             routing: ProviderRouting(ttft: Measure(seconds: 0.1, samples: 3, ageSeconds: 1), completionTokens: 12, won: 1), kind: "anthropic",
                             fault: Self.fault, attemptsTotal: 7)],
        routes: [Route(alias: "chat", tiers: [[.init(provider: "p", model: "m", configuredWeight: 1, effectiveWeight: 1, wantedShare: 1)]],
                       strategy: "latency",
                       decision: Decision(strategy: "latency", tier: 0, winner: "p", reason: "r", time: 1, candidates: [
                           .init(provider: "p", weight: 1, inFlight: 0, latencySeconds: 0.1, priceDollars: nil, score: 0.1, compared: true),
                       ]), requestsByEndpoint1m: ["chat": 1, "messages": 2, "embeddings": 3, "responses": 4], requestsTotal: 10, errorsTotal: 1,
                       budget: BudgetStatus(perHour: 5, action: .shift, costPerHour: 6, scope: "fleet", source: "config",
                                            guardInForce: BudgetGuard(route: "chat", action: .shift, since: 1, perHour: 5, costPerHour: 6)))],
        failovers: [Failover(subject: "provider:p", provider: "p", to: ["q"], since: 1)],
        clientAuth: "on", clients: [ClientStatus(name: "web", routes: ["chat"], limits: .init(rpm: 1, tpm: 2, spendPerDay: 3, concurrency: 4))])

    static let fault = InjectedFault(provider: "p", kind: .error, ratio: 0.5, status: 503, since: 1, until: 61, reason: "drill", actor: "ops")

    static func schema(_ name: String) -> JSONValue { document["components"]!["schemas"]![name]! }

    static func responseSchema(_ path: String, _ method: String = "get") -> JSONValue {
        resolve(document["paths"]![path]![method]!["responses"]!["200"]!)["content"]!["application/json"]!["schema"]!
    }

    @Test func everyAnswerMatchesItsSchema() {
        let state = StateDocument(revision: 1, drainedProviders: ["p"], weights: ["chat": ["p": 1]], failovers: Self.fullSnapshot.failovers,
                                  strategies: ["chat": "cost"], blockedClients: ["web"], clientLimits: ["web": .init(rpm: 1)], nodeDrain: false,
                                  faults: [Self.fault], budgets: ["chat": RouteBudget(perHour: 0, action: .refuse)],
                                  budgetGuards: ["chat": BudgetGuard(route: "chat", action: .refuse, since: 1, perHour: 5, costPerHour: 6)])
        let event = Event(sequence: 1, time: 1, node: "n1", kind: .circuitOpened, subject: "p", detail: "d")
        let audit = AuditEntry(sequence: 1, time: 1, actor: "ops", action: "provider.drain", target: "provider:p", before: .null, after: .null,
                               reason: "r", revision: 1)
        let request = RequestRecord(sequence: 1, time: 1, route: "chat", attempts: [.init(provider: "p", outcome: "timeout")], outcome: "ok",
                                    served: "q", latencySeconds: 0.1)
        let cases: [(String, JSONValue, JSONValue)] = [
            ("snapshot", Self.responseSchema("/admin/v1/snapshot"), Self.json(Self.fullSnapshot)),
            ("state", Self.responseSchema("/admin/v1/state"), Self.json(state)),
            ("events", Self.responseSchema("/admin/v1/events"), Self.json(EventPage(items: [event], truncated: false, nextSince: 1, more: false))),
            ("audit", Self.responseSchema("/admin/v1/audit"), Self.json(AuditPage(items: [audit], truncated: false, nextSince: 1, more: false))),
            ("requests", Self.responseSchema("/admin/v1/requests"),
             Self.json(RequestPage(items: [request], truncated: false, nextSince: 1, more: false))),
            ("written", Self.responseSchema("/admin/v1/node/drain", "post"), Self.json(Written(revision: 1, changed: true, state: state))),
            ("error", Self.schema("Error"), Self.json(ErrorBody(.init(code: "c", message: "m", field: "f", revision: 1)))),
            ("fleet", Self.responseSchema("/admin/v1/fleet"),
             Self.json(FleetMembers(store: StoreStatus(kind: .etcd, reachable: false, error: "e"), revision: 3,
                                    members: [.init(id: "n1", url: "http://x", version: "0.1.0", appliedRevision: 3, ageSeconds: 1)]))),
        ]
        for (name, schema, value) in cases {
            #expect(Self.differences(schema, value, at: name) == [])
        }
    }

    @Test func writeBodiesMatchTheirSchemas() {
        func body(_ name: String) -> JSONValue { Self.document["components"]!["requestBodies"]![name]!["content"]!["application/json"]!["schema"]! }
        #expect(Self.differences(body("ReasonOnly"), Self.json(ReasonBody(reason: "r")), at: "reason-only") == [])
        #expect(Self.differences(body("Failover"), Self.json(FailoverBody(to: ["q"], reason: "r")), at: "failover") == [])
        let weights = Self.resolve(Self.document["paths"]!["/admin/v1/routes/{alias}/weights"]!["put"]!["requestBody"]!)["content"]!["application/json"]!["schema"]!
        #expect(Self.differences(weights, Self.json(WeightsBody(weights: ["p": 1], reason: "r")), at: "weights") == [])
        let replace = Self.resolve(Self.document["paths"]!["/admin/v1/state"]!["put"]!["requestBody"]!)["content"]!["application/json"]!["schema"]!
        let document = StateDocument(revision: 2, drainedProviders: ["p"], weights: ["r": ["p": 3]],
                                     failovers: [Failover(subject: "provider:p", provider: "p", to: ["q"], since: 1, reason: "r")], nodeDrain: false)
        #expect(Self.differences(replace, Self.json(StateBody(state: document, reason: "r")), at: "state") == [])
        let strategy = Self.resolve(Self.document["paths"]!["/admin/v1/routes/{alias}/strategy"]!["put"]!["requestBody"]!)["content"]!["application/json"]!["schema"]!
        #expect(Self.differences(strategy, Self.json(StrategyBody(strategy: "latency", reason: "r")), at: "strategy") == [])
        let fault = Self.resolve(Self.document["paths"]!["/admin/v1/providers/{id}/fault"]!["post"]!["requestBody"]!)["content"]!["application/json"]!["schema"]!
        #expect(Self.differences(fault, Self.json(FaultBody(kind: "latency", ratio: 1, status: nil, extraMs: 300, duration: 60, reason: "r")), at: "fault") == [])
        let budget = Self.resolve(Self.document["paths"]!["/admin/v1/routes/{alias}/budget"]!["put"]!["requestBody"]!)["content"]!["application/json"]!["schema"]!
        #expect(Self.differences(budget, Self.json(BudgetBody(perHour: 5, action: "refuse", reason: "r")), at: "budget") == [])
        let limits = Self.resolve(Self.document["paths"]!["/admin/v1/clients/{name}/limits"]!["put"]!["requestBody"]!)["content"]!["application/json"]!["schema"]!
        #expect(Self.differences(limits, Self.json(ClientLimitsBody(limits: .init(rpm: 1, tpm: 2, spendPerDay: 3, concurrency: 4), reason: "r")), at: "limits") == [])
    }

    @Test func theEnumsListTheSameWords() {
        func words(_ schema: JSONValue) -> Set<String> { Set(schema["enum"]?.arrayValue?.compactMap(\.stringValue) ?? []) }
        #expect(words(Self.schema("Event")["properties"]!["kind"]!) == Set(EventKind.allCases.map(\.rawValue)))
        #expect(words(Self.schema("Provider")["properties"]!["state"]!) == Set(ProviderState.allCases.map(\.rawValue)))
        #expect(words(Self.schema("Provider")["properties"]!["circuit"]!["properties"]!["state"]!) == Set(CircuitState.allCases.map(\.rawValue)))
        #expect(words(Self.schema("Snapshot")["properties"]!["node"]!["properties"]!["state"]!) == Set(NodeState.allCases.map(\.rawValue)))
        #expect(words(Self.schema("StoreStatus")["properties"]!["kind"]!) == Set(StoreKind.allCases.map(\.rawValue)))
        #expect(words(Self.schema("Strategy")) == Set(RoutingStrategy.allCases.map(\.rawValue)))
        #expect(words(Self.schema("FaultKind")) == Set(FaultKind.allCases.map(\.rawValue)))
        #expect(words(Self.schema("BudgetAction")) == Set(BudgetAction.allCases.map(\.rawValue)))
        #expect(routingStrategies == RoutingStrategy.allCases.map(\.rawValue))
    }

    @Test func theCheckItselfSeesAMissingAndAnExtraField() {
        var value = Self.json(Self.fullSnapshot)
        guard case .object(var top) = value, case .object(var node) = top["node"]! else { Issue.record("not an object"); return }
        node["extra"] = 1
        node["version"] = nil
        top["node"] = .object(node)
        value = .object(top)
        let found = Self.differences(Self.responseSchema("/admin/v1/snapshot"), value, at: "snapshot")
        #expect(found.contains("snapshot.node.extra: in the type, not in the document"))
        #expect(found.contains("snapshot.node.version: in the document, not in the type"))
    }

    @Test func aLiveNodesAnswersDecodeIntoTheSharedTypes() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        let gate = try await TestFleet.gateway(TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]]))
        let client = TestClient()
        let auth = ["authorization": "Bearer \(TestFleet.operatorToken)"]
        for _ in 0..<5 { _ = try await client.chat(gate.url, model: "chat") }
        let written = try await client.request("POST", gate.adminURL + "/admin/v1/providers/a/drain", body: AdminAPI.encode(ReasonBody(reason: "test")), headers: auth)
        #expect(try AdminAPI.decode(Written.self, from: written.body).state.drainedProviders == ["a"])
        let snapshot = try AdminAPI.decode(Snapshot.self, from: try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: auth).body)
        #expect(snapshot.providers.map(\.id) == ["a", "b"] && snapshot.providers[0].state == .drained)
        #expect(snapshot.routes.first?.stats.oneMinute.requests == 5)
        let events = try AdminAPI.decode(EventPage.self, from: try await client.request("GET", gate.adminURL + "/admin/v1/events?since=0", headers: auth).body)
        #expect(events.items.map(\.kind).contains(.operatorAction))
        let audit = try AdminAPI.decode(AuditPage.self, from: try await client.request("GET", gate.adminURL + "/admin/v1/audit?since=0", headers: auth).body)
        #expect(audit.items.first?.reason == "test")
        let refused = try await client.request("POST", gate.adminURL + "/admin/v1/providers/zzz/drain", headers: auth)
        #expect(try AdminAPI.decode(ErrorBody.self, from: refused.body).error.code == "not_found")
        await client.shutdown()
        await gate.stop()
        await sim.stop()
    }
}
