import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// A fleet of `nodes` nodes serving route `reasoning` (tier 0: premium, tier 1: backup) and route
/// `chat` (one tier: fast and cheap), each node with a client `batch`; the closure changes one
/// node's snapshot and state document before it is polled.
enum Truth {
    static func snapshot(node: Int) -> Snapshot {
        func provider(_ id: String, route: String, tier: Int) -> Provider {
            Provider(id: id, weights: [.init(route: route, tier: tier, configuredWeight: 50, effectiveWeight: 50)],
                     stats: Stats(oneMinute: Window(requests: 60, requestsPerSecond: 1, latencyP50Seconds: 0.1)))
        }
        func target(_ id: String) -> Route.Target { .init(provider: id, model: "m", configuredWeight: 50, effectiveWeight: 50) }
        return Snapshot(node: Node(id: "demo-\(node + 1)", state: .serving, revision: 1),
                        providers: [provider("premium", route: "reasoning", tier: 0), provider("backup", route: "reasoning", tier: 1),
                                    provider("fast", route: "chat", tier: 0), provider("cheap", route: "chat", tier: 0)],
                        routes: [Route(alias: "reasoning", tiers: [[target("premium")], [target("backup")]]),
                                 Route(alias: "chat", tiers: [[target("fast"), target("cheap")]])],
                        failovers: [], clients: [ClientStatus(name: "batch")])
    }

    static func emptyState() -> StateDocument {
        StateDocument(revision: 1, drainedProviders: [], weights: [:], failovers: [], nodeDrain: false)
    }

    /// What a drain does to one node's snapshot: the provider drained, its weight 0 everywhere.
    static func drain(_ id: String, _ snapshot: inout Snapshot, _ doc: inout StateDocument) {
        for i in snapshot.providers.indices where snapshot.providers[i].id == id {
            snapshot.providers[i].drained = true
            snapshot.providers[i].state = .drained
            for w in snapshot.providers[i].weights.indices { snapshot.providers[i].weights[w].effectiveWeight = 0 }
        }
        for r in snapshot.routes.indices {
            for t in snapshot.routes[r].tiers.indices {
                for e in snapshot.routes[r].tiers[t].indices where snapshot.routes[r].tiers[t][e].provider == id {
                    snapshot.routes[r].tiers[t][e].effectiveWeight = 0
                }
            }
        }
        doc.drainedProviders.append(id)
    }

    static let audit = [
        AuditEntry(sequence: 1, time: 900, actor: "alice", action: "provider.drain", target: "provider:premium", before: .null, after: .null,
                   reason: "slow answers", revision: 2),
        AuditEntry(sequence: 2, time: 950, actor: "bob", action: "provider.drain", target: "provider:cheap", before: .null, after: .null,
                   reason: "vendor maintenance", revision: 3),
    ]

    static func state(nodes: Int = 3, width: Int = 120, height: Int = 40,
                      change: (Int, inout Snapshot, inout StateDocument) -> Void = { _, _, _ in }) -> AppState {
        var state = AppState(fleet: Fleet(urls: (0..<nodes).map { "http://127.0.0.1:\(9200 + $0)" }, staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: width, height: height))
        let polls = (0..<nodes).map { n -> NodePoll in
            var snap = snapshot(node: n)
            var doc = emptyState()
            change(n, &snap, &doc)
            return NodePoll(index: n, snapshot: snap, raw: nil, events: [], error: nil, operatorState: doc, audit: audit)
        }
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: polls, at: 999)))
        return state
    }
}

@Suite struct StatusTruthTests {
    @Test func aHealthyFleetIsOKWithNothingInForce() {
        let status = Truth.state().fleet.status(now: 1000)
        #expect(status.code == 0 && status.reasons.isEmpty && status.changes.isEmpty, "\(status.reasons)")
    }

