import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// The console over a fleet whose operator state lives in etcd.
@Suite struct FleetStoreConsoleTests {
    func state(revisions: [Int], reachable: [Bool]) -> AppState {
        var state = AppState(fleet: Fleet(urls: revisions.indices.map { "http://127.0.0.1:\(9000 + $0)" }, staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: 140, height: 30))
        let polls = revisions.indices.map { i -> NodePoll in
            var snapshot = sampleSnapshot()
            snapshot.node.id = "node-\(i + 1)"
            snapshot.node.revision = revisions[i]
            snapshot.node.store = StoreStatus(kind: .etcd, reachable: reachable[i], error: reachable[i] ? nil : "connection refused")
            return NodePoll(index: i, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)
        }
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: polls, at: 999)))
        return state
    }

    @Test func anActionIsOneWriteThroughANodeThatReachesTheStore() throws {
        let fleet = state(revisions: [4, 4, 4], reachable: [false, true, true]).fleet
        let plan = try Command.drainProvider("fast").plan(fleet: fleet, reason: nil, now: 0).get()
        #expect(plan.calls.count == 1 && plan.calls[0].node == 1)
        #expect(plan.summary == "Drain provider fast on the fleet (1 write to the fleet store through node-2; 3 nodes apply it)")
        let none = state(revisions: [4, 4], reachable: [false, false]).fleet
        #expect(Command.drainProvider("fast").plan(fleet: none, reason: nil, now: 0).failureText?.contains("no node reaches the fleet store") == true)
    }

    @Test func aNodeBehindOrCutOffFromTheStoreIsDegradedAndTheHeaderSaysSo() {
        let behind = state(revisions: [5, 4, 5], reachable: [true, true, true])
        let status = behind.fleet.status(now: 1000)
        #expect(status.code == 1 && status.reasons.contains("node node-2 is at revision 4, the highest is 5 (behind the fleet store)"), "\(status.reasons)")
        #expect(View.render(behind).line(0).contains("store ok"))
        let cut = state(revisions: [5, 5], reachable: [true, false])
        #expect(cut.fleet.status(now: 1000).reasons.contains { $0.hasPrefix("node node-2 cannot reach the fleet store: connection refused") })
        #expect(View.render(cut).line(0).contains("store down"))
        #expect(SnapshotReport.json(cut.fleet, now: 1000)["fleet"]?["store_reachable"]?.boolValue == false)
    }

    @Test func aWriteStaysPendingUntilEveryNodeAppliedItsRevisionAndTheLagShows() throws {
        var state = state(revisions: [4, 4, 4], reachable: [true, true, true])
        Reducer.handle(&state, .character("d"))
        Reducer.handle(&state, .character("y"))
        let effects = Reducer.handle(&state, .enter)
        guard case .send(let plan)? = effects.first else { Issue.record("no send"); return }
        let subject = plan.command.subject
        Reducer.reduce(&state, .actionResults(subject: subject, summary: plan.summary,
                                              results: [NodeResult(node: "node-1", ok: true, message: "ok", revision: 5)], at: 1000))
        func poll(_ revisions: [Int], at: Double) {
            let polls = revisions.indices.map { i -> NodePoll in
                var snapshot = sampleSnapshot()
                snapshot.node.id = "node-\(i + 1)"
                snapshot.node.revision = revisions[i]
                snapshot.node.store = StoreStatus(kind: .etcd, reachable: true)
                return NodePoll(index: i, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)
            }
            Reducer.reduce(&state, .pollBatch(PollBatch(nodes: polls, at: at)))
        }
        poll([5, 4, 5], at: 1001)
        #expect(state.pending[subject] != nil, "node-2 has not applied revision 5 yet")
        Reducer.reduce(&state, .selectPane(.nodes))
        let row = try #require(View.render(state).lines.first { $0.hasPrefix("node-2") })
        #expect(row.contains("4 (-1)"), "\(row)")
        poll([5, 5, 5], at: 1002)
        #expect(state.pending[subject] == nil)
    }
}
