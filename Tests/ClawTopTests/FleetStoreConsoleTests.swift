import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// The console over a fleet whose operator state lives in etcd.
@Suite struct FleetStoreConsoleTests {
    func state(revisions: [Int], reachable: [Bool], unaudited: [Int] = []) -> AppState {
        var state = AppState(fleet: Fleet(urls: revisions.indices.map { "http://127.0.0.1:\(9000 + $0)" }, staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: 140, height: 30))
        let polls = revisions.indices.map { i -> NodePoll in
            var snapshot = sampleSnapshot()
            snapshot.node.id = "node-\(i + 1)"
            snapshot.node.revision = revisions[i]
            snapshot.node.store = StoreStatus(kind: .etcd, reachable: reachable[i], error: reachable[i] ? nil : "connection refused", unaudited: unaudited)
            return NodePoll(index: i, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)
        }
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: polls, at: 999)))
        return state
    }

    @Test func aStateWrittenStraightIntoEtcdIsDegradedUntilAcknowledgedOnce() throws {
        let flagged = state(revisions: [7, 7], reachable: [true, true], unaudited: [7])
        let status = flagged.fleet.status(now: 1000)
        #expect(status.code == 1, "\(status.reasons)")
        let said = status.reasons.filter { $0.contains("written straight into etcd") }
        #expect(said == ["the fleet state's revision 7 was written straight into etcd, not through a node's admin API (no audit record says who or why); "
                         + "it is in effect: acknowledge it with `:acknowledge` (POST /admin/v1/store/acknowledge)"], "said once for the fleet: \(said)")
        let plan = try Command.parse(":acknowledge").get().plan(fleet: flagged.fleet, reason: "etcdctl hotfix", now: 0).get()
        #expect(plan.calls.count == 1 && plan.calls[0].path == "/admin/v1/store/acknowledge" && plan.calls[0].method == "POST")
        #expect(plan.calls[0].body["reason"]?.stringValue == "etcdctl hotfix")
        #expect(plan.summary.hasPrefix("Acknowledge the fleet state's revision 7 written straight into etcd"))
        // Nothing flagged, or no fleet store: refused with why, nothing sent.
        let clean = state(revisions: [7, 7], reachable: [true, true])
        #expect(!clean.fleet.status(now: 1000).reasons.contains { $0.contains("written straight") })
        #expect(Command.acknowledge.plan(fleet: clean.fleet, reason: nil, now: 0).failureText?.contains("nothing to acknowledge") == true)
        var files = AppState(fleet: Fleet(urls: ["http://127.0.0.1:9000"], staleAfter: 6))
        Reducer.reduce(&files, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: sampleSnapshot(), raw: raw(sampleSnapshot()), events: [], error: nil)], at: 999)))
        #expect(Command.acknowledge.plan(fleet: files.fleet, reason: nil, now: 0).failureText?.contains("is for a fleet store") == true)
        #expect(Command.parse("acknowledge now").failureText?.hasPrefix("usage: acknowledge") == true)
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
        Reducer.handle(&state, .character("y"))  // asks for the route's name: draining fast leaves chat with nothing
        for c in "chat" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)  // the name field's Enter moves to Confirm
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
        #expect(state.pending[subject]?.waiting == ["node-2"], "node-2 has not applied revision 5 yet")
        #expect(state.message?.text.contains("waiting for node-2 (at 4, wants 5) to apply: ") == true, "\(state.message?.text ?? "")")
        Reducer.reduce(&state, .selectPane(.nodes))
        let row = try #require(View.render(state).lines.first { $0.hasPrefix("node-2") })
        #expect(row.contains("4 (-1)"), "\(row)")
        poll([5, 5, 5], at: 1002)
        #expect(state.pending[subject] == nil)
    }
}