    @Test func aDrainInForceIsListedWithWhoWhenAndWhy() {
        // cheap drained: chat keeps fast in its first tier... and only fast, so it is degraded;
        // here drain a provider that leaves its tier with others: add a third provider to chat.
        let state = Truth.state { _, snap, doc in
            snap.providers.append(Provider(id: "local", weights: [.init(route: "chat", tier: 0, configuredWeight: 50, effectiveWeight: 50)]))
            snap.routes[1].tiers[0].append(.init(provider: "local", model: "m", configuredWeight: 50, effectiveWeight: 50))
            Truth.drain("cheap", &snap, &doc)
        }
        let status = state.fleet.status(now: 1000)
        #expect(status.code == 0, "a drain that leaves its tier with others is a note, not a problem: \(status.reasons)")
        #expect(status.changes.count == 1)
        let note = status.reasons.first { $0.hasPrefix("in force: provider cheap drained") }
        #expect(note?.contains("on 3/3 nodes") == true && note?.contains("by bob") == true && note?.contains("vendor maintenance") == true,
                "\(status.reasons)")
        #expect(note?.contains(Format.iso8601(950)) == true && note?.contains("50s ago") == true, "\(status.reasons)")
        let json = SnapshotReport.json(state.fleet, now: 1000)
        #expect(json["status"]?.stringValue == "ok")
        #expect(json["reasons"]?.arrayValue?.contains { $0.stringValue?.contains("provider cheap drained") == true } == true)
        let change = json["operator_changes"]?.arrayValue?.first
        #expect(change?["actor"]?.stringValue == "bob" && change?["reason"]?.stringValue == "vendor maintenance" && change?["kind"]?.stringValue == "drain")
        #expect(SnapshotReport.text(state.fleet, now: 1000).contains("  - in force: provider cheap drained"))
        // On screen: never "every provider healthy"; the change is in the status area and the header.
        var overview = state
        Reducer.reduce(&overview, .selectPane(.overview))
        let screen = View.render(overview).text
        #expect(!screen.contains("every provider healthy"), "\(screen)")
        #expect(screen.contains("provider cheap drained on 3/3 nodes by bob"), "\(screen)")
        #expect(View.render(overview).line(0).contains("in force 1"))
    }

    @Test func aRouteOnItsBackupTierIsDegraded() {
        let state = Truth.state { _, snap, doc in Truth.drain("premium", &snap, &doc) }
        let status = state.fleet.status(now: 1000)
        #expect(status.code == 1 && status.word == "degraded", "\(status.reasons)")
        #expect(status.reasons.contains { $0.contains("route reasoning is served by its backup tier 1 (its first tier: premium drained) on 3/3 nodes") },
                "\(status.reasons)")
        #expect(status.reasons.contains { $0.hasPrefix("in force: provider premium drained on 3/3 nodes by alice") && $0.hasSuffix("slow answers") })
        var overview = state
        Reducer.reduce(&overview, .selectPane(.overview))
        let screen = View.render(overview)
        #expect(screen.line(2).contains("DEGRADED") && screen.line(2).contains("backup tier"), "\(screen.text)")
    }

    @Test func aRouteLeftWithASingleProviderIsDegraded() {
        let state = Truth.state { _, snap, doc in Truth.drain("cheap", &snap, &doc) }
        let status = state.fleet.status(now: 1000)
        #expect(status.code == 1, "\(status.reasons)")
        #expect(status.reasons.contains { $0.contains("route chat is left with a single available provider (fast) on 3/3 nodes") }, "\(status.reasons)")
        // On one node only: said with that node's name.
        let one = Truth.state { n, snap, doc in if n == 1 { Truth.drain("cheap", &snap, &doc) } }
        #expect(one.fleet.status(now: 1000).reasons.contains { $0.contains("single available provider (fast) on 1/3 nodes (demo-2)") })
        #expect(one.fleet.status(now: 1000).changes.first?.nodes == ["demo-2"])
    }

    @Test func noProviderLeftIsCriticalEvenWhenDrainedNotEjected() {
        let state = Truth.state { _, snap, doc in
            Truth.drain("premium", &snap, &doc)
            Truth.drain("backup", &snap, &doc)
        }
        let status = state.fleet.status(now: 1000)
        #expect(status.code == 2 && status.reasons.contains { $0.contains("route reasoning has no available provider") }, "\(status.reasons)")
    }

    @Test func everyKindOfChangeIsListed() {
        let state = Truth.state(nodes: 2) { n, snap, doc in
            doc.weights = ["chat": ["fast": 80]]
            doc.strategies = ["chat": "latency"]
            doc.blockedClients = ["batch"]
            doc.clientLimits = ["batch": ClientStatus.Limits(rpm: 30)]
            doc.failovers = [Failover(subject: "provider:fast", provider: "fast", to: [], since: 990, reason: "timeouts")]
            if n == 0 { doc.nodeDrain = true; snap.node.state = .drained }
        }
        let changes = state.fleet.status(now: 1000).changes
        #expect(changes.map(\.kind) == ["failover", "weights", "strategy", "block", "limits", "node_drain"], "\(changes)")
        #expect(changes.first { $0.kind == "failover" }?.reason == "timeouts")
        #expect(changes.first { $0.kind == "node_drain" }?.nodes == ["demo-1"])
        #expect(changes.first { $0.kind == "limits" }?.what == "client batch limits rpm=30")
    }

    @Test func withoutTheStateDocumentTheSnapshotTellsTheDrains() {
        var state = Truth.state { _, snap, doc in Truth.drain("premium", &snap, &doc) }
        for i in state.fleet.nodes.indices { state.fleet.nodes[i].operatorState = nil }
        #expect(state.fleet.status(now: 1000).changes.map(\.what) == ["provider premium drained"])
    }
}

