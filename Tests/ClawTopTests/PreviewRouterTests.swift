import ClawAdminAPI
import ClawGateKit
import ClawShared
import ClawTesting
import ClawTopCore
import Foundation
import Testing

/// The console's effect preview and the gateway's router agree: the shares the preview predicts
/// are the ones the router wants, worked out by the same code (`RoutePlanner.wantedShares`,
/// `RoutingChooser.expectedShares`), and those are what the router's own picks come to.
@Suite(.serialized) struct PreviewRouterTests {
    /// Against a live node, for a corpus of operator states and commands: the preview's shares
    /// before equal the router's wanted shares now, and its shares after equal the router's once
    /// the command's calls are sent.
    @Test func thePreviewPredictsTheSharesTheRouterWants() async throws {
        let sim = try await TestFleet.simulator(["a", "b", "c", "d"].map { TestFleet.provider($0) })
        let config = TestFleet.config(simulator: sim, routes: ["chat": [[("a", 50), ("b", 30), ("c", 20)], [("d", 100)]],
                                                               "code": [[("b", 10), ("d", 90)]]])
        let gate = try await TestFleet.gateway(config)
        let client = TestClient()
        let token = ["authorization": "Bearer \(TestFleet.operatorToken)"]
        func send(_ method: String, _ path: String, _ body: JSONValue) async throws {
            let answer = try await client.request(method, gate.adminURL + path, body: Data(body.bytes()), headers: token)
            #expect(answer.status == 200, "\(method) \(path): \(answer.text)")
        }
        let ids = config.providers.map(\.id)
        /// The router's wanted shares per route, by provider id, from the node's operator state now.
        func router() -> [String: (tier: Int?, shares: [String: Double])] {
            let routes = gate.gateway.state.operatorState.effectiveRoutes(config: config, providerIndex: gate.gateway.state.providerIndex)
            return Dictionary(uniqueKeysWithValues: routes.map { route in
                let (tier, shares) = RoutePlanner.wantedShares(route, available: { _ in true })
                return (route.alias, (tier, Dictionary(shares.map { (ids[$0.key], $0.value) }, uniquingKeysWith: +)))
            })
        }
        let corpus: [(setup: [OperatorCommand], command: Command)] = [
            ([], .drainProvider("a")),
            ([.drainProvider("a")], .undrainProvider("a")),
            ([], .weight(route: "chat", weights: [("a", 150)])),
            ([.drainProvider("c")], .weight(route: "chat", weights: [("b", 0)])),
            ([], .failover("a", to: ["b"])),
            ([], .failover("c", to: [])),
            ([.drainProvider("b")], .failover("a", to: ["c", "d"])),
            ([.drainProvider("a"), .drainProvider("b")], .drainProvider("c")),
            ([.drainProvider("d")], .undrainProvider("d")),
            ([.failoverProvider("b", to: [])], .restore("b")),
        ]
        for (setup, command) in corpus {
            try await send("PUT", AdminEndpoint.replaceState.url(), OperatorCommand.replaceState(OperatorState().document).request(reason: nil)!.body)
            for c in setup { let r = c.request(reason: nil)!; try await send(r.method, r.path, r.body) }
            var state = AppState(fleet: Fleet(urls: [gate.adminURL], staleAfter: 6))
            state.now = 1000
            let snapshot = gate.gateway.snapshot()
            Reducer.reduce(&state, .pollBatch(PollBatch(nodes: [NodePoll(index: 0, snapshot: snapshot, raw: raw(snapshot), events: [], error: nil)], at: 999)))
            let preview = try #require(Preview.of(command, fleet: state.fleet, now: 1000), "\(command.text)")
            let before = router()
            let plan = try command.plan(fleet: state.fleet, reason: nil, now: 1000).get()
            for call in plan.calls { try await send(call.method, call.path, call.body) }
            let after = router()
            #expect(!preview.routes.isEmpty, "\(command.text): no route in the preview")
            for route in preview.routes {
                #expect(route.tierBefore == before[route.route]?.tier && route.tierAfter == after[route.route]?.tier, "\(command.text): \(route.route)'s tier")
                for share in route.shares {
                    #expect(abs(share.before - (before[route.route]?.shares[share.provider] ?? 0)) < 1e-9,
                            "\(command.text): \(route.route)/\(share.provider) before \(share.before), router \(before[route.route]!.shares)")
                    #expect(abs(share.after - (after[route.route]?.shares[share.provider] ?? 0)) < 1e-9,
                            "\(command.text): \(route.route)/\(share.provider) after \(share.after), router \(after[route.route]!.shares)")
                }
                let named = Set(route.shares.map(\.provider))
                #expect(Set(after[route.route]!.shares.keys).isSubset(of: named), "\(command.text): the router serves \(route.route) from a provider the preview leaves out")
            }
            // A route the preview leaves out is one whose shares do not move.
            for alias in before.keys where !preview.routes.contains(where: { $0.route == alias }) {
                #expect(before[alias]!.tier == after[alias]!.tier && before[alias]!.shares == after[alias]!.shares, "\(command.text): \(alias) moved unannounced")
            }
        }
        await client.shutdown()
        await gate.stop()
        await sim.stop()
        if let dir = config.admin.stateDir { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// The worked-out shares are what the router's picks come to: over many seeded picks through
    /// `RoutePlanner.pick` and `RoutingChooser.choose`, each provider's count is its wanted share.
    @Test func theWantedSharesAreWhatTheRoutersPicksComeTo() {
        let cases: [(ResolvedRoute, Set<Int>, [RoutingCandidate])] = [
            (ResolvedRoute(alias: "r", tiers: [[.init(provider: 0, model: "m", weight: 50), .init(provider: 1, model: "m", weight: 30), .init(provider: 2, model: "m", weight: 20)]]),
             [], []),
            (ResolvedRoute(alias: "r", tiers: [[.init(provider: 0, model: "m", weight: 70), .init(provider: 1, model: "m", weight: 0)], [.init(provider: 2, model: "m", weight: 40), .init(provider: 3, model: "m", weight: 60)]]),
             [0], []),
            (ResolvedRoute(alias: "r", tiers: [[.init(provider: 0, model: "m", weight: 60), .init(provider: 1, model: "m", weight: 25), .init(provider: 2, model: "m", weight: 15)]], strategy: .latency),
             [], [.init(provider: 0, weight: 60, inFlight: 3, latency: 0.4), .init(provider: 1, weight: 25, inFlight: 0, latency: 0.1), .init(provider: 2, weight: 15, inFlight: 1, latency: 0.2)]),
        ]
        for (route, ejected, inputs) in cases {
            let candidate = { (t: ResolvedRoute.Target) -> RoutingCandidate in
                inputs.first { $0.provider == t.provider }.map { var c = $0; c.weight = Double(t.weight); return c }
                    ?? RoutingCandidate(provider: t.provider, weight: Double(t.weight))
            }
            let (_, wanted) = RoutePlanner.wantedShares(route, available: { !ejected.contains($0) }, candidate: candidate)
            var random = SeededRandom(seed: 11)
            var counts: [Int: Int] = [:]
            let picks = 40_000
            for _ in 0..<picks {
                let pick = RoutePlanner.pick(route, tried: [], available: { !ejected.contains($0) }, badness: { _ in 0 }) { targets, _ in
                    RoutingChooser.choose(route.strategy, targets.map(candidate), random: &random)
                }
                counts[pick!.target.provider, default: 0] += 1
            }
            for provider in Set(wanted.keys).union(counts.keys) {
                let seen = Double(counts[provider] ?? 0) / Double(picks)
                #expect(abs(seen - (wanted[provider] ?? 0)) < 0.01, "\(route.strategy) provider \(provider): picked \(seen), wanted \(wanted[provider] ?? 0)")
            }
        }
    }
}
