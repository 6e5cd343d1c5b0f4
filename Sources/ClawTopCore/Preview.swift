import ClawAdminAPI
import Foundation

/// What an action will do before it is done: per affected route, each provider's share of the
/// traffic before and after (from the weights, tiers and availability the nodes report), the
/// change in spend per hour (from the current request rate and each provider's observed cost per
/// request), the latency the receiving providers show now, warnings, and the name an operator must
/// type when the action leaves a route with nothing to serve it or drains the last serving node.
public struct Preview: Sendable, Equatable {
    public struct Share: Sendable, Equatable {
        public var provider: String
        public var before: Double
        public var after: Double
        public var p50: Double?
        public var p95: Double?
    }

    public struct RouteChange: Sendable, Equatable {
        public var route: String
        public var tierBefore: Int?
        public var tierAfter: Int?
        public var shares: [Share]
    }

    public var routes: [RouteChange] = []
    /// Spend per hour now and after (nil: a receiving provider's cost per request is not known yet).
    public var spendBefore: Double?
    public var spendAfter: Double?
    public var warnings: [String] = []
    /// The route or node name the operator must type to confirm (nil: no such guard).
    public var guardName: String?
    public var guardReason: String?
    public var notes: [String] = []
    /// Routes left with no provider, with the requests/s they get now: refused, not saved.
    public var refused: [(route: String, rps: Double)] = []

    public static func == (a: Preview, b: Preview) -> Bool {
        a.routes == b.routes && a.spendBefore == b.spendBefore && a.spendAfter == b.spendAfter && a.warnings == b.warnings
            && a.guardName == b.guardName && a.guardReason == b.guardReason && a.notes == b.notes
            && a.refused.map(\.route) == b.refused.map(\.route) && a.refused.map(\.rps) == b.refused.map(\.rps)
    }

    /// `$0.09/h -> $0.08/h (-$0.01/h)`: the change worked out from the figures as shown, at the finer
    /// of their two precisions, so the arithmetic on screen adds up.
    public static func spendChange(_ before: Double, _ after: Double) -> String {
        func decimals(_ v: Double) -> Int { v >= 1000 ? 0 : v >= 10 ? 1 : 2 }
        func rounded(_ v: Double) -> Double {
            let scale = pow(10, Double(decimals(v)))
            return (v * scale).rounded() / scale
        }
        let (b, a) = (rounded(before), rounded(after))
        let places = max(decimals(b), decimals(a))
        let delta = a - b
        return "\(Format.dollars(before))/h -> \(Format.dollars(after))/h (\(delta >= 0 ? "+" : "-")$\(String(format: "%.\(places)f", abs(delta)))/h)"
    }

    /// The preview in lines, for the dialog and for `--exec`.
    public var lines: [String] {
        var out: [String] = []
        for route in routes {
            let moved = route.shares.filter { abs($0.after - $0.before) > 0.0005 }
            let shown = moved.isEmpty ? route.shares : moved
            let parts = shown.map { s -> String in
                var text = "\(s.provider) \(Format.percent(s.before)) -> \(Format.percent(s.after))"
                if s.after > s.before, s.p50 != nil || s.p95 != nil { text += " (p50 \(Format.seconds(s.p50)), p95 \(Format.seconds(s.p95)))" }
                return text
            }
            var line = "route \(route.route): " + parts.joined(separator: ", ")
            if route.tierBefore != route.tierAfter {
                line += "; tier \(route.tierBefore.map(String.init) ?? "none") -> \(route.tierAfter.map(String.init) ?? "none")"
            }
            out.append(line)
        }
        for (route, rps) in refused {
            out.append("route \(route): about \(Format.rate(rps)) req/s would be refused (nothing left to serve it)")
        }
        let served = refused.isEmpty ? "" : ", refused traffic aside"
        if let before = spendBefore, let after = spendAfter {
            out.append("fleet spend\(served) " + Self.spendChange(before, after))
        } else if routes.contains(where: { route in !refused.contains { $0.route == route.route } }) {
            out.append("spend: not known yet (a receiving provider has no observed cost per request)")
        }
        out += notes
        out += warnings.map { "warning: \($0)" }
        if let guardName, let guardReason { out.append("REFUSED unless you type '\(guardName)': \(guardReason)") }
        return out
    }