@Suite struct PerNodeCircuitTests {
    @Test func oneNodesOpenCircuitIsCountedNotTheFleets() {
        let state = Truth.state(width: 120, height: 30) { n, snap, _ in
            guard n == 1 else { return }
            snap.providers[0].state = .ejected
            snap.providers[0].circuit = Circuit(state: .open, reason: "5 consecutive failures")
        }
        let row = state.fleet.rows.first { $0.id == "premium" }!
        #expect(row.stateText == "ejected 1/3" && row.circuitText == "open 1/3")
        #expect(row.stateNodes == [.ejected: 1, .healthy: 2])
        let status = state.fleet.status(now: 1000)
        #expect(status.reasons.contains("provider premium is ejected on 1/3 nodes"), "\(status.reasons)")
        let providers = View.render(state).text
        #expect(providers.contains("ejected 1/3") && providers.contains("open 1/3"), "\(providers)")
        // The detail lists each node's state and circuit.
        var detail = state
        Reducer.reduce(&detail, .moveSelection(3))  // backup, cheap, fast, premium
        Reducer.handle(&detail, .enter)
        #expect(detail.detail == "premium")
        let lines = View.render(detail).lines
        #expect(lines.contains { $0.hasPrefix("demo-2") && $0.contains("ejected") && $0.contains("open") }, "\(lines.joined(separator: "\n"))")
        #expect(lines.contains { $0.hasPrefix("demo-1") && $0.contains("healthy") && $0.contains("closed") })
        #expect(lines.contains { $0.contains("state ejected 1/3") })
        let json = SnapshotReport.json(state.fleet, now: 1000)["providers"]?.arrayValue?.first { $0["id"]?.stringValue == "premium" }
        #expect(json?["state_nodes"]?["ejected"]?.intValue == 1 && json?["circuit_nodes"]?["closed"]?.intValue == 2)
    }
}

@Suite struct DialogKeyTests {
    /// Every kind of dialog: each opens from its command, on the same fleet.
    static let commands: [Command] = [
        .drainProvider("fast"), .undrainProvider("fast"), .weight(route: "chat", weights: [("fast", 80)]), .failover("fast", to: []),
        .restore("fast"), .strategy(route: "chat", name: "latency"), .blockClient("batch"), .unblockClient("batch"),
        .limit(client: "batch", limits: [("rpm", 30)]), .drainNode("demo-1"), .undrainNode("demo-1"), .sync("demo-1"),
        try! Command.parse("silence ClawgateProviderDown{provider=fast} 1h known").get(),
    ]

    static func dialogState(_ command: Command) -> AppState {
        var state = Truth.state(nodes: 2)
        state.fleet.monitor.alertmanagerURL = "http://127.0.0.1:9093"
        state.fleet.monitor.alerts = [AlertInfo(name: "ClawgateProviderDown", severity: "critical", summary: "fast is down", since: 900,
                                                labels: ["provider": "fast"], silenced: false, fingerprint: "f1")]
        Reducer.propose(&state, command)
        return state
    }