/// The console over nodes that each keep their own operator state in a file: they can drift, and
/// `:sync NODE` copies one node's state to the others.
@Suite struct FileStoreDriftTests {
    /// Nodes at the given revisions; `drained[i]` lists the providers node i has drained.
    func state(revisions: [Int], drained: [[String]], weights: [Int?] = []) -> AppState {
        var state = AppState(fleet: Fleet(urls: revisions.indices.map { "http://127.0.0.1:\(9000 + $0)" }, staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: 160, height: 30))
        poll(&state, revisions: revisions, drained: drained, weights: weights, at: 999)
        return state
    }

    func poll(_ state: inout AppState, revisions: [Int], drained: [[String]], weights: [Int?] = [], at: Double) {
        let polls = revisions.indices.map { i -> NodePoll in
            var snapshot = sampleSnapshot()
            snapshot.node.id = "node-\(i + 1)"
            snapshot.node.revision = revisions[i]
            for p in snapshot.providers.indices { snapshot.providers[p].drained = drained[i].contains(snapshot.providers[p].id) }
            if weights.indices.contains(i), let w = weights[i] { snapshot.providers[0].weights[0].overrideWeight = w }
            // The node's whole state, as GET /admin/v1/state gives it; node 1 also blocked a client and set a limit.
            let overrides = weights.indices.contains(i) && weights[i] != nil ? ["chat": ["fast": weights[i]!]] : [:]
            let document = StateDocument(revision: revisions[i], drainedProviders: drained[i], weights: overrides, failovers: [],
                                         blockedClients: i == 0 ? ["batch"] : [], clientLimits: i == 0 ? ["web": .init(rpm: 3)] : [:], nodeDrain: i == 0)
            return NodePoll(index: i, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil, operatorState: document)
        }
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: polls, at: at)))
    }

    @Test func aNodeWhoseStateDiffersIsDriftedEvenAtTheSameRevision() throws {
        let drifted = state(revisions: [4, 4, 4], drained: [["fast"], [], ["fast"]])
        let status = drifted.fleet.status(now: 1000)
        #expect(status.code == 1)
        let reason = try #require(status.reasons.first { $0.hasPrefix("node node-2 drifted") }, "\(status.reasons)")
        #expect(reason.contains("(revision 4: nothing drained)") && reason.contains("node-1's (revision 4: drained fast)") && reason.contains("`:sync node-1`"), "\(reason)")
        #expect(SnapshotReport.json(drifted.fleet, now: 1000)["fleet"]?["revision_drift"]?.boolValue == true)
        var pane = drifted
        Reducer.reduce(&pane, .selectPane(.nodes))
        let rows = View.render(pane).lines
        #expect(rows.first { $0.hasPrefix("node-2") }?.contains("4*") == true && rows.first { $0.hasPrefix("node-1") }?.contains("4*") == false)
        // Weight overrides count as well; the same state at different revisions does not.
        #expect(state(revisions: [4, 4], drained: [[], []], weights: [80, nil]).fleet.drift()?.drifted.count == 1)
        // So does a route's strategy.
        var byStrategy = state(revisions: [4, 4], drained: [[], []])
        byStrategy.fleet.nodes[1].snapshot?.routes[0].strategy = "latency"
        byStrategy.fleet.refresh()
        #expect(byStrategy.fleet.drift()?.drifted.count == 1)
        let same = state(revisions: [4, 9], drained: [["fast"], ["fast"]])
        #expect(same.fleet.drift() == nil && !same.fleet.status(now: 1000).reasons.contains { $0.contains("drifted") || $0.contains("revision") },
                "\(same.fleet.status(now: 1000).reasons)")
    }

    @Test func syncCopiesOneNodesStateToTheOthersAsOneWriteEach() throws {
        let fleet = state(revisions: [4, 2, 4], drained: [["fast"], [], ["fast"]], weights: [80, nil, 80]).fleet
        let plan = try Command.parse(":sync node-1").get().plan(fleet: fleet, reason: "node-2 restarted from an old file", now: 0).get()
        #expect(plan.calls.map(\.node) == [1, 2] && plan.calls.allSatisfy { $0.method == "PUT" && $0.path == "/admin/v1/state" })
        let body = try AdminAPI.decode(StateBody.self, from: plan.calls[0].body.bytes())
        #expect(body.state.drainedProviders == ["fast"] && body.state.weights == ["chat": ["fast": 80]] && body.reason == "node-2 restarted from an old file")
        #expect(plan.summary == "Copy node-1's operator state (drained fast; weights chat: fast=80; blocked batch; limits web: rpm=3) to node-2, node-3; node drains stay as they are")
        // The whole state goes: client blocks and limits too (PUT /admin/v1/state replaces them).
        #expect(body.state.blockedClients == ["batch"] && body.state.clientLimits == ["web": ClientStatus.Limits(rpm: 3)] && !body.state.nodeDrain)
        // A node whose state document was not read is not copied from.
        var unread = fleet
        unread.nodes[0].operatorState = nil
        #expect(Command.sync("node-1").plan(fleet: unread, reason: nil, now: 0).failureText?.contains("has not been read yet: nothing copied") == true)
        #expect(Command.parse("sync").failureText?.hasPrefix("usage: sync NODE") == true)
        #expect(Command.sync("nope").plan(fleet: fleet, reason: nil, now: 0).failureText?.hasPrefix("no node 'nope'") == true)
        // With a fleet store there is one copy: nothing to sync.
        var store = fleet
        for i in store.nodes.indices { store.nodes[i].snapshot?.node.store = StoreStatus(kind: .etcd, reachable: true) }
        #expect(Command.sync("node-1").plan(fleet: store, reason: nil, now: 0).failureText?.contains("nothing to sync") == true)
    }

    @Test func aWriteToNodesAtDifferentRevisionsIsDoneWhenEachReachesItsOwn() {
        var state = state(revisions: [3, 5], drained: [[], []])
        Reducer.reduce(&state, .actionResults(subject: "provider:fast", summary: "Drain provider fast on 2 nodes",
                                              results: [NodeResult(node: "node-1", ok: true, message: "ok", revision: 4),
                                                        NodeResult(node: "node-2", ok: true, message: "ok", revision: 6)], at: 1000))
        poll(&state, revisions: [3, 6], drained: [[], ["fast"]], at: 1001)
        #expect(state.pending["provider:fast"]?.waiting == ["node-1"])
        poll(&state, revisions: [4, 6], drained: [["fast"], ["fast"]], at: 1002)
        #expect(state.pending["provider:fast"] == nil, "each node reached the revision its own answer gave")
    }

    /// "Is this fleet on a store" is decided once (`Fleet.usesStore`): a node on etcd that answered
    /// before and does not answer now still makes it a store fleet for plans, `:sync` and drift,
    /// so a write is not sent to the other nodes' own files behind the store's back.
    @Test func oneAnswerToWhetherTheFleetIsOnAStore() throws {
        var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:9000", "http://127.0.0.1:9001"], staleAfter: 6))
        state.now = 1000
        let polls = [0, 1].map { i -> NodePoll in
            var snapshot = sampleSnapshot()
            snapshot.node.id = "node-\(i + 1)"
            snapshot.node.store = i == 0 ? StoreStatus(kind: .etcd, reachable: true, error: nil, unaudited: []) : StoreStatus(kind: .file, reachable: true, error: nil, unaudited: [])
            return NodePoll(index: i, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)
        }
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: polls, at: 999)))
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: nil, raw: nil, events: [], error: "connection refused"), polls[1]], at: 1000)))
        #expect(state.fleet.usesStore && state.fleet.drift() == nil)
        let provider = try #require(state.fleet.rows.first?.id)
        let drain = Command.drainProvider(provider).plan(fleet: state.fleet, reason: nil, now: 1000)
        #expect(drain.failure?.description == "no node reaches the fleet store now; operator state cannot change until it is back", "\(drain)")
        let sync = Command.sync("node-2").plan(fleet: state.fleet, reason: nil, now: 1000)
        #expect(sync.failure == drain.failure, "\(sync)")
    }
}
