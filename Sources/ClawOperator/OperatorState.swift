import ClawAdminAPI
import ClawShared
import Foundation

/// What operators changed on this node: drains, weights, failovers and the node drain, with a
/// revision that every write moves on. Persisted as JSON; survives restarts.
public struct OperatorState: Sendable, Equatable {
    /// The admin API's failover: providers in `to` take the traffic; empty means the tier's others, then the next tier.
    public typealias Failover = ClawAdminAPI.Failover
    public typealias Fault = ClawAdminAPI.InjectedFault

    public var revision = 0
    public var drainedProviders: Set<String> = []
    /// route alias -> provider id -> weight (0..1000), overriding the configured weight.
    public var weights: [String: [String: Int]] = [:]
    public var failovers: [Failover] = []
    /// route alias -> strategy, overriding the configured one.
    public var strategies: [String: RoutingStrategy] = [:]
    /// Clients an operator blocked: every request of theirs is refused with 403.
    public var blockedClients: Set<String> = []
    /// client name -> limits an operator set (each given field replaces the configured one).
    public var clientLimits: [String: OperatorConfig.ClientLimits] = [:]
    public var nodeDrain = false
    /// Node ids drained by an operator: the fleet store's record of node drains (each node takes
    /// its own `nodeDrain` from it).
    public var drainedNodes: Set<String> = []
    /// provider id -> the fault injected on it for a drill (at most one each). One whose `until`
    /// has passed is no longer applied, and is dropped by the next write (the node makes one).
    public var faults: [String: Fault] = [:]
    /// route alias -> the budget an operator set in place of the configured one (`per_hour` 0: off).
    public var budgets: [String: RouteBudget] = [:]
    /// route alias -> the budget guard in force (tripped by a node itself, audited as `clawgate`).
    public var budgetGuards: [String: BudgetGuard] = [:]
    /// The id of the write that made this state, so a writer whose answer was lost can tell
    /// whether its write took effect.
    public var operation: String?
    /// With a fleet store: the revision up to which an operator acknowledged states written
    /// straight into etcd (`POST /admin/v1/store/acknowledge`); later ones without an audit
    /// record are flagged.
    public var storeAcknowledged = 0

    public init() {}

    public func failedOver(provider: String) -> Failover? {
        failovers.first { $0.provider == provider }
    }

    /// The budget in force on `route`: the operator's, else the configured one; nil when off or none.
    public func budget(of route: OperatorConfig.Route) -> RouteBudget? {
        let budget = budgets[route.alias] ?? route.budget
        return budget.flatMap { $0.perHour > 0 ? $0 : nil }
    }

    /// The fault in force on `provider` at `now` (wall-clock seconds), if any.
    public func fault(provider: String, now: Double) -> Fault? {
        faults[provider].flatMap { $0.active(now: now) ? $0 : nil }
    }

    // MARK: JSON

    /// The admin API's form of this state (`GET /admin/v1/state`, and in every write's answer).
    public var document: StateDocument {
        StateDocument(revision: revision, drainedProviders: drainedProviders.sorted(), weights: weights, failovers: failovers,
                      strategies: strategies.mapValues(\.rawValue), blockedClients: blockedClients.sorted(),
                      clientLimits: clientLimits.mapValues(\.wire), nodeDrain: nodeDrain,
                      faults: faults.keys.sorted().map { faults[$0]! }, budgets: budgets, budgetGuards: budgetGuards)
    }

    public var json: JSONValue {
        [
            "revision": JSONValue(revision),
            "drained_providers": .array(drainedProviders.sorted().map { .string($0) }),
            "weights": .object(weights.mapValues { .object($0.mapValues { JSONValue($0) }) }),
            "failovers": .array(failovers.map(\.json)),
            "strategies": .object(strategies.mapValues { .string($0.rawValue) }),
            "blocked_clients": .array(blockedClients.sorted().map { .string($0) }),
            "client_limits": .object(clientLimits.mapValues(\.json)),
            "node_drain": .bool(nodeDrain),
            "drained_nodes": .array(drainedNodes.sorted().map { .string($0) }),
            "faults": .array(faults.keys.sorted().map { faults[$0]!.json }),
            "budgets": .object(budgets.mapValues(Self.json)),
            "budget_guards": .object(budgetGuards.mapValues(Self.json)),
            "operation": operation.map { .string($0) } ?? .null,
            "store_acknowledged": JSONValue(storeAcknowledged),
        ]
    }

