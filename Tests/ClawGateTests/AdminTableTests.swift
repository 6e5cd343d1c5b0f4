import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// Checks driven from the gateway's own table of admin endpoints (`adminEndpoints()`), so an
/// endpoint added to the table is covered without touching this file: every one refuses a
/// caller without a token (401) and, when it writes, a viewer (403); and every one is in the
/// OpenAPI document, and the document names no endpoint the table lacks.
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

    @Test func everyEndpointRefusesNoTokenAndEveryWriteRefusesAViewer() async throws {
        let sim = try await TestFleet.simulator([TestFleet.provider("a"), TestFleet.provider("b")])
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 50)]]])
        config.clients = [.init(name: "bob", keyEnv: "CLAW_TEST_BOB_KEY")]
        let gate = try await TestFleet.gateway(config)
        let client = TestClient()
        let endpoints = gate.gateway.adminEndpoints()
        #expect(endpoints.count >= 20, "the table lists \(endpoints.count) endpoints")
        let viewer = ["authorization": "Bearer \(TestFleet.viewerToken)"]
        var writes = 0
        for endpoint in endpoints {
            let url = gate.adminURL + "/admin/v1" + Self.concrete(endpoint.path)
            let method = endpoint.method.rawValue
            let body: Data? = method == "GET" ? nil : Data("{}".utf8)
            let none = try await client.request(method, url, body: body)
            #expect(none.status == 401, "\(method) \(endpoint.path) without a token: \(none.status)")
            #expect(none.json?["error"]?["code"]?.stringValue == "unauthorized" && none.header("www-authenticate") == "Bearer", "\(method) \(endpoint.path)")
            let wrong = try await client.request(method, url, body: body, headers: ["authorization": "Bearer not-a-token-0123456789"])
            #expect(wrong.status == 401, "\(method) \(endpoint.path) with a wrong token: \(wrong.status)")
            let asViewer = try await client.request(method, url, body: body, headers: viewer)
            if endpoint.method == .get {
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
        let gateway = gate.gateway
        // "/providers/:id/drain" -> "/admin/v1/providers/{id}/drain"
        let table = Set(gateway.adminEndpoints().map { endpoint in
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
        await gate.stop()
        await sim.stop()
    }
}