    @Test func everyLetterTypedIntoTheReasonIsTextAndNothingElse() {
        let text = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 :/?+-"
        for command in Self.commands {
            var state = Self.dialogState(command)
            guard case .confirm(let opened) = state.mode else { Issue.record("\(command.text): no dialog (\(state.message?.text ?? ""))"); continue }
            #expect(opened.focus == .cancel, "the default is Cancel")
            // One key to the reason field, and the hint says which.
            #expect(View.render(state).text.contains("r/Tab reason"))
            #expect(Reducer.handle(&state, .character("r")).isEmpty)
            guard case .confirm(let inReason) = state.mode, inReason.focus == .reason else { Issue.record("\(command.text): r did not focus the reason"); continue }
            #expect(View.render(state).text.contains("typing goes to Reason"))
            for c in text {
                let effects = Reducer.handle(&state, .character(c))
                #expect(effects.isEmpty, "\(command.text): '\(c)' did \(effects)")
                #expect(!state.quit && !state.showHelp && !state.showTimeline, "\(command.text): '\(c)'")
            }
            guard case .confirm(let typed) = state.mode else { Issue.record("\(command.text): a letter closed the dialog"); continue }
            #expect(typed.plan == opened.plan && typed.focus == .reason, "\(command.text): the dialog changed")
            #expect(typed.reason == text, "\(command.text)")
            #expect(View.render(state).text.contains("Reason: abcdefghij"))
        }
    }

    @Test func tabReachesTheReasonInOneKeyToo() {
        var state = Self.dialogState(.drainProvider("fast"))
        Reducer.handle(&state, .tab)
        guard case .confirm(let dialog) = state.mode else { Issue.record("no dialog"); return }
        #expect(dialog.focus == .reason)
    }

    @Test func outsideTheTextFieldYConfirmsNAndEscCancelAndOtherLettersDoNothing() {
        // Letters that are keys elsewhere (u undrain, q quit, d drain, ...) do nothing on the buttons.
        var state = Self.dialogState(.drainProvider("fast"))
        guard case .confirm(let opened) = state.mode else { Issue.record("no dialog"); return }
        for c in "abcdefghijklmopqstuvwxz?:/0123456789+-" {
            #expect(Reducer.handle(&state, .character(c)).isEmpty, "'\(c)'")
            #expect(state.mode == .confirm(opened) && !state.quit && !state.showHelp, "'\(c)' changed the dialog")
        }
        Reducer.handle(&state, .character("n"))
        #expect(state.mode == .normal && state.message?.text == "cancelled")
        state = Self.dialogState(.drainProvider("fast"))
        Reducer.handle(&state, .escape)
        #expect(state.mode == .normal)
        state = Self.dialogState(.drainProvider("fast"))
        #expect(Reducer.handle(&state, .enter).isEmpty && state.mode == .normal, "Enter on Cancel cancels")
        state = Self.dialogState(.drainProvider("fast"))
        guard case .send(let plan)? = Reducer.handle(&state, .character("y")).first else { Issue.record("y did not confirm"); return }
        #expect(plan.command == .drainProvider("fast") && state.mode == .normal)
    }

    @Test func enterInTheReasonMovesToConfirmAndEnterThereSendsTheReason() {
        var state = Self.dialogState(.drainProvider("fast"))
        Reducer.handle(&state, .character("r"))
        for c in "fast timing out" { Reducer.handle(&state, .character(c)) }
        #expect(Reducer.handle(&state, .enter).isEmpty)
        guard case .confirm(let dialog) = state.mode else { Issue.record("Enter in the reason closed the dialog"); return }
        #expect(dialog.focus == .confirm && dialog.reason == "fast timing out")
        let effects = Reducer.handle(&state, .enter)
        guard case .send(let plan)? = effects.first else { Issue.record("no send: \(effects)"); return }
        #expect(plan.calls.allSatisfy { $0.body["reason"]?.stringValue == "fast timing out" })
        // Esc in the reason cancels the dialog, Backspace deletes.
        state = Self.dialogState(.drainProvider("fast"))
        for key: KeyEvent in [.character("r"), .character("a"), .character("b"), .backspace] { Reducer.handle(&state, key) }
        guard case .confirm(let edited) = state.mode else { Issue.record("no dialog"); return }
        #expect(edited.reason == "a")
        Reducer.handle(&state, .escape)
        #expect(state.mode == .normal)
    }

