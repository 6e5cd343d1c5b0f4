import ClawAdminAPI
import ClawShared
import Foundation

/// An operator's change to a node, as a value: parsed from an admin write, applied by a pure
/// function that returns the new state and the events it implies. The fleet store will commit
/// the same values.
public enum OperatorCommand: Sendable, Equatable {
    case drainProvider(String)
    case undrainProvider(String)
    /// `to` empty: the tier's others, then the next tier.
    case failoverProvider(String, to: [String])
    case restoreProvider(String)
    case setWeights(route: String, weights: [String: Int])
    case setStrategy(route: String, strategy: RoutingStrategy)
    case blockClient(String)
    case unblockClient(String)
    /// The given fields replace the client's limits in force.
    case setClientLimits(client: String, limits: OperatorConfig.ClientLimits)
    case failoverTier(route: String, tier: Int, to: [String])
    case restoreTier(route: String, tier: Int)
    case drainNode
    case undrainNode
    /// Replace the fleet-wide part of the state (drains, weight overrides, failovers) with another
    /// node's, as `:sync` does; this node's own drain stays as it is.
    case replaceState(StateDocument)
    /// With a fleet store: the revisions written straight into etcd up to the one this applies
    /// to are known to an operator, and no longer flagged.
    case acknowledgeStore
    /// Inject a fault on a provider for a drill, for `duration` seconds from now.
    case setFault(provider: String, spec: FaultSpec)
    /// End a provider's fault early (idempotent: no fault, no change).
    case endFault(String)
    /// Drop a provider's fault once its time is over: the node's own write, so the state says what
    /// is in force even when no operator or console is left.
    case expireFault(String)
    /// An operator's budget for a route in place of the configured one (`per_hour` 0: off; no
    /// action: the configured budget's, else shift); it lifts a guard in force (the next
    /// evaluation trips it again if the route is still past the budget).
    case setBudget(route: String, perHour: Double, action: BudgetAction?)
    /// The node found the route past its budget: the guard goes in force (audited as `clawgate`).
    case tripBudget(route: String, costPerHour: Double)
    /// The route stayed under 90 % of its budget for 5 minutes: the guard lifts.
    case liftBudget(route: String, costPerHour: Double)

    /// What `POST /providers/ID/fault` asks for, checked field by field as it is parsed.
    public struct FaultSpec: Sendable, Equatable {
        public var kind: FaultKind
        public var ratio: Double
        public var status: Int?
        public var extraMs: Int?
        public var duration: Double

        public init(kind: FaultKind, ratio: Double = 1, status: Int? = nil, extraMs: Int? = nil, duration: Double) {
            self.kind = kind
            self.ratio = ratio
            self.status = status
            self.extraMs = extraMs
            self.duration = duration
        }

        /// The longest a fault may be set for: a drill that outlives its operator ends within the hour.
        public static let longest = 3600.0
    }

    /// The audit's action word.
    public var action: String {
        switch self {
        case .drainProvider: "provider.drain"
        case .undrainProvider: "provider.undrain"
        case .failoverProvider: "provider.failover"
        case .restoreProvider: "provider.restore"
        case .setWeights: "route.weights"
        case .setStrategy: "route.strategy"
        case .blockClient: "client.block"
        case .unblockClient: "client.unblock"
        case .setClientLimits: "client.limits"
        case .failoverTier: "tier.failover"
        case .restoreTier: "tier.restore"
        case .drainNode: "node.drain"
        case .undrainNode: "node.undrain"
        case .replaceState: "state.replace"
        case .acknowledgeStore: "store.acknowledge"
        case .setFault: "provider.fault"
        case .endFault: "provider.unfault"
        case .expireFault: "provider.fault_expired"
        case .setBudget: "route.budget"
        case .tripBudget: "route.budget_exceeded"
        case .liftBudget: "route.budget_lifted"
        }
    }

