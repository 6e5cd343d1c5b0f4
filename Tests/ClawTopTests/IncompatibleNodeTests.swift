import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// A node whose answer does not decode is `incompatible`, with the field that failed; never healthy.
@Suite struct IncompatibleNodeTests {
    /// The sample snapshot as JSON, changed by `edit`, decoded as the poller does.
    func decode(_ edit: (inout [String: JSONValue]) -> Void) -> Result<Snapshot, DecodeFailure> {
        guard case .object(var top) = try! JSONValue.parse(bytes: AdminAPI.encode(sampleSnapshot())) else { fatalError() }
        edit(&top)
        let bytes = JSONValue.object(top).bytes()
        return Result { () throws(DecodeFailure) in try AdminAPI.decode(Snapshot.self, from: bytes) }
    }

    @Test func theFailureNamesTheField() {
        let missing = decode { top in
            guard case .array(var providers) = top["providers"]!, case .object(var first) = providers[0] else { return }
            first["state"] = nil
            providers[0] = .object(first)
            top["providers"] = .array(providers)
        }
        #expect(missing.failure == DecodeFailure(field: "providers[0].state", reason: "missing"))
        let wrongType = decode { top in
            guard case .object(var node) = top["node"]! else { return }
            node["in_flight"] = "many"
            top["node"] = .object(node)
        }
        #expect(wrongType.failure?.field == "node.in_flight")
        let unknownWord = decode { top in
            guard case .object(var node) = top["node"]! else { return }
            node["state"] = "resting"
            top["node"] = .object(node)
        }
        #expect(unknownWord.failure?.field == "node.state")
        #expect(decode { _ in }.failure == nil)
        let notJSON = Result { () throws(DecodeFailure) in try AdminAPI.decode(Snapshot.self, from: Array("<html>".utf8)) }
        #expect(notJSON.failure?.field == "" && notJSON.failure?.reason.hasPrefix("not JSON") == true)
    }

    /// A provider or circuit word from a newer gateway is not a broken answer: the node stays
    /// compatible, the word shows as it came, and it counts as trouble (degraded), not as healthy.
    @Test func aNewerGatewaysStateWordsDecodeAndShow() throws {
        let decoded = decode { top in
            guard case .array(var providers) = top["providers"]!, case .object(var first) = providers[0],
                  case .object(var circuit) = first["circuit"]! else { return }
            first["state"] = "quarantined"
            circuit["state"] = "half_open"
            first["circuit"] = .object(circuit)
            providers[0] = .object(first)
            top["providers"] = .array(providers)
        }
        let snapshot = try decoded.get()
        #expect(snapshot.providers[0].state == .other("quarantined") && snapshot.providers[0].circuit.state == .other("half_open"))
        #expect(try JSONValue.parse(bytes: AdminAPI.encode(snapshot.providers[0]))["state"]?.stringValue == "quarantined", "encoded as it came")
        var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1"], staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: 120, height: 30))
        Reducer.reduce(&state, .polled(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil, at: 1000))
        #expect(state.fleet.nodes[0].health(now: 1000, staleAfter: 6) == "serving")
        let row = try #require(state.fleet.rows.first { $0.id == "fast" })
        #expect(row.state == .other("quarantined") && row.circuit == .other("half_open"))
        let status = state.fleet.status(now: 1000)
        #expect(status.code == 1 && status.reasons.contains("provider fast is quarantined"), "\(status.reasons)")
        Reducer.reduce(&state, .selectPane(.providers))
        let line = try #require(View.render(state).lines.first { $0.contains("fast") })
        #expect(line.contains("quarantined") && line.contains("half_open"), "\(line)")
        let report = SnapshotReport.json(state.fleet, now: 1000)
        let reported = report["providers"]?.arrayValue?.first { $0["id"]?.stringValue == "fast" }
        #expect(reported?["state"]?.stringValue == "quarantined" && reported?["state_nodes"]?["quarantined"]?.doubleValue == 1)
    }

    @Test func anIncompatibleNodeIsShownAsSuchAndNeverAsHealthy() throws {
        var state = sampleState(width: 120, height: 30)
        #expect(state.fleet.rows.map(\.id) == ["fast", "slow"])
        let failure = DecodeFailure(field: "providers[0].state", reason: "missing")
        Reducer.reduce(&state, .polled(index: 0, snapshot: nil, raw: nil, events: [], error: nil, incompatible: failure, at: 1001))
        Reducer.reduce(&state, .polled(index: 1, snapshot: nil, raw: nil, events: [], error: "connection refused", at: 1001))
        #expect(state.fleet.nodes[0].health(now: 1001, staleAfter: 6) == "incompatible")
        #expect(state.fleet.rows.isEmpty, "its old providers are not shown as they were")
        let status = state.fleet.status(now: 1001)
        #expect(status.code == 3)
        #expect(status.reasons.contains { $0.contains("incompatible") && $0.contains("providers[0].state: missing") }, "\(status.reasons)")
        Reducer.reduce(&state, .selectPane(.nodes))
        let screen = View.render(state)
        let row = try #require(screen.lines.first { $0.contains("127.0.0.1:1") })
        #expect(row.contains("incompatible"))
        #expect(screen.text.contains("providers[0].state: missing"))
        let report = SnapshotReport.json(state.fleet, now: 1001)
        let node = report["nodes"]?.arrayValue?.first
        #expect(node?["state"]?.stringValue == "incompatible" && node?["incompatible"]?["field"]?.stringValue == "providers[0].state")
        // A good answer again clears it.
        let snapshot = sampleSnapshot()
        Reducer.reduce(&state, .polled(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil, at: 1002))
        Reducer.reduce(&state, .polled(index: 1, snapshot: nil, raw: nil, events: [], error: "connection refused", at: 1002))
        #expect(state.fleet.nodes[0].health(now: 1002, staleAfter: 6) == "serving")
    }
}

extension Result {
    var failure: Failure? { if case .failure(let f) = self { f } else { nil } }
}
