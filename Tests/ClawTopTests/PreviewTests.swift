import ClawAdminAPI
import ClawShared
import ClawTopCore
import Testing

/// Effect previews against a synthetic fleet: shares before and after, spend, warnings, the guard.
@Suite struct PreviewTests {
    /// Route chat: tier 0 a and b at 50 each, tier 1 c; a costs $0.0001 a request, b $0.001, c $0.01.
    /// `drained` providers are at weight 0; `twoTiers: false` leaves out tier 1.
    func fleet(drained: Set<String> = [], twoTiers: Bool = true, cInFlight: Int = 0) -> AppState {
        let ids = twoTiers ? ["a", "b", "c"] : ["a", "b"]
        let costs = ["a": 3.6, "b": 36.0, "c": 360.0]
        let providers = ids.map { id in
            Provider(id: id, state: drained.contains(id) ? .drained : .healthy, inFlight: id == "c" ? cInFlight : 0, maxInFlight: 100,
                     drained: drained.contains(id),
                     weights: [.init(route: "chat", tier: id == "c" ? 1 : 0, configuredWeight: id == "c" ? 100 : 50,
                                     effectiveWeight: drained.contains(id) ? 0 : id == "c" ? 100 : 50)],
                     stats: Stats(oneMinute: Window(requests: 600, requestsPerSecond: drained.contains(id) || id == "c" ? 0 : 10,
                                                    latencyP50Seconds: 0.1, latencyP95Seconds: 0.3,
                                                    costPerHourDollars: drained.contains(id) || id == "c" ? 0 : costs[id]!)))
        }
        var tiers: [[Route.Target]] = [["a", "b"].map { .init(provider: $0, model: "m", configuredWeight: 50, effectiveWeight: drained.contains($0) ? 0 : 50) }]
        if twoTiers { tiers.append([.init(provider: "c", model: "m", configuredWeight: 100, effectiveWeight: 100)]) }
        let snapshot = Snapshot(node: Node(id: "node-1", version: "0.1.0", state: .serving, revision: 1), providers: providers,
                                routes: [Route(alias: "chat", tiers: tiers, stats: Stats(oneMinute: Window(requests: 1200, requestsPerSecond: 20)))],
                                failovers: [])
        var state = AppState(fleet: Fleet(urls: ["http://127.0.0.1:1"], staleAfter: 6))
        state.now = 1000
        Reducer.reduce(&state, .resize(width: 120, height: 40))
        Reducer.reduce(&state, .selectPane(.providers))
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)], at: 999)))
        return state
    }

    @Test func drainingOneOfTwoMovesItsShareAndItsSpend() throws {
        let p = try #require(Preview.of(.drainProvider("a"), fleet: fleet().fleet, now: 1000))
        let shares = Dictionary(uniqueKeysWithValues: p.routes[0].shares.map { ($0.provider, ($0.before, $0.after)) })
        #expect(shares["a"]! == (0.5, 0) && shares["b"]! == (0.5, 1))
        // 20 req/s: half at $0.0001 and half at $0.001 per request, then all at $0.001.
        #expect(abs(p.spendBefore! - 39.6) < 1e-6 && abs(p.spendAfter! - 72) < 1e-6)
        // c still serves behind b: the route is not left with a single provider, its tier 0 is.
        #expect(p.warnings == ["route chat: tier 0 is left with a single provider (b), with c (tier 1) behind it"])
        #expect(p.guardName == nil)
        #expect(p.lines.contains("route chat: a 50% -> 0.0%, b 50% -> 100% (p50 100ms, p95 300ms)"), "\(p.lines)")
        #expect(p.lines.contains("fleet spend $39.6/h -> $72.0/h (+$32.4/h)"), "\(p.lines)")
    }

    @Test func theLastProviderOfATierMovesTheRouteDownAndTheLastOfARouteNeedsItsName() throws {
        let down = try #require(Preview.of(.drainProvider("b"), fleet: fleet(drained: ["a"]).fleet, now: 1000))
        #expect(down.routes[0].tierBefore == 0 && down.routes[0].tierAfter == 1)
        #expect(down.warnings.contains("route chat moves to tier 1 (lower priority than tier 0)"))
        #expect(down.guardName == nil)
        let empty = try #require(Preview.of(.drainProvider("b"), fleet: fleet(drained: ["a"], twoTiers: false).fleet, now: 1000))
        #expect(empty.guardName == "chat" && empty.guardReason == "route chat would have no available provider")
        // Undrain, weights and failover preview too; a busy receiver is warned about.
        let back = try #require(Preview.of(.undrainProvider("a"), fleet: fleet(drained: ["a"]).fleet, now: 1000))
        #expect(back.routes[0].shares.first { $0.provider == "a" }?.after == 0.5)
        let weights = try #require(Preview.of(.weight(route: "chat", weights: [("a", 150)]), fleet: fleet().fleet, now: 1000))
        #expect(weights.routes[0].shares.first { $0.provider == "a" }?.after == 0.75)
        let failover = try #require(Preview.of(.failover("a", to: ["c"]), fleet: fleet(cInFlight: 90).fleet, now: 1000))
        #expect(failover.routes[0].shares.first { $0.provider == "c" }?.after == 0.5)
        #expect(failover.warnings.contains("more traffic goes to c, near its in-flight limit (90/100)"))
    }

    @Test func theDialogShowsThePreviewAndRefusesUntilTheNameIsTyped() {
        var state = fleet(drained: ["a"], twoTiers: false)
        Reducer.propose(&state, .drainProvider("b"))
        let screen = View.render(state).text
        #expect(screen.contains("route chat: b 100% -> 0.0%") && screen.contains("REFUSED unless you type 'chat'") && screen.contains("Type chat to confirm"))
        // Straight to Confirm: refused, and the focus goes to the name.
        #expect(Reducer.handle(&state, .character("y")).isEmpty)
        guard case .confirm(let dialog) = state.mode else { Issue.record("the dialog closed"); return }
        #expect(dialog.focus == .typedName && state.message?.text.hasPrefix("type 'chat' to confirm") == true)
        for c in "chat" { Reducer.handle(&state, .character(c)) }
        Reducer.handle(&state, .enter)  // to Confirm
        let effects = Reducer.handle(&state, .enter)
        guard case .send(let plan)? = effects.first else { Issue.record("not sent: \(state.mode)"); return }
        #expect(plan.command == .drainProvider("b"))
        // For a minute the Routes pane shows the predicted share beside the actual one, marked *.
        Reducer.reduce(&state, .selectPane(.routes))
        #expect(View.render(state).lines.first { $0.contains(" b ") }?.contains("0.0%*") == true, "\(View.render(state).text)")
        state.now += 61
        #expect(View.render(state).lines.first { $0.contains(" b ") }?.contains("*") == false)
    }

    @Test func drainingTheLastServingNodeNeedsItsName() throws {
        let p = try #require(Preview.of(.drainNode("node-1"), fleet: fleet().fleet, now: 1000))
        #expect(p.guardName == "node-1" && p.notes.first?.hasPrefix("nodes serving: 1 -> 0 of 1") == true)
    }

    @Test func aStrategyChangePredictsTheSharesFromLatencyLoadAndPrice() throws {
        var state = fleet()
        // a answers in 10 ms a token, b in 100 ms: latency sends nearly all to a.
        state.fleet.nodes[0].snapshot?.providers[0].routing = ProviderRouting(perToken: Measure(seconds: 0.01, samples: 5, ageSeconds: 1))
        state.fleet.nodes[0].snapshot?.providers[1].routing = ProviderRouting(perToken: Measure(seconds: 0.1, samples: 5, ageSeconds: 1))
        let latency = try #require(Preview.of(.strategy(route: "chat", name: "latency"), fleet: state.fleet, now: 1000))
        let shares = Dictionary(uniqueKeysWithValues: latency.routes[0].shares.map { ($0.provider, ($0.before, $0.after)) })
        #expect(shares["a"]!.0 == 0.5 && abs(shares["a"]!.1 - 0.99) < 1e-9 && abs(shares["b"]!.1 - 0.01) < 1e-9, "\(shares)")
        #expect(latency.lines.first?.hasPrefix("route chat: a 50% -> 99%") == true, "\(latency.lines)")
        // cost: a is 10 times cheaper (by its price) and fast enough: it takes the band.
        state.fleet.nodes[0].snapshot?.providers[0].price = Price(inputPer1M: 0.1, outputPer1M: 0.2)
        state.fleet.nodes[0].snapshot?.providers[1].price = Price(inputPer1M: 1, outputPer1M: 2)
        state.fleet.nodes[0].snapshot?.providers[1].routing = ProviderRouting(perToken: Measure(seconds: 0.01, samples: 5, ageSeconds: 1))
        let cost = try #require(Preview.of(.strategy(route: "chat", name: "cost"), fleet: state.fleet, now: 1000))
        #expect(cost.routes[0].shares.first { $0.provider == "a" }.map { abs($0.after - 0.99) < 1e-9 } == true, "\(cost.routes)")
    }

    /// `fleet()` on three nodes (node-1..3, the same snapshot each); `down` nodes' last poll failed.
    func threeNodes(down: Set<Int> = []) -> AppState {
        var state = fleet()
        let base = state.fleet.nodes[0].snapshot!
        state.fleet = Fleet(urls: (1...3).map { "http://127.0.0.1:\($0)" }, staleAfter: 6)
        let polls = (0..<3).map { i -> NodePoll in
            var snapshot = base
            snapshot.node.id = "node-\(i + 1)"
            return NodePoll(index: i, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)
        }
        Reducer.reduce(&state, .pollBatch(PollBatch(nodes: polls, at: 999)))
        for i in down { Reducer.reduce(&state, .polled(index: i, snapshot: nil, raw: nil, events: [], error: "timed out", at: 1000)) }
        return state
    }

    @Test func aRouteLeftWithASingleProviderCountsEveryTier() throws {
        // Without tier 1, b is all that is left of the route.
        let alone = try #require(Preview.of(.drainProvider("a"), fleet: fleet(twoTiers: false).fleet, now: 1000))
        #expect(alone.warnings == ["route chat is left with a single available provider (b)"])
        // With c behind it, only tier 0 is down to one.
        let tier = try #require(Preview.of(.drainProvider("a"), fleet: fleet().fleet, now: 1000))
        #expect(!tier.warnings.contains { $0.contains("is left with a single available provider") }, "\(tier.warnings)")
    }

    @Test func routesThatDoNotChangeAreLeftOut() throws {
        var state = fleet()
        // Route reasoning: c first, a only as its backup: draining a changes nothing there.
        state.fleet.nodes[0].snapshot!.routes.append(Route(alias: "reasoning", tiers: [
            [.init(provider: "c", model: "m", configuredWeight: 100, effectiveWeight: 100)],
            [.init(provider: "a", model: "m", configuredWeight: 100, effectiveWeight: 100)],
        ]))
        state.fleet.refresh()
        let p = try #require(Preview.of(.drainProvider("a"), fleet: state.fleet, now: 1000))
        #expect(p.routes.map(\.route) == ["chat"])
        #expect(!p.lines.contains { $0.hasPrefix("route reasoning") }, "\(p.lines)")
    }

    @Test func oneNodeCountAndTheUnreachableNodesNamed() throws {
        var state = threeNodes(down: [1])
        let plan = try Command.drainProvider("a").plan(fleet: state.fleet, reason: nil, now: 1000).get()
        #expect(plan.calls.map(\.node) == [0, 2], "nothing is sent to a node that does not answer")
        #expect(plan.summary == "Drain provider a on 2 nodes")
        #expect(plan.nodesLine == "Applied by 2 nodes (node-1, node-3); node-2 unreachable: will not apply it now")
        Reducer.propose(&state, .drainProvider("a"))
        let screen = View.render(state).text
        #expect(screen.contains("Applied by 2 nodes (node-1, node-3); node-2 unreachable") && !screen.contains("Nodes: "), "\(screen)")
        #expect(try Command.drainProvider("a").plan(fleet: threeNodes().fleet, reason: nil, now: 1000).get().nodesLine
                == "Applied by 3 nodes (node-1, node-2, node-3)")
    }

    @Test func aRouteLeftWithNothingRefusesItsTrafficItSavesNothing() throws {
        let p = try #require(Preview.of(.drainProvider("b"), fleet: fleet(drained: ["a"], twoTiers: false).fleet, now: 1000))
        #expect(p.refused.map(\.route) == ["chat"] && p.refused.map(\.rps) == [20])
        #expect(p.lines.contains("route chat: about 20.0 req/s would be refused (nothing left to serve it)"), "\(p.lines)")
        #expect(!p.lines.contains { $0.hasPrefix("spend") }, "no spend 'saved' by refusing the traffic: \(p.lines)")
    }

    @Test func theSpendChangeAddsUpAsShown() {
        // $0.0949 and $0.0751 show as $0.09 and $0.08: the change is $0.01, not $0.02.
        #expect(Preview.spendChange(0.0949, 0.0751) == "$0.09/h -> $0.08/h (-$0.01/h)")
        #expect(Preview.spendChange(9.96, 10.44) == "$9.96/h -> $10.4/h (+$0.44/h)")
        #expect(Preview.spendChange(39.6, 72) == "$39.6/h -> $72.0/h (+$32.4/h)")
    }

    @Test func aLimitShowsTheOneInForceAndWhatTheNewOneWouldRefuse() throws {
        var state = threeNodes()
        for i in 0..<3 {
            state.fleet.nodes[i].snapshot!.clients = [ClientStatus(name: "batch-jobs", limits: .init(rpm: 120), inFlight: 2, requests1m: [90, 40, 20][i])]
        }
        let p = try #require(Preview.of(.limit(client: "batch-jobs", limits: [("rpm", 30), ("concurrency", 4)]), fleet: state.fleet, now: 1000))
        #expect(p.notes == [
            "rpm per node: 120 -> 30; batch-jobs sent 150 requests in the last minute (node-1 90, node-2 40, node-3 20): "
                + "about 70 requests/min would be refused (more if the limit in force already holds it back)",
            "concurrency per node: none -> 4; in flight now: node-1 2, node-2 2, node-3 2: none over it",
        ], "\(p.notes)")
        Reducer.propose(&state, .limit(client: "batch-jobs", limits: [("rpm", 30)]))
        #expect(View.render(state).text.contains("rpm per node: 120 -> 30"))
    }
}
