import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Checks driven from the shared table of admin endpoints (`AdminEndpoint.all`, which the gateway
/// registers and the console calls), so an endpoint added to the table is covered without
/// touching this file: the gateway answers exactly the table; every endpoint refuses a caller
/// without a token (401) and, when its role is operator, a viewer (403); and every one is in the
/// OpenAPI document with the same body fields, and the document names no endpoint the table lacks.
@Suite(.serialized) struct AdminTableTests {
    /// A path of the table with its parameters filled in.
    static func concrete(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
            switch part {
            case ":id": "a"
            case ":alias": "chat"
            case ":tier": "0"
            case ":name": "bob"
            default: part.hasPrefix(":") ? "x" : String(part)
            }
        }.joined(separator: "/")
    }

    @Test func theGatewayAnswersExactlyTheSharedTable() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a")])
        let gate = try await TestFleet.gateway(TestFleet.config(simulator: sim, routes: ["chat": [[("a", 100)]]]))
        let registered = gate.gateway.adminEndpoints().map(\.endpoint.description)
        #expect(registered == AdminEndpoint.all.map(\.description))
        #expect(Set(registered).count == registered.count, "an endpoint twice")
        await gate.stop()
        await sim.stop()
    }

    @Test func everyEndpointRefusesNoTokenAndEveryWriteRefusesAViewer() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
        config.clients = [.init(name: "bob", keyEnv: "CLAW_TEST_BOB_KEY")]
        let gate = try await TestFleet.gateway(config)
        let client = TestClient()
        let endpoints = AdminEndpoint.all
        #expect(endpoints.count >= 20, "the table lists \(endpoints.count) endpoints")
        let viewer = ["authorization": "Bearer \(TestFleet.viewerToken)"]
        var writes = 0
        for endpoint in endpoints {
            let url = gate.adminURL + AdminEndpoint.prefix + Self.concrete(endpoint.path)
            let method = endpoint.method.rawValue
            let body: Data? = method == "GET" ? nil : Data("{}".utf8)
            let none = try await client.request(method, url, body: body)
            #expect(none.status == 401, "\(method) \(endpoint.path) without a token: \(none.status)")
            #expect(none.json?["error"]?["code"]?.stringValue == "unauthorized" && none.header("www-authenticate") == "Bearer", "\(method) \(endpoint.path)")
            let wrong = try await client.request(method, url, body: body, headers: ["authorization": "Bearer not-a-token-0123456789"])
            #expect(wrong.status == 401, "\(method) \(endpoint.path) with a wrong token: \(wrong.status)")
            let asViewer = try await client.request(method, url, body: body, headers: viewer)
            if endpoint.role == .viewer {
                #expect(asViewer.status == 200, "\(method) \(endpoint.path) as a viewer: \(asViewer.status) \(asViewer.text)")
            } else {
                writes += 1
                #expect(asViewer.status == 403 && asViewer.json?["error"]?["code"]?.stringValue == "forbidden",
                        "\(method) \(endpoint.path) as a viewer: \(asViewer.status)")
                #expect(!asViewer.text.contains(TestFleet.viewerToken))
            }
        }
        #expect(writes >= 12)
        // Nothing above changed the node.
        #expect(gate.gateway.state.operatorState.revision == 0)
        await client.shutdown()
        await gate.stop()
        await sim.stop()
        if let dir = config.admin.stateDir { try? FileManager.default.removeItem(atPath: dir) }
    }

    @Test func theOpenAPIDocumentListsExactlyTheTablesEndpoints() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a")])
        let config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 100)]]])
        let gate = try await TestFleet.gateway(config)
        // "/providers/:id/drain" -> "/admin/v1/providers/{id}/drain"
        let table = Set(AdminEndpoint.all.map { endpoint in
            let path = endpoint.path.split(separator: "/", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            return "\(endpoint.method.rawValue.lowercased()) /admin/v1\(path)"
        })
        var documented: Set<String> = []
        for (path, item) in WireModelTests.document["paths"]?.objectValue ?? [:] where path.hasPrefix("/admin/v1") {
            for method in ["get", "put", "post", "delete", "patch"] where item[method] != nil { documented.insert("\(method) \(path)") }
        }
        #expect(table.subtracting(documented).sorted() == [], "in the table, not in openapi.yaml")
        #expect(documented.subtracting(table).sorted() == [], "in openapi.yaml, not in the table")
        // Each write's body: the table's fields and `reason`, as the document's schema lists them.
        let document = WireModelTests.document
        func resolve(_ value: JSONValue?) -> JSONValue? {
            guard let ref = value?["$ref"]?.stringValue else { return value }
            return resolve(ref.dropFirst(2).split(separator: "/").reduce(document as JSONValue?) { $0?[String($1)] })
        }
        for endpoint in AdminEndpoint.all {
            let path = endpoint.path.split(separator: "/", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            let operation = document["paths"]?[AdminEndpoint.prefix + path]?[endpoint.method.rawValue.lowercased()]
            let schema = resolve(resolve(operation?["requestBody"])?["content"]?["application/json"]?["schema"])
            if endpoint.request == nil {
                #expect(schema == nil, "\(endpoint): a read with a body in openapi.yaml")
            } else {
                let properties = Set(schema?["properties"]?.objectValue?.keys.map { $0 } ?? [])
                #expect(properties == Set(endpoint.fields + ["reason"]), "\(endpoint): openapi.yaml's body fields \(properties.sorted())")
            }
        }
        await gate.stop()
        await sim.stop()
    }

    /// The console's side of the table and the gateway's agree for every command: the request a
    /// command builds (`OperatorCommand.request`, what clawtop sends) is decoded by a live node
    /// into the same command, so the node ends in the state the core's `apply` predicts.
    @Test func everyCommandsRequestIsDecodedByTheNodeIntoTheSameCommand() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b"), TestFleet.provider("c")])
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)], [("c", 100)]]])
        config.clients = [.init(name: "bob", keyEnv: "CLAW_TEST_BOB_KEY"), .init(name: "alice", keyEnv: "CLAW_TEST_ALICE_KEY")]
        let gate = try await TestFleet.gateway(config)
        let client = TestClient()
        var other = OperatorState()
        other.blockedClients = ["alice"]
        other.clientLimits = ["alice": .init(rpm: 7)]
        other.weights = ["chat": ["a": 20]]
        let commands: [OperatorCommand] = [
            .drainProvider("a"), .undrainProvider("a"), .failoverProvider("a", to: ["b"]), .restoreProvider("a"), .failoverProvider("b", to: []),
            .setWeights(route: "chat", weights: ["a": 30, "b": 70]), .setStrategy(route: "chat", strategy: .latency),
            .setBudget(route: "chat", perHour: 5, action: .refuse), .setBudget(route: "chat", perHour: 7, action: nil),
            .failoverTier(route: "chat", tier: 0, to: ["c"]), .restoreTier(route: "chat", tier: 0),
            .blockClient("bob"), .setClientLimits(client: "bob", limits: .init(rpm: 5, spendPerDay: 2.5)), .unblockClient("bob"),
            .setFault(provider: "a", spec: .init(kind: .latency, ratio: 0.5, extraMs: 100, duration: 60)), .endFault("a"),
            .setFault(provider: "c", spec: .init(kind: .error, status: 429, duration: 30)),
            .replaceState(other.document), .drainNode, .undrainNode,
        ]
        /// Times aside (the node's clock stamps failovers and faults).
        func content(_ d: StateDocument) -> StateDocument {
            var d = d
            d.revision = 0
            d.failovers = d.failovers.map { var f = $0; f.since = 0; f.reason = nil; return f }
            d.faults = d.faults.map { var f = $0; f.since = 0; f.until = 0; f.reason = nil; f.actor = nil; return f }
            return d
        }
        let operatorToken = ["authorization": "Bearer \(TestFleet.operatorToken)"]
        for command in commands {
            let request = try #require(command.request(reason: "table"))
            let before = gate.gateway.state.operatorState
            let predicted = try command.apply(to: before, config: config, now: 0, reason: "table").next
            let answer = try await client.request(request.method, gate.adminURL + request.path, body: Data(request.body.bytes()), headers: operatorToken)
            #expect(answer.status == 200, "\(request.endpoint) for \(command.action): \(answer.status) \(answer.text)")
            #expect(content(gate.gateway.state.operatorState.document) == content(predicted.document), "\(command.action)")
        }
        #expect(gate.gateway.state.operatorState.blockedClients == ["alice"] && gate.gateway.state.operatorState.clientLimits["alice"]?.rpm == 7)
        await client.shutdown()
        await gate.stop()
        await sim.stop()
        if let dir = config.admin.stateDir { try? FileManager.default.removeItem(atPath: dir) }
    }
}