    // MARK: Computing it

    /// One route's targets as the first answering node reports them.
    struct Target {
        var provider: String
        var tier: Int
        var weight: Int
        /// The weight it has when nothing operator-made holds it at 0: the override, else the configured one.
        var restored: Int
    }

    /// The preview of `command` against what `fleet` reports (nil for commands that move no traffic).
    public static func of(_ command: Command, fleet: Fleet, now: Double) -> Preview? {
        let answering = fleet.nodes.filter { $0.error == nil && $0.snapshot != nil }
        guard let snapshot = answering.first?.snapshot else { return nil }
        var preview = Preview()
        let rows = Dictionary(uniqueKeysWithValues: fleet.rows.map { ($0.id, $0) })
        switch command {
        case .drainNode(let name):
            let serving = answering.filter { $0.snapshot!.node.state == .serving }
            let target = answering.first { $0.snapshot!.node.id == name || $0.url == name || $0.name == name }
            let left = serving.filter { $0.url != target?.url }
            preview.notes.append("nodes serving: \(serving.count) -> \(left.count) of \(fleet.nodes.count); its clients' traffic moves to the others behind the load balancer")
            if left.isEmpty, target != nil {
                preview.guardName = target!.snapshot!.node.id
                preview.guardReason = "it is the last serving node: nothing would serve clients"
            }
            return preview
        case .blockClient(let name):
            let use = answering.compactMap { $0.snapshot?.clients?.first { $0.name == name } }
            let requests = use.reduce(0) { $0 + $1.requests1m }
            let tokens = use.reduce(0) { $0 + $1.tokens1m }
            let spent = use.reduce(0) { $0 + $1.spendTodayDollars }
            let perHour = use.reduce(0) { $0 + $1.spendPerHourDollars }
            preview.notes.append("stops about \(Format.rate(Double(requests) / 60)) req/s and \(Format.dollars(perHour))/h "
                                 + "(\(requests) requests and \(Format.count(tokens)) tokens in the last minute; \(Format.dollars(spent)) spent today so far)")
            return preview
        case .limit(let name, let limits):
            preview.notes = limitEffect(client: name, limits, answering)
            return preview
        case .budget(let route, let perHour, let action):
            preview.notes = budgetEffect(route: route, perHour: perHour, action: action, fleet: fleet)
            return preview
        case .unfault(let id):
            preview.notes.append("\(id) takes traffic again as its circuit closes (after the breaker's cooldown, a request or health probe that passes)")
            return preview
        case .fault(let f), .drill(let f):
            preview.notes = faultNotes(f, row: rows[f.provider], now: now)
        case .undrainNode, .silence, .theme, .quit, .sync, .unblockClient, .timeline:
            return nil
        default:
            break
        }
        let weightsOf = Dictionary(uniqueKeysWithValues: snapshot.providers.map { ($0.id, $0.weights) })
        let available = { (id: String) -> Bool in rows[id].map { $0.state != .ejected } ?? true }
        for route in snapshot.routes {
            var targets: [Target] = []
            for (tier, entries) in route.tiers.enumerated() {
                for e in entries {
                    let w = weightsOf[e.provider]?.first { $0.route == route.alias && $0.tier == tier }
                    targets.append(Target(provider: e.provider, tier: tier, weight: e.effectiveWeight,
                                          restored: w?.overrideWeight ?? (e.configuredWeight > 0 ? e.configuredWeight : e.effectiveWeight)))
                }
            }
            var after = targets
            var touched = false
            switch command {
            case .drainProvider(let id):
                for i in after.indices where after[i].provider == id { after[i].weight = 0; touched = true }
            case .undrainProvider(let id), .restore(let id):
                for i in after.indices where after[i].provider == id { after[i].weight = after[i].restored; touched = true }
            case .fault(let f), .drill(let f):
                // Every attempt failing takes the provider out once its breaker opens, as a drain
                // would; a share of them failing moves that share to the others.
                guard f.kind != .latency else { break }
                for i in after.indices where after[i].provider == f.provider {
                    after[i].weight = f.takesProviderOut ? 0 : Int((Double(after[i].weight) * (1 - (f.ratio ?? 1))).rounded())
                    touched = true
                }
            case .weight(let alias, let pairs) where alias == route.alias:
                for (id, weight) in pairs {
                    for i in after.indices where after[i].provider == id { after[i].weight = after[i].weight == 0 && after[i].restored > 0 && weight > 0 ? 0 : weight; touched = true }
                }
            case .failover(let id, let to):
                for i in after.indices where after[i].provider == id {
                    let moved = after[i].weight
                    after[i].weight = 0
                    touched = true
                    for target in to {
                        let share = OperatorState.failoverShare(moved, among: to.count)
                        if let j = after.firstIndex(where: { $0.provider == target && $0.tier == after[i].tier }) {
                            after[j].weight += share
                        } else {
                            after.append(Target(provider: target, tier: after[i].tier, weight: share, restored: 0))
                        }
                    }
                }
            case .strategy(let alias, let name) where alias == route.alias:
                // Weights do not move: the shares within the serving tier follow the strategy.
                let (tier, _) = shares(targets, available: available)
                guard let tier else { continue }
                let serving = targets.filter { $0.tier == tier && $0.weight > 0 && available($0.provider) }
                let providers = Dictionary(uniqueKeysWithValues: snapshot.providers.map { ($0.id, $0) })
                let before = strategyShares(route.strategy ?? "weighted", serving, providers)
                let after = strategyShares(name, serving, providers)
                preview.routes.append(RouteChange(route: alias, tierBefore: tier, tierAfter: tier, shares: serving.map { t in
                    Share(provider: t.provider, before: before[t.provider] ?? 0, after: after[t.provider] ?? 0, p50: rows[t.provider]?.p50, p95: rows[t.provider]?.p95)
                }))
                preview.notes.append("route \(alias): shares predicted from the providers' weights, requests in flight, latency and prices now")
                continue
            default:
                break
            }
            guard touched else { continue }
            // Weights that zero a whole tier are refused by the nodes themselves: say so, guard nothing.
            if case .weight = command {
                let zeroed = Set(after.map(\.tier)).filter { tier in
                    after.filter { $0.tier == tier }.allSatisfy { $0.weight == 0 } && targets.contains { $0.tier == tier && $0.weight > 0 }
                }
                if let tier = zeroed.min() {
                    preview.notes.append("route \(route.alias): tier \(tier) would have every weight 0, which the nodes refuse")
                    continue
                }
            }
            let (tierBefore, sharesBefore) = shares(targets, available: available)
            let (tierAfter, sharesAfter) = shares(after, available: available)
            let providers = (targets.map(\.provider) + after.map(\.provider)).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            let change = RouteChange(route: route.alias, tierBefore: tierBefore, tierAfter: tierAfter, shares: providers.map { id in
                Share(provider: id, before: sharesBefore[id] ?? 0, after: sharesAfter[id] ?? 0, p50: rows[id]?.p50, p95: rows[id]?.p95)
            })
            // A route whose shares and tier stay as they are is not part of the effect.
            guard tierBefore != tierAfter || change.shares.contains(where: { abs($0.after - $0.before) > 0.0005 }) else { continue }
            preview.routes.append(change)
            // Warnings and the guard.
            let receiving = change.shares.filter { $0.after > 0 }
            // What would be left to serve the route, in every tier, not only the serving one.
            func left(_ list: [Target]) -> [String] {
                list.filter { $0.weight > 0 && available($0.provider) }.map(\.provider).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            }
            let leftAfter = left(after)
            if tierAfter == nil, tierBefore != nil {
                preview.guardName = route.alias
                preview.guardReason = "route \(route.alias) would have no available provider"
                let rps = answering.compactMap { $0.snapshot?.routes.first { $0.alias == route.alias } }.reduce(0) { $0 + $1.stats.oneMinute.requestsPerSecond }
                preview.refused.append((route.alias, rps))
            } else if leftAfter.count == 1, left(targets).count > 1 {
                preview.warnings.append("route \(route.alias) is left with a single available provider (\(leftAfter[0]))")
            } else if receiving.count == 1, change.shares.filter({ $0.before > 0 }).count > 1, let tier = tierAfter {
                let behind = leftAfter.compactMap { id in after.first { $0.provider == id && $0.tier > tier }.map { "\(id) (tier \($0.tier))" } }
                preview.warnings.append("route \(route.alias): tier \(tier) is left with a single provider (\(receiving[0].provider)), "
                                        + "with \(behind.joined(separator: ", ")) behind it")
            }
            if let b = tierBefore, let a = tierAfter, a > b {
                preview.warnings.append("route \(route.alias) moves to tier \(a) (lower priority than tier \(b))")
            }
            for s in change.shares where s.after > s.before + 0.0005 {
                guard let row = rows[s.provider] else { continue }
                if [.degraded, .ejected, .probing].contains(row.state) {
                    preview.warnings.append("more traffic goes to \(s.provider), which is \(row.state)")
                }
                if row.maxInFlight > 0, Double(row.inFlight) >= 0.8 * Double(row.maxInFlight) {
                    preview.warnings.append("more traffic goes to \(s.provider), near its in-flight limit (\(row.inFlight)/\(row.maxInFlight))")
                }
            }
        }
        // Spend: the route's request rate over the fleet, times each provider's share and its
        // observed cost per request.
        var before = 0.0
        var after = 0.0
        var known = true
        var routeSpend: [String: (before: Double, after: Double)] = [:]
        for change in preview.routes where !preview.refused.contains(where: { $0.route == change.route }) {
            let rps = answering.compactMap { $0.snapshot?.routes.first { $0.alias == change.route } }.reduce(0) { $0 + $1.stats.oneMinute.requestsPerSecond }
            var spend = (before: 0.0, after: 0.0)
            for s in change.shares {
                let cost = rows[s.provider].flatMap { $0.rps > 0 ? $0.costPerHour / 3600 / $0.rps : nil }
                if cost == nil, s.after > s.before, rps > 0 { known = false }
                spend.before += rps * s.before * (cost ?? 0) * 3600
                spend.after += rps * s.after * (cost ?? 0) * 3600
            }
            before += spend.before
            after += spend.after
            routeSpend[change.route] = spend
        }
        // A change that would take a route past its budget, or bring it back under, says so.
        if known {
            for budget in fleet.budgets() {
                guard let spend = routeSpend[budget.route] else { continue }
                let predicted = max(0, budget.costPerHour + spend.after - spend.before)
                let guardText = budget.action == .shift ? "its guard would send its traffic to its cheapest serving tier" : "its guard would refuse its requests (429)"
                if budget.costPerHour <= budget.perHour, predicted > budget.perHour {
                    preview.warnings.append("route \(budget.route) would spend about \(Format.dollars(predicted))/h, past its budget of \(Format.dollars(budget.perHour))/h: \(guardText)")
                } else if budget.costPerHour > budget.perHour, predicted <= budget.perHour {
                    preview.notes.append("route \(budget.route) would spend about \(Format.dollars(predicted))/h, under its budget of \(Format.dollars(budget.perHour))/h again")
                }
            }
        }
        // Before is the header's $/h (the same rows, the same source); after moves it by what the
        // changed routes' predicted spend moves, so the dialog and the header agree to the cent.
        if known, preview.routes.contains(where: { route in !preview.refused.contains { $0.route == route.route } }) {
            let now = fleet.summary(now: now).costPerHour
            preview.spendBefore = now
            preview.spendAfter = max(0, now + after - before)
        }
        return preview
    }