    /// What the command acts on: `provider:ID`, `route:ALIAS`, `tier:ALIAS/N` or `node:ID`.
    public func target(node: String) -> String {
        switch self {
        case .drainProvider(let id), .undrainProvider(let id), .failoverProvider(let id, _), .restoreProvider(let id): "provider:\(id)"
        case .setFault(let id, _), .endFault(let id), .expireFault(let id): "provider:\(id)"
        case .setWeights(let route, _), .setStrategy(let route, _), .setBudget(let route, _, _), .tripBudget(let route, _), .liftBudget(let route, _): "route:\(route)"
        case .failoverTier(let route, let tier, _), .restoreTier(let route, let tier): "tier:\(route)/\(tier)"
        case .drainNode, .undrainNode: "node:\(node)"
        case .replaceState, .acknowledgeStore: "fleet"
        case .blockClient(let name), .unblockClient(let name), .setClientLimits(let name, _): "client:\(name)"
        }
    }

    /// The result of applying a command: the next state, and the events that follow from it.
    public struct Change: Sendable, Equatable {
        public var next: OperatorState
        public var events: [Note]

        public init(next: OperatorState, events: [Note]) {
            self.next = next
            self.events = events
        }
    }

    /// An event the change implies (the writer adds who did it).
    public struct Note: Sendable, Equatable {
        public var kind: EventKind
        public var subject: String
        public var detail: String

        public init(kind: EventKind, subject: String, detail: String) {
            self.kind = kind
            self.subject = subject
            self.detail = detail
        }
    }