    /// This state as `node` applies it: its own drain comes from the fleet's list.
    public func seen(by node: String) -> OperatorState {
        var copy = self
        copy.nodeDrain = drainedNodes.contains(node)
        return copy
    }

    /// Equal in what routing and operators see (the operation id aside).
    public func sameContent(as other: OperatorState) -> Bool {
        var a = self
        var b = other
        a.operation = nil
        b.operation = nil
        return a == b
    }

    public init(json: JSONValue) throws(OperatorStateError) {
        guard let o = json.objectValue else { throw OperatorStateError("the state must be a JSON object") }
        guard let revision = o["revision"]?.intValue, revision >= 0 else { throw OperatorStateError("revision: must be a whole number >= 0") }
        self.revision = revision
        guard let drained = o["drained_providers"]?.arrayValue else { throw OperatorStateError("drained_providers: must be a list") }
        for item in drained {
            guard let id = item.stringValue else { throw OperatorStateError("drained_providers: must hold strings") }
            drainedProviders.insert(id)
        }
        guard let weights = o["weights"]?.objectValue else { throw OperatorStateError("weights: must be an object") }
        for (route, value) in weights {
            guard let entries = value.objectValue else { throw OperatorStateError("weights.\(route): must be an object") }
            var map: [String: Int] = [:]
            for (provider, w) in entries {
                guard let weight = w.intValue, (0...1000).contains(weight) else { throw OperatorStateError("weights.\(route).\(provider): must be 0..1000") }
                map[provider] = weight
            }
            self.weights[route] = map
        }
        guard let failovers = o["failovers"]?.arrayValue else { throw OperatorStateError("failovers: must be a list") }
        for (index, item) in failovers.enumerated() {
            guard let f = item.objectValue, let subject = f["subject"]?.stringValue, let since = f["since"]?.doubleValue,
                  let to = f["to"]?.arrayValue?.compactMap(\.stringValue)
            else { throw OperatorStateError("failovers[\(index)]: needs subject, to and since") }
            self.failovers.append(Failover(subject: subject, provider: f["provider"]?.stringValue, route: f["route"]?.stringValue,
                                           tier: f["tier"]?.intValue, to: to, since: since, reason: f["reason"]?.stringValue))
        }
        // Absent in states written before strategies existed.
        for (route, value) in o["strategies"]?.objectValue ?? [:] {
            guard let name = value.stringValue, let strategy = RoutingStrategy(rawValue: name) else {
                throw OperatorStateError("strategies.\(route): must be one of \(RoutingStrategy.names)")
            }
            strategies[route] = strategy
        }
        for item in o["blocked_clients"]?.arrayValue ?? [] {
            guard let name = item.stringValue else { throw OperatorStateError("blocked_clients: must hold strings") }
            blockedClients.insert(name)
        }
        for (name, value) in o["client_limits"]?.objectValue ?? [:] {
            guard let limits = OperatorConfig.ClientLimits(json: value) else { throw OperatorStateError("client_limits.\(name): must be {rpm, tpm, spend_per_day, concurrency}") }
            clientLimits[name] = limits
        }
        guard let drain = o["node_drain"]?.boolValue else { throw OperatorStateError("node_drain: must be true or false") }
        nodeDrain = drain
        for item in o["drained_nodes"]?.arrayValue ?? [] {
            guard let id = item.stringValue else { throw OperatorStateError("drained_nodes: must hold strings") }
            drainedNodes.insert(id)
        }
        // Absent in states written before drills existed.
        for (index, item) in (o["faults"]?.arrayValue ?? []).enumerated() {
            guard let fault = try? AdminAPI.decode(Fault.self, from: item.bytes()) else {
                throw OperatorStateError("faults[\(index)]: must be {provider, kind, ratio, status, extra_ms, since, until, reason, actor}")
            }
            faults[fault.provider] = fault
        }
        for (route, value) in o["budgets"]?.objectValue ?? [:] {
            guard let budget = try? AdminAPI.decode(RouteBudget.self, from: value.bytes()), budget.perHour >= 0 else {
                throw OperatorStateError("budgets.\(route): must be {per_hour >= 0, action: shift|refuse}")
            }
            budgets[route] = budget
        }
        for (route, value) in o["budget_guards"]?.objectValue ?? [:] {
            guard let guarded = try? AdminAPI.decode(BudgetGuard.self, from: value.bytes()) else {
                throw OperatorStateError("budget_guards.\(route): must be {route, action, since, per_hour, cost_per_hour}")
            }
            budgetGuards[route] = guarded
        }
        operation = o["operation"]?.stringValue
        // Absent in states written before acknowledgements existed.
        if let acknowledged = o["store_acknowledged"] {
            guard let value = acknowledged.intValue, value >= 0 else { throw OperatorStateError("store_acknowledged: must be a whole number >= 0") }
            storeAcknowledged = value
        }
    }

