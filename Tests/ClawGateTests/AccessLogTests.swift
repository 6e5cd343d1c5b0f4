import ClawGateKit
import ClawShared
import ClawSimKit
import ClawTesting
import Foundation
import Testing

/// The JSON access log: one line per client request with its ids and every attempt, written off
/// the request path; the file is reopened when asked (SIGHUP, for logrotate).
@Suite(.serialized) struct AccessLogTests {
    static let base = """
        node_id: n1
        providers:
          - {id: a, base_url: http://127.0.0.1:9001/v1}
        routes:
          - {alias: chat, tiers: [[{provider: a, model: m, weight: 1}]]}

        """

    @Test func theConfigTakesAFileOrStdoutAndRefusesTheRest() throws {
        #expect(try GatewayConfig.parse(yaml: Self.base + "access_log: {path: stdout}").accessLog == .stdout)
        #expect(try GatewayConfig.parse(yaml: Self.base + "access_log: {path: /var/log/clawgate/access.log}").accessLog == .file("/var/log/clawgate/access.log"))
        #expect(try GatewayConfig.parse(yaml: Self.base).accessLog == nil)  // off by default
        for (text, path) in [("access_log: {path: ''}", "access_log.path"), ("access_log: {file: x}", "access_log.file"),
                             ("access_log: {}", "access_log.path"), ("access_log: stdout", "access_log")] {
            do {
                _ = try GatewayConfig.parse(yaml: Self.base + text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.problems.map(\.path).contains(path), "\(text): \(error.problems)")
            }
        }
    }

    @Test func aFileThatCannotBeOpenedRefusesTheStartSayingWhy() {
        do {
            _ = try AccessLog(target: .file("/nonexistent-dir/access.log"))
            Issue.record("opened a file in a folder that does not exist")
        } catch {
            #expect(error.description.contains("access_log.path: cannot open '/nonexistent-dir/access.log'"))
        }
    }

    func lines(_ path: String) throws -> [JSONValue] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { try JSONValue.parse(Data($0.utf8)) }
    }

    @Test func aFailoverIsOneLineWithBothAttemptsAndARefusalIsALineToo() async throws {
        let dir = NSTemporaryDirectory() + "clawgate-access-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/access.log"
        let sim = try await TestFleet.simulator([TestFleet.provider("bad", ["error_rate": 1]), TestFleet.provider("good")])
        var config = TestFleet.config(simulator: sim, routes: ["chat": [[("bad", 1000), ("good", 1)]]], prices: ["good": (1, 2)])
        config.accessLog = .file(path)
        let gate = try await TestFleet.gateway(config)
        let client = TestClient()
        do {
            let body: JSONValue = ["model": "chat", "messages": [["role": "user", "content": "the secret words"]]]
            let r = try await client.request("POST", gate.url + "/v1/chat/completions", body: body.encoded(),
                                             headers: ["x-request-id": "log-1", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])
            #expect(r.status == 200)
            let refused = try await client.request("POST", gate.url + "/v1/chat/completions", body: Data(#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#.utf8),
                                                   headers: ["x-request-id": "log-2"])
            #expect(refused.status == 404)
            gate.gateway.accessLog!.flush()
            let all = try lines(path)
            let line = try #require(all.first { $0["request_id"]?.stringValue == "log-1" })
            #expect(line["trace_id"]?.stringValue == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(line["route"]?.stringValue == "chat" && line["endpoint"]?.stringValue == "chat" && line["stream"]?.boolValue == false)
            #expect(line["status"]?.intValue == 200 && line["served_by"]?.stringValue == "good" && line["fault"]?.stringValue == "none")
            let attempts = try #require(line["attempts"]?.arrayValue)
            #expect(attempts.compactMap { $0["provider"]?.stringValue } == ["bad", "good"])
            let failed = attempts[0]["status"]?.intValue ?? 0
            #expect((500..<600).contains(failed) && attempts[0]["outcome"]?.stringValue == "status_\(failed)" && attempts[0]["fault"]?.stringValue == "provider")
            #expect(attempts[1]["status"]?.intValue == 200 && (attempts[1]["ms"]?.doubleValue ?? -1) >= 0)
            #expect((line["total_ms"]?.doubleValue ?? 0) > 0 && (line["tokens_out"]?.intValue ?? 0) > 0 && (line["cost_dollars"]?.doubleValue ?? 0) > 0)
            #expect(line["time"]?.stringValue?.hasSuffix("Z") == true && line["client"] == .null)
            let other = try #require(all.first { $0["request_id"]?.stringValue == "log-2" })
            #expect(other["status"]?.intValue == 404 && other["attempts"]?.arrayValue?.isEmpty == true)
            // No message content in any line.
            #expect(!((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("secret words"))

            // Rotated away and reopened: the next line goes to a new file at the path.
            try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
            gate.gateway.accessLog!.reopen()
            _ = try await client.request("POST", gate.url + "/v1/chat/completions", body: body.encoded(), headers: ["x-request-id": "log-3"])
            gate.gateway.accessLog!.flush()
            #expect(try lines(path).map { $0["request_id"]?.stringValue } == ["log-3"])
            #expect(try lines(path + ".1").count == 2)
        } catch {
            Issue.record(error)
        }
        await client.shutdown()
        await gate.stop()
        await sim.stop()
    }

    @Test func theLineIsValidJSONWhateverTheIdsHold() throws {
        let trace = RequestTrace(requestID: #"a"b\c"#, traceID: "4bf92f3577b34da6a3ce929d0e0e4736", parentSpanID: nil, spanID: "00f067aa0ba902b7",
                                 sampled: false, traceState: nil)
        let ledger = RequestLedger(trace: trace, endpoint: "chat", start: 0, startedAt: 1_700_000_000.5)
        ledger.client = "web\u{1b}[31m"
        ledger.seconds = 0.0123456
        var out: [UInt8] = []
        AccessLog.encode(ledger, into: &out)
        let line = try JSONValue.parse(Data(out.dropLast()))
        #expect(out.last == UInt8(ascii: "\n") && !out.dropLast().contains(UInt8(ascii: "\n")))
        #expect(line["request_id"]?.stringValue == #"a"b\c"# && line["client"]?.stringValue == "web\u{1b}[31m")
        #expect(line["time"]?.stringValue == "2023-11-14T22:13:20.500Z" && line["total_ms"]?.doubleValue == 12.346)
    }
}
