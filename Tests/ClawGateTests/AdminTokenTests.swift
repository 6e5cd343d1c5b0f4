import ClawAdminAPI
@testable import ClawGateKit
import ClawTesting
import Crypto
import Foundation
import Testing

/// Admin tokens are kept as SHA-256, like client keys: a configuration may give the hash itself
/// (`sha256:`), and the tokens given in the clear (env, file) still work.
@Suite struct AdminTokenTests {
    static func hex(_ text: String) -> String { SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined() }

    @Test func aHashInTheConfigLetsTheTokenInAndNothingElse() async throws {
        let token = "alice-operator-token-0123456789"
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]], configure: { config in
            config.admin.tokens.append(.init(name: "alice", role: .operator, sha256: Self.hex(token)))
            config.admin.tokens.append(.init(name: "screen", role: .viewer, sha256: Self.hex("screen-viewer-token-0123456789").uppercased()))
        }) { _, gate, client in
            let drained = try await client.request("POST", gate.adminURL + "/admin/v1/providers/a/drain", headers: ["authorization": "Bearer \(token)"])
            #expect(drained.status == 200, "\(drained.text)")
            let audit = try AdminAPI.decode(AuditPage.self, from: try await client.request("GET", gate.adminURL + "/admin/v1/audit",
                                                                                            headers: ["authorization": "Bearer \(token)"]).body)
            #expect(audit.items.last?.actor == "alice")
            // The hash itself is not a token, and a viewer's hash gives a viewer.
            #expect(try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: ["authorization": "Bearer \(Self.hex(token))"]).status == 401)
            #expect(try await client.request("POST", gate.adminURL + "/admin/v1/providers/a/undrain",
                                             headers: ["authorization": "Bearer screen-viewer-token-0123456789"]).status == 403)
            // The plain form (an env var) still works beside it.
            #expect(try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: ["authorization": "Bearer \(TestFleet.operatorToken)"]).status == 200)
            #expect(try await client.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: ["authorization": "Bearer \(token)x"]).status == 401)
        }
    }

    @Test func onlyTheHashIsKept() throws {
        let auth = try AdminAuth.load([.init(name: "ops", role: .operator, env: "T")], environment: ["T": "plain-token-0123456789"])
        #expect(auth.tokens.first?.digest == Array(SHA256.hash(data: Array("plain-token-0123456789".utf8))))
        #expect(auth.authenticate("Bearer plain-token-0123456789")?.name == "ops")
        #expect(auth.authenticate("Bearer plain-token-012345678") == nil)
    }
}