    public static func json(_ value: some Encodable) -> JSONValue { (try? JSONValue.parse(bytes: AdminAPI.encode(value))) ?? .null }

    // MARK: Routing

    /// The routes in effect: operator weights applied, drained and failed-over providers at weight 0,
    /// failover targets added to the tier they take over.
    public func effectiveRoutes(config: OperatorConfig, providerIndex: [String: Int]) -> [ResolvedRoute] {
        config.routes.map { route in
            var tiers: [[ResolvedRoute.Target]] = []
            for (tierIndex, tier) in route.tiers.enumerated() {
                let tierFailover = failovers.first { $0.route == route.alias && $0.tier == tierIndex }
                var targets: [ResolvedRoute.Target] = []
                var moved: [(weight: Int, to: [String])] = []
                for t in tier {
                    guard let index = providerIndex[t.provider] else { continue }
                    let weight = weights[route.alias]?[t.provider] ?? t.weight
                    if drainedProviders.contains(t.provider) {
                        targets.append(.init(provider: index, model: t.model, weight: 0))
                    } else if let f = failedOver(provider: t.provider) ?? tierFailover {
                        targets.append(.init(provider: index, model: t.model, weight: 0))
                        if !f.to.isEmpty { moved.append((weight, f.to)) }
                    } else {
                        targets.append(.init(provider: index, model: t.model, weight: weight))
                    }
                }
                for (weight, to) in moved {
                    let share = Self.failoverShare(weight, among: to.count)
                    for target in to {
                        guard let index = providerIndex[target], !drainedProviders.contains(target), failedOver(provider: target) == nil,
                              let model = route.tiers.joined().first(where: { $0.provider == target })?.model
                        else { continue }
                        if let existing = targets.firstIndex(where: { $0.provider == index }) {
                            targets[existing].weight += share
                        } else {
                            targets.append(.init(provider: index, model: model, weight: share))
                        }
                    }
                }
                tiers.append(targets)
            }
            var resolved = ResolvedRoute(alias: route.alias, tiers: tiers, strategy: strategies[route.alias] ?? route.strategy)
            // Over budget with `shift`: the cheapest tier that serves first, the dearer after it.
            if budgetGuards[route.alias]?.action == .shift {
                let prices = tiers.map { Self.price(of: $0, config: config) }
                resolved.order = tiers.indices.sorted { (prices[$0], $0) < (prices[$1], $1) }
            }
            return resolved
        }
    }

    /// The weight each of a failover's `count` targets takes over from a provider of `weight`: an
    /// equal part, at least 1 (the console's preview moves weights by the same rule).
    public static func failoverShare(_ weight: Int, among count: Int) -> Int { max(1, weight / max(1, count)) }

    /// A tier's price per request as the budget guard ranks tiers: the weighted mean of its
    /// providers' input and output prices per million tokens; a provider without `price:` is never
    /// taken for cheap (it counts as the dearest).
    public static func price(of tier: [ResolvedRoute.Target], config: OperatorConfig) -> Double {
        let weighted = tier.filter { $0.weight > 0 }
        guard !weighted.isEmpty else { return .infinity }
        var total = 0.0
        var weights = 0.0
        for t in weighted {
            guard let price = config.providers[t.provider].pricePer1M else { return .infinity }
            total += Double(t.weight) * price
            weights += Double(t.weight)
        }
        return total / weights
    }