    /// Check the command against the configuration and apply it to `state`. Pure: the time,
    /// reason and actor come in, nothing is written. A command that is wrong in itself throws (400/404).
    public func apply(to state: OperatorState, config: OperatorConfig, now: Double, reason: String?, actor: String? = nil) throws(OperatorError) -> Change {
        var next = state
        var notes: [Note] = []
        let target = target(node: config.nodeID)
        switch self {
        case .drainProvider(let id):
            try Self.provider(id, config)
            next.drainedProviders.insert(id)
        case .undrainProvider(let id):
            try Self.provider(id, config)
            next.drainedProviders.remove(id)
        case .failoverProvider(let id, let to):
            try Self.provider(id, config)
            let routes = config.routes.filter { $0.tiers.joined().contains { $0.provider == id } }
            try Self.checkTargets(to, routes: routes, exclude: [id], config: config)
            Self.setFailover(&next, subject: target, provider: id, route: nil, tier: nil, to: to, now: now, reason: reason)
            notes.append(Note(kind: .failoverStarted, subject: target, detail: Self.whereTo(to)))
        case .restoreProvider(let id):
            try Self.provider(id, config)
            next.failovers.removeAll { $0.subject == target }
            notes.append(Note(kind: .failoverRestored, subject: target, detail: "configured routing applies again"))
        case .setWeights(let alias, let weights):
            try Self.setWeights(alias, weights, &next, config: config)
        case .setStrategy(let alias, let strategy):
            let route = try Self.route(alias, config)
            next.strategies[alias] = strategy == route.strategy ? nil : strategy
        case .failoverTier(let alias, let tier, let to):
            let route = try Self.route(alias, config)
            try Self.tier(tier, of: route)
            try Self.checkTargets(to, routes: [route], exclude: Set(route.tiers[tier].map(\.provider)), config: config)
            Self.setFailover(&next, subject: target, provider: nil, route: alias, tier: tier, to: to, now: now, reason: reason)
            notes.append(Note(kind: .failoverStarted, subject: target, detail: Self.whereTo(to)))
        case .restoreTier(let alias, let tier):
            try Self.tier(tier, of: try Self.route(alias, config))
            next.failovers.removeAll { $0.subject == target }
            notes.append(Note(kind: .failoverRestored, subject: target, detail: "configured routing applies again"))
        case .drainNode:
            next.nodeDrain = true
            next.drainedNodes.insert(config.nodeID)
            notes.append(Note(kind: .nodeDraining, subject: config.nodeID, detail: "readiness answers 503; in-flight requests finish"))
        case .undrainNode:
            next.nodeDrain = false
            next.drainedNodes.remove(config.nodeID)
            notes.append(Note(kind: .nodeServing, subject: config.nodeID, detail: "readiness answers 200 again"))
        case .replaceState(let document):
            try Self.replace(&next, with: document, config: config)
        case .acknowledgeStore:
            next.storeAcknowledged = max(state.storeAcknowledged, state.revision)
        case .blockClient(let name):
            try Self.client(name, config)
            next.blockedClients.insert(name)
        case .unblockClient(let name):
            try Self.client(name, config)
            next.blockedClients.remove(name)
        case .setClientLimits(let name, let limits):
            try Self.client(name, config)
            let current = next.clientLimits[name] ?? OperatorConfig.ClientLimits()
            next.clientLimits[name] = current.merged(limits)
        case .setFault(let id, let spec):
            try Self.provider(id, config)
            if let active = state.fault(provider: id, now: now) {
                throw OperatorError.conflict("fault_active",
                                 "Provider '\(id)' already has a fault in force (\(active.summary), until \(Self.stamp(active.until))); at most one per provider: end it first (DELETE /admin/v1/providers/\(id)/fault).")
            }
            next.faults[id] = InjectedFault(provider: id, kind: spec.kind, ratio: spec.ratio, status: spec.status, extraMs: spec.extraMs,
                                            since: now, until: now + spec.duration, reason: reason, actor: actor)
        case .endFault(let id):
            try Self.provider(id, config)
            next.faults[id] = nil
        case .expireFault(let id):
            if let fault = next.faults[id], !fault.active(now: now) { next.faults[id] = nil }
        case .setBudget(let alias, let perHour, let action):
            let route = try Self.route(alias, config)
            let budget = RouteBudget(perHour: perHour, action: action ?? route.budget?.action ?? .shift)
            guard budget.perHour.isFinite, (0...10_000_000).contains(budget.perHour) else {
                throw .invalid("per_hour", "must be dollars per hour 0..10000000 (0 turns the budget off)")
            }
            // The configured budget again removes the override; "off" where none is configured too.
            let configured = route.budget ?? RouteBudget(perHour: 0, action: budget.action)
            next.budgets[alias] = budget == configured || (budget.perHour == 0 && route.budget == nil) ? nil : budget
            if next.budgetGuards.removeValue(forKey: alias) != nil {
                notes.append(Note(kind: .budgetLifted, subject: alias, detail: budget.perHour == 0 ? "the budget was turned off by an operator"
                                                                                               : "an operator set the budget to \(Self.dollars(budget.perHour))/h"))
            }
        case .tripBudget(let alias, let cost):
            let route = try Self.route(alias, config)
            guard next.budgetGuards[alias] == nil, let budget = next.budget(of: route), cost > budget.perHour else { break }
            next.budgetGuards[alias] = BudgetGuard(route: alias, action: budget.action, since: now, perHour: budget.perHour, costPerHour: cost)
            let what = budget.action == .shift ? "its traffic goes to its cheapest tier that is serving" : "its requests are refused with 429 budget_exceeded"
            notes.append(Note(kind: .budgetExceeded, subject: alias,
                              detail: "route \(alias) spends \(Self.dollars(cost))/h over the last 5 minutes, past its budget of \(Self.dollars(budget.perHour))/h: \(what)"))
        case .liftBudget(let alias, let cost):
            _ = try Self.route(alias, config)
            if let guarded = next.budgetGuards.removeValue(forKey: alias) {
                notes.append(Note(kind: .budgetLifted, subject: alias,
                                  detail: "route \(alias) spent \(Self.dollars(cost))/h, under 90 % of its budget of \(Self.dollars(guarded.perHour))/h for 5 minutes"))
            }
        }
        return Change(next: next, events: notes)
    }