    @Test func aGuardedDialogTakesTheNameAsTextToo() {
        // Draining premium and backup leaves reasoning with nothing: the name must be typed.
        var state = Truth.state(nodes: 2) { _, snap, doc in Truth.drain("backup", &snap, &doc) }
        Reducer.propose(&state, .drainProvider("premium"))
        guard case .confirm(let opened) = state.mode, opened.preview?.guardName == "reasoning" else { Issue.record("not guarded: \(state.mode)"); return }
        #expect(Reducer.handle(&state, .character("y")).isEmpty, "y asks for the name first")
        for c in "reasoning" { #expect(Reducer.handle(&state, .character(c)).isEmpty) }
        guard case .confirm(let typed) = state.mode else { Issue.record("a letter closed the dialog"); return }
        #expect(typed.typed == "reasoning" && typed.focus == .typedName)
        Reducer.handle(&state, .enter)  // to Confirm
        guard case .send? = Reducer.handle(&state, .enter).first else { Issue.record("no send"); return }
    }
}

@Suite struct ReadOnlyAndLineTests {
    @Test func readOnlyBindsNoDangerousKeyAndShowsNone() {
        let dangerous = KeyMap.bindings.filter(\.dangerous)
        #expect(!dangerous.isEmpty)
        for binding in dangerous {
            for key in binding.keys { #expect(KeyMap.action(for: key, readOnly: true) == nil, "\(key) is bound read-only") }
        }
        #expect(!KeyMap.visible(readOnly: true).contains { $0.dangerous })
        var state = Truth.state(nodes: 1, width: 100, height: 30)
        state.readOnly = true
        let footer = View.render(state).line(29)
        #expect(!footer.contains("drain") && !footer.contains(" w ") && !footer.contains("fail over"), "\(footer)")
        #expect(footer.contains(": command line (read-only)"), "\(footer)")
        Reducer.reduce(&state, .toggleHelp)
        let help = View.render(state).text
        for word in ["drain provider", "set weight", "fail over", "restore provider", "block client", "silence alert"] {
            #expect(!help.contains(word), "help shows \(word)")
        }
        Reducer.reduce(&state, .toggleHelp)
        for key in dangerous.flatMap(\.keys) {
            Reducer.handle(&state, key)
            #expect(state.mode == .normal, "\(key) opened something read-only")
        }
        Reducer.handle(&state, .character(":"))
        for c in "drain provider fast" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)
        #expect(state.mode == .normal && state.message?.text.contains("read-only console") == true
                && state.message?.text.contains("'drain provider fast' would change the fleet") == true)
    }

    @Test func ctrlCCancelsTheLineAndQuitsElsewhere() {
        var state = Truth.state(nodes: 1)
        Reducer.handle(&state, .character(":"))
        for c in "drain" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .interrupt)
        #expect(state.mode == .normal && !state.quit, "Ctrl-C cancels the : line")
        Reducer.handle(&state, .character("/"))
        Reducer.handle(&state, .interrupt)
        #expect(state.mode == .normal && !state.quit && state.filter.isEmpty, "and the / line")
        Reducer.handle(&state, .interrupt)
        #expect(state.quit, "Ctrl-C elsewhere quits")
    }

    @Test func fPrefillsAFailoverThatWorksAsItStands() {
        var state = Truth.state(nodes: 1)
        Reducer.reduce(&state, .selectPane(.providers))
        Reducer.reduce(&state, .moveSelection(2))  // backup, cheap, fast
        Reducer.handle(&state, .character("f"))
        #expect(state.mode == .commandLine("failover fast"))
        Reducer.handle(&state, .enter)
        guard case .confirm(let dialog) = state.mode else { Issue.record("Enter did not open the dialog: \(state.message?.text ?? "")"); return }
        #expect(dialog.plan.command == .failover("fast", to: []) && dialog.plan.summary.contains("its tier's others"))
    }
}
