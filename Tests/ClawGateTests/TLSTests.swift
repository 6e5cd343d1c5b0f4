import AsyncHTTPClient
import ClawAdminAPI
@testable import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// Both listeners over TLS with certificates made by `openssl`: mutual TLS refuses a client without
/// a certificate, the audit names the caller's certificate and address, and a reload serves a new
/// certificate to new connections while an open stream goes on.
@Suite(.serialized) struct TLSTests {
    let op = ["authorization": "Bearer \(TestFleet.operatorToken)"]

    struct Setup {
        let certs: TestCertificates
        let server: TestCertificates.Pair
        let alice: TestCertificates.Pair
    }

    func certificates() throws -> Setup {
        let certs = try TestCertificates.make()
        return Setup(certs: certs, server: try certs.issue("server", subject: "/CN=first", server: true),
                     alice: try certs.issue("alice", subject: "/O=ops/CN=alice"))
    }

    /// The port of an `https://127.0.0.1:PORT` URL.
    func port(_ url: String) -> Int { Int(url.split(separator: ":").last!)! }

    @Test func mutualTLSRefusesAClientWithoutACertificateAndServesOneWithIt() async throws {
        let s = try certificates()
        defer { s.certs.remove() }
        let stranger = try TestCertificates.make(name: "another CA")
        defer { stranger.remove() }
        let mallory = try stranger.issue("mallory", subject: "/CN=mallory")
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]], configure: { config in
            config.tls = .init(certFile: s.server.cert, keyFile: s.server.key, clientCAFile: s.certs.ca)
            config.admin.tls = .init(certFile: s.server.cert, keyFile: s.server.key, clientCAFile: s.certs.ca)
        }) { _, gate, _ in
            #expect(gate.url.hasPrefix("https://") && gate.adminURL.hasPrefix("https://"))
            let alice = TestClient(tls: try s.certs.clientConfiguration(client: s.alice))
            let chat = try await alice.chat(gate.url, model: "chat")
            #expect(chat.status == 200, "\(chat.text)")
            let snapshot = try await alice.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: op)
            #expect(snapshot.status == 200)
            await alice.shutdown()
            // No certificate, a certificate of another CA, and plain HTTP: no answer at all.
            let anonymous = TestClient(tls: try s.certs.clientConfiguration())
            await #expect(throws: (any Error).self) { _ = try await anonymous.chat(gate.url, model: "chat") }
            await #expect(throws: (any Error).self) { _ = try await anonymous.request("GET", gate.adminURL + "/admin/v1/snapshot", headers: op) }
            await anonymous.shutdown()
            let foreign = TestClient(tls: try s.certs.clientConfiguration(client: mallory))
            await #expect(throws: (any Error).self) { _ = try await foreign.chat(gate.url, model: "chat") }
            await foreign.shutdown()
            let plain = TestClient()
            let overHTTP = try? await plain.request("GET", gate.url.replacingOccurrences(of: "https://", with: "http://") + "/healthz")
            #expect(overHTTP?.status != 200)
            await plain.shutdown()
        }
    }

    @Test func theAuditNamesTheCallersCertificateAndAddress() async throws {
        let s = try certificates()
        defer { s.certs.remove() }
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]], configure: { config in
            config.admin.tls = .init(certFile: s.server.cert, keyFile: s.server.key, clientCAFile: s.certs.ca)
        }) { _, gate, _ in
            let alice = TestClient(tls: try s.certs.clientConfiguration(client: s.alice))
            let drained = try await alice.request("POST", gate.adminURL + "/admin/v1/providers/a/drain", body: AdminAPI.encode(ReasonBody(reason: "tls")), headers: op)
            #expect(drained.status == 200, "\(drained.text)")
            let page = try AdminAPI.decode(AuditPage.self, from: try await alice.request("GET", gate.adminURL + "/admin/v1/audit", headers: op).body)
            await alice.shutdown()
            #expect(page.items.count == 1)
            #expect(page.items.first?.certificate == "CN=alice,O=ops")
            let address = page.items.first?.address ?? ""
            #expect(address.hasPrefix("127.0.0.1:") && Int(address.dropFirst("127.0.0.1:".count)).map { $0 > 0 } == true, "\(address)")
            // Kept across a restart: the record on disk says the same.
            let saved = StateStore(directory: gate.gateway.config.admin.stateDir!).loadAudit(limit: 10)
            #expect(saved.first?.certificate == "CN=alice,O=ops" && saved.first?.address == address)
        }
        // Without TLS the address is kept and the certificate is null.
        try await TestFleet.withFleet([TestFleet.provider("a"), TestFleet.provider("b")], routes: ["chat": [[("a", 50), ("b", 50)]]]) { _, gate, client in
            _ = try await client.request("POST", gate.adminURL + "/admin/v1/providers/a/drain", headers: op)
            let audit = try await client.request("GET", gate.adminURL + "/admin/v1/audit", headers: op)
            let entry = audit.json?["entries"]?.arrayValue?.first
            #expect(entry?["certificate"] == .null && entry?["address"]?.stringValue?.hasPrefix("127.0.0.1:") == true, "\(audit.text)")
        }
    }

    @Test func aReloadServesTheNewCertificateToNewConnectionsWhileAnOpenStreamGoesOn() async throws {
        let s = try certificates()
        defer { s.certs.remove() }
        let next = try s.certs.issue("second", subject: "/CN=second", server: true)
        // Streams of 40 tokens at 20 a second: two seconds, across the reload.
        try await TestFleet.withFleet([TestFleet.provider("a", ["tokens_per_second": 20, "completion_tokens": 40])], routes: ["chat": [[("a", 100)]]],
                                      configure: { config in
            config.tls = .init(certFile: s.server.cert, keyFile: s.server.key)
        }) { _, gate, _ in
            let trust = try s.certs.clientConfiguration()
            #expect(try await TLSProbe.serverSubject(port: port(gate.url), tls: trust) == "CN=first")
            let client = TestClient(tls: trust)
            let stream = Task { try await client.chat(gate.url, model: "chat", stream: true) }
            try await Task.sleep(for: .milliseconds(600))
            // The operator puts the new files in place and sends SIGHUP.
            try FileManager.default.removeItem(atPath: s.server.cert)
            try FileManager.default.removeItem(atPath: s.server.key)
            try FileManager.default.copyItem(atPath: next.cert, toPath: s.server.cert)
            try FileManager.default.copyItem(atPath: next.key, toPath: s.server.key)
            let reloads = gate.reloadTLS()
            #expect(reloads.count == 1 && reloads[0].error == nil && reloads[0].subject == "CN=second")
            #expect(try await TLSProbe.serverSubject(port: port(gate.url), tls: trust) == "CN=second")
            // The stream that was open on the old certificate ends whole.
            let answer = try await stream.value
            #expect(answer.status == 200)
            let events = answer.text.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: {") }
            #expect(events.count >= 40, "\(events.count) events")
            #expect(answer.text.contains("data: [DONE]"))
            #expect(answer.chunkTimes.last ?? 0 > 1.0, "the stream did not span the reload")
            // Files that do not load are refused, naming the key, and the certificate in force stays.
            try "not a certificate".write(toFile: s.server.cert, atomically: true, encoding: .utf8)
            let refused = gate.reloadTLS()
            #expect(refused.first?.error?.contains("tls.cert_file") == true, "\(refused)")
            #expect(refused.first?.subject == "CN=second")
            #expect(try await TLSProbe.serverSubject(port: port(gate.url), tls: trust) == "CN=second")
            let plain = TestClient()
            let metrics = try await plain.request("GET", gate.adminURL + "/metrics")
            await plain.shutdown()
            #expect(metrics.text.contains(#"clawgate_tls_reloads_total{listener="data",outcome="ok"} 1"#))
            #expect(metrics.text.contains(#"clawgate_tls_reloads_total{listener="data",outcome="failed"} 1"#))
            #expect(metrics.text.contains(#"clawgate_tls_certificate_expiry_timestamp_seconds{listener="data"}"#))
            await client.shutdown()
        }
    }

    @Test func aConnectionOverTheCapIsClosedAtOnceWithoutAHandshake() async throws {
        let s = try certificates()
        defer { s.certs.remove() }
        let start = Date()
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]], configure: { config in
            config.tls = .init(certFile: s.server.cert, keyFile: s.server.key)
            config.limits.maxConnections = 1
        }) { _, gate, _ in
            let holder = TestClient(tls: try s.certs.clientConfiguration())
            #expect(try await holder.request("GET", gate.url + "/healthz").status == 200)  // its connection stays open
            let late = TestClient(tls: try s.certs.clientConfiguration())
            await #expect(throws: (any Error).self) { _ = try await late.request("GET", gate.url + "/healthz") }
            await late.shutdown()
            let metrics = try await holder.request("GET", gate.adminURL.replacingOccurrences(of: "https", with: "http") + "/metrics")
            // Counted (the HTTP client tries again a few times).
            #expect(metrics.text.contains(#"clawgate_connections_refused_total{listener="data"} "#)
                    && !metrics.text.contains(#"clawgate_connections_refused_total{listener="data"} 0"#))
            await holder.shutdown()
        }
        // Nothing lingers: the node stops at once (a TLS shutdown waits up to 5 s for its peer).
        #expect(Date().timeIntervalSince(start) < 3)
    }

    @Test func aHandshakeThatNeverEndsIsAnIdleConnection() async throws {
        let s = try certificates()
        defer { s.certs.remove() }
        try await TestFleet.withFleet([TestFleet.provider("a")], routes: ["chat": [[("a", 100)]]], configure: { config in
            config.tls = .init(certFile: s.server.cert, keyFile: s.server.key)
            config.limits.idleTimeout = 0.5
            config.limits.headerTimeout = 30
        }) { _, gate, _ in
            // The first bytes of a ClientHello, then nothing: the socket is closed by the idle clock.
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port(gate.url)).get()
            try await channel.writeAndFlush(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x80, 0x01])).get()
            let start = Date()
            let closed = Task { try await channel.closeFuture.get() }
            let timeout = Task { try await Task.sleep(for: .seconds(5)); try await channel.close() }
            try await closed.value
            timeout.cancel()
            let took = Date().timeIntervalSince(start)
            #expect(took < 3, "closed after \(took) s")
            // Its slot is free again (the node's side of the close lands a moment later).
            for _ in 0..<100 where gate.gateway.dataListener.openConnections != 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(gate.gateway.dataListener.openConnections == 0)
        }
    }

    @Test func filesThatDoNotLoadRefuseTheStartNamingTheKey() async throws {
        let s = try certificates()
        defer { s.certs.remove() }
        let other = try s.certs.issue("other", subject: "/CN=other", server: true)
        let sim = try await TestFleet.simulator([TestFleet.provider("a")])
        func start(_ tls: GatewayConfig.ListenerTLS, admin: Bool = false) async -> String {
            var config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 100)]]])
            if admin { config.admin.tls = tls } else { config.tls = tls }
            do {
                let gate = try await TestFleet.gateway(config)
                await gate.stop()
                return "started"
            } catch {
                return "\(error)"
            }
        }
        #expect(await start(.init(certFile: s.server.cert + ".missing", keyFile: s.server.key)).contains("tls.cert_file: cannot load"))
        #expect(await start(.init(certFile: s.server.cert, keyFile: s.server.cert)).contains("tls.key_file: cannot load"))
        #expect(await start(.init(certFile: s.server.cert, keyFile: other.key), admin: true).contains("admin.tls: "))
        #expect(await start(.init(certFile: s.server.cert, keyFile: s.server.key, clientCAFile: "/nonexistent")).contains("tls.client_ca_file"))
        #expect(await start(.init(certFile: s.server.cert, keyFile: s.server.key)) == "started")
        await sim.stop()
    }
}