    /// `:budget`: the budget in force and the new one, what the route spends now against both, and
    /// what happens to a guard in force.
    static func budgetEffect(route: String, perHour: Double, action: BudgetAction?, fleet: Fleet) -> [String] {
        let current = fleet.budgets().first { $0.route == route }
        let spends = current.map { "it spends \(Format.dollars($0.costPerHour))/h now (the last 5 minutes, over the fleet)" }
        var out: [String] = []
        let now = current.map { "\(Format.dollars($0.perHour))/h (\($0.action.rawValue), from the \($0.source == "operator" ? "operator" : "configuration"))" } ?? "none"
        let new = perHour == 0 ? "off" : "\(Format.dollars(perHour))/h (\((action ?? current?.action ?? .shift).rawValue))"
        out.append("route \(route) budget: \(now) -> \(new)" + (spends.map { "; \($0)" } ?? ""))
        if let guarded = current?.guardInForce {
            out.append("its guard in force since \(Format.iso8601(guarded.since)) (\(guarded.action.rawValue)) is lifted now"
                       + (perHour > 0 && (current?.costPerHour ?? 0) > perHour ? "; it is past the new budget too, so the next evaluation trips it again" : ""))
        } else if perHour > 0, let cost = current?.costPerHour, cost > perHour {
            out.append("it is past the new budget: the next evaluation (within seconds) puts its guard in force")
        }
        return out
    }