    /// Drop what no longer matches the configuration (a provider or route removed since).
    public mutating func prune(config: OperatorConfig) -> [String] {
        var dropped: [String] = []
        let providers = Set(config.providers.map(\.id))
        let routes = Dictionary(uniqueKeysWithValues: config.routes.map { ($0.alias, $0) })
        for id in drainedProviders where !providers.contains(id) {
            drainedProviders.remove(id)
            dropped.append("drain of unknown provider \(id)")
        }
        for (route, map) in weights {
            guard let r = routes[route] else {
                weights[route] = nil
                dropped.append("weights of unknown route \(route)")
                continue
            }
            let inRoute = Set(r.tiers.joined().map(\.provider))
            for provider in map.keys where !inRoute.contains(provider) {
                weights[route]?[provider] = nil
                dropped.append("weight of \(provider) not in route \(route)")
            }
        }
        let clientNames = Set((config.clients ?? []))
        for name in blockedClients where !clientNames.contains(name) {
            blockedClients.remove(name)
            dropped.append("block of unknown client \(name)")
        }
        for name in clientLimits.keys where !clientNames.contains(name) {
            clientLimits[name] = nil
            dropped.append("limits of unknown client \(name)")
        }
        for id in faults.keys where !providers.contains(id) {
            faults[id] = nil
            dropped.append("fault of unknown provider \(id)")
        }
        for route in budgets.keys where routes[route] == nil {
            budgets[route] = nil
            dropped.append("budget of unknown route \(route)")
        }
        for route in budgetGuards.keys where routes[route] == nil {
            budgetGuards[route] = nil
            dropped.append("budget guard of unknown route \(route)")
        }
        for route in strategies.keys where routes[route] == nil {
            strategies[route] = nil
            dropped.append("strategy of unknown route \(route)")
        }
        failovers.removeAll { f in
            let stale = (f.provider.map { !providers.contains($0) } ?? false)
                || (f.route.map { routes[$0] == nil || (f.tier ?? 0) >= routes[$0]!.tiers.count } ?? false)
            if stale { dropped.append("failover of \(f.subject)") }
            return stale
        }
        return dropped
    }
}

extension ClawAdminAPI.Failover {
    /// As a JSON value, for the state file and the audit's before -> after.
    public var json: JSONValue { (try? JSONValue.parse(bytes: AdminAPI.encode(self))) ?? .null }
}

extension ClawAdminAPI.InjectedFault {
    /// As a JSON value, for the state file and the audit's before -> after.
    public var json: JSONValue { (try? JSONValue.parse(bytes: AdminAPI.encode(self))) ?? .null }
}

public struct OperatorStateError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension OperatorConfig.ClientLimits {
    var json: JSONValue {
        ["rpm": rpm.map { JSONValue($0) } ?? .null, "tpm": tpm.map { JSONValue($0) } ?? .null,
         "spend_per_day": spendPerDay.map { JSONValue($0) } ?? .null, "concurrency": concurrency.map { JSONValue($0) } ?? .null]
    }

    public init?(json: JSONValue) {
        guard let o = json.objectValue else { return nil }
        func int(_ key: String) -> Int?? {
            guard let v = o[key], v != .null else { return .some(nil) }
            guard let n = v.intValue, n > 0 else { return nil }
            return .some(n)
        }
        guard let rpm = int("rpm"), let tpm = int("tpm"), let concurrency = int("concurrency") else { return nil }
        var spend: Double?
        if let v = o["spend_per_day"], v != .null {
            guard let d = v.doubleValue, d >= 0 else { return nil }
            spend = d
        }
        self.init(rpm: rpm, tpm: tpm, spendPerDay: spend, concurrency: concurrency)
    }

    public var wire: ClientStatus.Limits { .init(rpm: rpm, tpm: tpm, spendPerDay: spendPerDay, concurrency: concurrency) }

    public init(_ wire: ClientStatus.Limits) { self.init(rpm: wire.rpm, tpm: wire.tpm, spendPerDay: wire.spendPerDay, concurrency: wire.concurrency) }

    /// These limits with `override`'s given fields in their place.
    public func merged(_ override: OperatorConfig.ClientLimits?) -> OperatorConfig.ClientLimits {
        guard let override else { return self }
        return .init(rpm: override.rpm ?? rpm, tpm: override.tpm ?? tpm, spendPerDay: override.spendPerDay ?? spendPerDay,
                     concurrency: override.concurrency ?? concurrency)
    }
}