    /// The part of the operator state this command touches, for the audit's before -> after.
    public func auditView(_ state: OperatorState, node: String) -> JSONValue {
        switch self {
        case .drainProvider(let id), .undrainProvider(let id), .failoverProvider(let id, _), .restoreProvider(let id):
            return ["drained": .bool(state.drainedProviders.contains(id)), "failover": state.failedOver(provider: id)?.json ?? .null]
        case .setWeights(let route, _):
            return .object((state.weights[route] ?? [:]).mapValues { JSONValue($0) })
        case .setStrategy(let route, _):
            return ["strategy": state.strategies[route].map { .string($0.rawValue) } ?? .null]
        case .failoverTier, .restoreTier:
            let target = target(node: node)
            return state.failovers.first { $0.subject == target }?.json ?? .null
        case .drainNode, .undrainNode:
            return ["drain": .bool(state.nodeDrain)]
        case .blockClient(let name), .unblockClient(let name):
            return ["blocked": .bool(state.blockedClients.contains(name))]
        case .setClientLimits(let name, _):
            return state.clientLimits[name]?.json ?? .null
        case .acknowledgeStore:
            return ["acknowledged_through": JSONValue(state.storeAcknowledged)]
        case .setFault(let id, _), .endFault(let id), .expireFault(let id):
            return ["fault": state.faults[id]?.json ?? .null]
        case .setBudget(let route, _, _), .tripBudget(let route, _), .liftBudget(let route, _):
            return ["budget": state.budgets[route].map(OperatorState.json) ?? .null, "guard": state.budgetGuards[route].map(OperatorState.json) ?? .null]
        case .replaceState:
            return ["drained_providers": .array(state.drainedProviders.sorted().map { .string($0) }),
                    "weights": .object(state.weights.mapValues { .object($0.mapValues { JSONValue($0) }) }),
                    "failovers": .array(state.failovers.map(\.json)),
                    "strategies": .object(state.strategies.mapValues { .string($0.rawValue) }),
                    "faults": .array(state.faults.keys.sorted().map { state.faults[$0]!.json })]
        }
    }

    /// `$12.50`.
    public static func dollars(_ value: Double) -> String { String(format: "$%.2f", value) }