    /// What a drill's fault does to the attempts it hits, and when it ends.
    static func faultNotes(_ f: FaultCommand, row: Fleet.ProviderRow?, now: Double) -> [String] {
        let id = f.provider
        let share = (f.ratio ?? 1) >= 1 ? "every attempt" : "\(InjectedFault.percent(f.ratio ?? 1)) of the attempts"
        var out: [String] = []
        switch f.kind {
        case .outage:
            out.append("drill: \(share) on \(id) fail at once as a connect failure, inside the gateway: nothing is sent to \(id) for them")
        case .hang:
            out.append("drill: \(share) on \(id) wait out the first-byte deadline, then time out: clients wait that much longer until the breaker opens")
        case .error:
            out.append("drill: \(share) on \(id) are answered \(f.status ?? 503) inside the gateway: nothing is sent to \(id) for them")
        case .latency:
            let ms = Double(f.extraMs ?? 0) / 1000
            let p50 = row?.p50.map { "p50 \(Format.seconds($0)) -> about \(Format.seconds($0 + ms))" } ?? "p50 not measured yet"
            out.append("drill: \(share) on \(id) wait \(f.extraMs ?? 0)ms before they go out (\(p50)); past the first-byte deadline they time out")
        }
        if f.kind != .latency {
            out.append("the breaker, retries, error figures and alerts see them as real failures; the metrics label them fault=\"drill\"")
        }
        out.append("it ends by itself at \(Format.iso8601(now + f.duration)) (in \(Format.duration(f.duration))), whether or not this console is still running")
        return out
    }

    /// `:limit`: per limit, the one in force and the new one, and what the client does now against
    /// it: how many requests a minute the new rpm would refuse (per node, where the limits hold),
    /// and likewise for tokens, requests at once and today's spend.
    static func limitEffect(client name: String, _ limits: [(String, Double)], _ answering: [NodeStatus]) -> [String] {
        let use = answering.compactMap { node in node.snapshot?.clients?.first { $0.name == name }.map { (node.name, $0) } }
        guard !use.isEmpty else { return [] }
        var out: [String] = []
        func inForce(_ values: [String]) -> String {
            let distinct = Set(values)
            return distinct.count == 1 ? distinct.first! : values.joined(separator: "/")
        }
        for (key, value) in limits {
            let perNode: [(String, Double, String)] = use.map { node, c in
                switch key {
                case "rpm": (node, Double(c.requests1m), c.limits.rpm.map(String.init) ?? "none")
                case "tpm": (node, Double(c.tokens1m), c.limits.tpm.map(String.init) ?? "none")
                case "concurrency": (node, Double(c.inFlight), c.limits.concurrency.map(String.init) ?? "none")
                default: (node, c.spendTodayDollars, c.limits.spendPerDay.map { Format.dollars($0) } ?? "none")
                }
            }
            let new = key == "spend_per_day" ? Format.dollars(value) : String(Int(value))
            let current = inForce(perNode.map(\.2))
            let now = perNode.map { "\($0.0) \(key == "spend_per_day" ? Format.dollars($0.1) : String(Int($0.1)))" }.joined(separator: ", ")
            switch key {
            case "rpm", "tpm":
                let unit = key == "rpm" ? "requests" : "tokens"
                let over = perNode.reduce(0.0) { $0 + max(0, $1.1 - value) }
                let total = perNode.reduce(0.0) { $0 + $1.1 }
                let effect = over > 0 ? "about \(Int(over.rounded())) \(unit)/min would be refused (more if the limit in force already holds it back)"
                                      : "none refused at this pace"
                out.append("\(key) per node: \(current) -> \(new); \(name) sent \(Int(total)) \(unit) in the last minute (\(now)): \(effect)")
            case "concurrency":
                let over = perNode.reduce(0.0) { $0 + max(0, $1.1 - value) }
                out.append("concurrency per node: \(current) -> \(new); in flight now: \(now)"
                           + (over > 0 ? ": \(Int(over)) more than it allows at once would be refused" : ": none over it"))
            default:
                let spent = perNode.map(\.1).max() ?? 0
                out.append("spend_per_day: \(current) -> \(new); spent today: \(now)"
                           + (spent >= value ? ": every request refused until 00:00 UTC" : ": \(Format.dollars(value - spent)) left today"))
            }
        }
        return out
    }