    /// A UTC time stamp for messages: `2025-05-01T02:58:10Z`.
    public static func stamp(_ time: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: time))
    }

    // MARK: Checks

    public static func whereTo(_ to: [String]) -> String {
        to.isEmpty ? "new traffic goes to the rest of the tier, then the next tier" : "new traffic goes to \(to.joined(separator: ", "))"
    }

    public static func provider(_ id: String, _ config: OperatorConfig) throws(OperatorError) {
        guard config.providers.contains(where: { $0.id == id }) else {
            throw .notFound("No provider '\(id)'; known: \(config.providers.map(\.id).joined(separator: ", ")).")
        }
    }

    public static func client(_ name: String, _ config: OperatorConfig) throws(OperatorError) {
        guard let clients = config.clients, clients.contains(name) else {
            throw .notFound(config.clients == nil ? "No clients are configured on this gateway (it is open); there is no client '\(name)'."
                                                  : "No client '\(name)'; known: \(config.clients!.joined(separator: ", ")).")
        }
    }

    public static func route(_ alias: String, _ config: OperatorConfig) throws(OperatorError) -> OperatorConfig.Route {
        guard let route = config.routes.first(where: { $0.alias == alias }) else {
            throw .notFound("No route '\(alias)'; known: \(config.routes.map(\.alias).joined(separator: ", ")).")
        }
        return route
    }

    public static func tier(_ index: Int, of route: OperatorConfig.Route) throws(OperatorError) {
        guard route.tiers.indices.contains(index) else {
            throw .notFound("Route '\(route.alias)' has tiers 0..\(route.tiers.count - 1); no tier '\(index)'.")
        }
    }

    /// Providers in `to` must exist, not be the ones failed over, and serve every route concerned.
    public static func checkTargets(_ to: [String], routes: [OperatorConfig.Route], exclude: Set<String>, config: OperatorConfig) throws(OperatorError) {
        for (index, id) in to.enumerated() {
            guard config.providers.contains(where: { $0.id == id }) else { throw .invalid("to[\(index)]", "unknown provider '\(id)'") }
            guard !exclude.contains(id) else { throw .invalid("to[\(index)]", "'\(id)' is the provider (or in the tier) being failed over") }
            for route in routes where !route.tiers.joined().contains(where: { $0.provider == id }) {
                throw .invalid("to[\(index)]", "'\(id)' is not in route '\(route.alias)', so it cannot take that route's traffic")
            }
        }
    }

    public static func setFailover(_ next: inout OperatorState, subject: String, provider: String?, route: String?, tier: Int?, to: [String],
                            now: Double, reason: String?) {
        if let existing = next.failovers.firstIndex(where: { $0.subject == subject }) {
            next.failovers[existing].to = to
        } else {
            next.failovers.append(.init(subject: subject, provider: provider, route: route, tier: tier, to: to, since: now, reason: reason))
        }
    }

    public static func setWeights(_ alias: String, _ weights: [String: Int], _ next: inout OperatorState, config: OperatorConfig) throws(OperatorError) {
        let route = try route(alias, config)
        guard !weights.isEmpty else { throw .invalid("weights", "required: an object of provider id -> weight 0..1000") }
        let inRoute = Set(route.tiers.joined().map(\.provider))
        var overrides = next.weights[alias] ?? [:]
        for (id, weight) in weights.sorted(by: { $0.key < $1.key }) {
            guard inRoute.contains(id) else {
                throw .invalid("weights.\(id)", "provider '\(id)' is not in route '\(alias)'; its providers: \(inRoute.sorted().joined(separator: ", "))")
            }
            guard (0...1000).contains(weight) else { throw .invalid("weights.\(id)", "must be a whole number 0..1000") }
            overrides[id] = weight
        }
        for (index, tier) in route.tiers.enumerated() {
            // Keep only overrides that differ from the configuration.
            for t in tier where overrides[t.provider] == t.weight { overrides[t.provider] = nil }
            if tier.allSatisfy({ (overrides[$0.provider] ?? $0.weight) == 0 }) {
                throw .invalid("weights", "tier \(index) of route '\(alias)' would have every weight 0; keep at least one above 0")
            }
        }
        next.weights[alias] = overrides.isEmpty ? nil : overrides
    }

    /// The fleet-wide part of `document` in `next`, each part checked against this node's
    /// configuration (a name it does not know is refused, naming the field).
    public static func replace(_ next: inout OperatorState, with document: StateDocument, config: OperatorConfig) throws(OperatorError) {
        var drained: Set<String> = []
        for (index, id) in document.drainedProviders.enumerated() {
            guard config.providers.contains(where: { $0.id == id }) else {
                throw .invalid("state.drained_providers[\(index)]", "unknown provider '\(id)'")
            }
            drained.insert(id)
        }
        next.drainedProviders = drained
        next.weights = [:]
        for (alias, weights) in document.weights.sorted(by: { $0.key < $1.key }) where !weights.isEmpty {
            guard config.routes.contains(where: { $0.alias == alias }) else { throw .invalid("state.weights.\(alias)", "unknown route '\(alias)'") }
            do throws(OperatorError) {
                try setWeights(alias, weights, &next, config: config)
            } catch {
                throw .invalid("state.weights.\(alias)", error.message)
            }
        }
        var failovers: [OperatorState.Failover] = []
        for (index, failover) in document.failovers.enumerated() {
            let field = "state.failovers[\(index)]"
            guard !failovers.contains(where: { $0.subject == failover.subject }) else { throw .invalid(field, "a second failover of \(failover.subject)") }
            var checked = failover
            do throws(OperatorError) {
                if failover.subject.hasPrefix("provider:") {
                    let id = String(failover.subject.dropFirst("provider:".count))
                    try provider(id, config)
                    try checkTargets(failover.to, routes: config.routes.filter { $0.tiers.joined().contains { $0.provider == id } }, exclude: [id], config: config)
                    (checked.provider, checked.route, checked.tier) = (id, nil, nil)
                } else if failover.subject.hasPrefix("tier:"), let slash = failover.subject.lastIndex(of: "/"),
                          let tierIndex = Int(failover.subject[failover.subject.index(after: slash)...]) {
                    let alias = String(failover.subject[failover.subject.index(failover.subject.startIndex, offsetBy: 5)..<slash])
                    let route = try route(alias, config)
                    try tier(tierIndex, of: route)
                    try checkTargets(failover.to, routes: [route], exclude: Set(route.tiers[tierIndex].map(\.provider)), config: config)
                    (checked.provider, checked.route, checked.tier) = (nil, alias, tierIndex)
                } else {
                    throw .invalid(field, "subject must be provider:ID or tier:ALIAS/INDEX, got '\(failover.subject)'")
                }
            } catch {
                throw .invalid(field, error.message)
            }
            failovers.append(checked)
        }
        next.failovers = failovers
        next.strategies = [:]
        for (alias, name) in document.strategies.sorted(by: { $0.key < $1.key }) {
            guard let route = config.routes.first(where: { $0.alias == alias }) else { throw .invalid("state.strategies.\(alias)", "unknown route '\(alias)'") }
            guard let strategy = RoutingStrategy(rawValue: name) else {
                throw .invalid("state.strategies.\(alias)", "must be one of \(RoutingStrategy.names), got '\(name)'")
            }
            if strategy != route.strategy { next.strategies[alias] = strategy }
        }
        let clients = Set((config.clients ?? []))
        for (index, name) in document.blockedClients.enumerated() where !clients.contains(name) {
            throw .invalid("state.blocked_clients[\(index)]", "unknown client '\(name)'")
        }
        next.blockedClients = Set(document.blockedClients)
        for name in document.clientLimits.keys.sorted() where !clients.contains(name) {
            throw .invalid("state.client_limits.\(name)", "unknown client '\(name)'")
        }
        next.clientLimits = document.clientLimits.mapValues(OperatorConfig.ClientLimits.init)
        var faults: [String: InjectedFault] = [:]
        for (index, fault) in document.faults.enumerated() {
            let field = "state.faults[\(index)]"
            guard config.providers.contains(where: { $0.id == fault.provider }) else { throw .invalid(field, "unknown provider '\(fault.provider)'") }
            guard faults[fault.provider] == nil else { throw .invalid(field, "a second fault on \(fault.provider); at most one per provider") }
            do throws(OperatorError) {
                _ = try checkFault(kind: fault.kind, ratio: fault.ratio, status: fault.status, extraMs: fault.extraMs, duration: fault.until - fault.since)
            } catch {
                throw .invalid(field, error.message)
            }
            faults[fault.provider] = fault
        }
        next.faults = faults
        for alias in document.budgets.keys.sorted() where !config.routes.contains(where: { $0.alias == alias }) {
            throw .invalid("state.budgets.\(alias)", "unknown route '\(alias)'")
        }
        for alias in document.budgetGuards.keys.sorted() where !config.routes.contains(where: { $0.alias == alias }) {
            throw .invalid("state.budget_guards.\(alias)", "unknown route '\(alias)'")
        }
        next.budgets = document.budgets
        next.budgetGuards = document.budgetGuards
    }

    /// A fault's fields as the API allows them (`error` takes a status, `latency` its extra_ms,
    /// the others neither; at most an hour), each refusal naming its field.
    public static func checkFault(kind: FaultKind, ratio: Double?, status: Int?, extraMs: Int?, duration: Double) throws(OperatorError) -> FaultSpec {
        let ratio = ratio ?? 1
        guard ratio.isFinite, (0...1).contains(ratio) else { throw .invalid("ratio", "must be a share of requests 0..1, got \(ratio)") }
        guard duration.isFinite, duration >= 1 else { throw .invalid("duration", "must be at least 1 second") }
        guard duration <= FaultSpec.longest else {
            throw .invalid("duration", "at most 1h (3600 seconds), got \(duration < 1e9 ? String(Int(duration.rounded())) : String(duration)) seconds: a drill ends within the hour")
        }
        var spec = FaultSpec(kind: kind, ratio: ratio, duration: duration)
        switch kind {
        case .error:
            let code = status ?? 503
            guard code == 408 || code == 429 || (500...599).contains(code) else {
                throw .invalid("status", "must be 408, 429 or 500..599 (a provider's failure the gateway retries elsewhere), got \(code)")
            }
            spec.status = code
        case .latency:
            guard let extraMs else { throw .invalid("extra_ms", "required for kind latency: the milliseconds to add, 1..600000") }
            guard (1...600_000).contains(extraMs) else { throw .invalid("extra_ms", "must be 1..600000 milliseconds, got \(extraMs)") }
            spec.extraMs = extraMs
        case .outage, .hang:
            break
        }
        if kind != .error, status != nil { throw .invalid("status", "only for kind error") }
        if kind != .latency, extraMs != nil { throw .invalid("extra_ms", "only for kind latency") }
        return spec
    }
}