    /// The shares a strategy would give the serving tier's providers now, as the router works
    /// them out (`RoutingChooser.expectedShares`, with its constants) from the inputs the nodes
    /// report: weights, requests in flight, latency (an unmeasured one at the tier's median, as the
    /// router takes it) and prices (a zero price counts as none).
    static func strategyShares(_ strategy: String, _ targets: [Target], _ providers: [String: Provider]) -> [String: Double] {
        let total = targets.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return [:] }
        let strategy = RoutingStrategy(rawValue: strategy) ?? .weighted
        func latency(_ id: String) -> Double? {
            let r = providers[id]?.routing
            return r?.perToken.seconds ?? r?.ttft.seconds
        }
        func price(_ id: String) -> Double? {
            guard let p = providers[id]?.price, p.inputPer1M + p.outputPer1M > 0 else { return nil }
            return p.inputPer1M + p.outputPer1M
        }
        let median = RoutingChooser.median(targets.map { latency($0.provider) })
        let candidates = targets.enumerated().map { index, t in
            RoutingCandidate(provider: index, weight: Double(t.weight), inFlight: providers[t.provider]?.inFlight ?? 0,
                             latency: strategy == .latency ? latency(t.provider) ?? median : latency(t.provider), price: price(t.provider))
        }
        var out: [String: Double] = [:]
        for (t, share) in zip(targets, RoutingChooser.expectedShares(strategy, candidates)) { out[t.provider, default: 0] += share }
        return out
    }

    /// The serving tier and each provider's share in it, by weight among the available ones, as
    /// the router's planner picks the tier (`RoutePlanner.wantedShares`).
    static func shares(_ targets: [Target], available: (String) -> Bool) -> (Int?, [String: Double]) {
        let ids = targets.map(\.provider).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        var tiers = [[ResolvedRoute.Target]](repeating: [], count: (targets.map(\.tier).max() ?? -1) + 1)
        for t in targets { tiers[t.tier].append(.init(provider: index[t.provider]!, model: "", weight: t.weight)) }
        let (tier, shares) = RoutePlanner.wantedShares(ResolvedRoute(alias: "", tiers: tiers), available: { available(ids[$0]) })
        return (tier, Dictionary(shares.map { (ids[$0.key], $0.value) }, uniquingKeysWith: +))
    }
}
