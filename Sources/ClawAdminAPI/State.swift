/// `GET /admin/v1/state`: what operators changed on the node, with the revision every write moves on.
public struct StateDocument: Codable, Sendable, Equatable {
    public var revision: Int
    public var drainedProviders: [String]
    /// route alias -> provider id -> weight (0..1000), overriding the configured weight.
    public var weights: [String: [String: Int]]
    public var failovers: [Failover]
    /// route alias -> routing strategy, overriding the configured one.
    public var strategies: [String: String]
    /// Clients blocked by an operator.
    public var blockedClients: [String]
    /// client name -> limits set by an operator (each given field replaces the configured one).
    public var clientLimits: [String: ClientStatus.Limits]
    public var nodeDrain: Bool
    /// Faults injected for drills, one per provider at most (one past its `until` is no longer applied).
    public var faults: [InjectedFault]
    /// route alias -> the budget an operator set (`per_hour` 0: off), and the budget guards in force.
    public var budgets: [String: RouteBudget]
    public var budgetGuards: [String: BudgetGuard]

    enum CodingKeys: String, CodingKey {
        case revision, weights, failovers, strategies, faults, budgets
        case budgetGuards = "budget_guards"
        case drainedProviders = "drained_providers", nodeDrain = "node_drain", blockedClients = "blocked_clients", clientLimits = "client_limits"
    }

    public init(revision: Int, drainedProviders: [String], weights: [String: [String: Int]], failovers: [Failover],
                strategies: [String: String] = [:], blockedClients: [String] = [], clientLimits: [String: ClientStatus.Limits] = [:], nodeDrain: Bool,
                faults: [InjectedFault] = [], budgets: [String: RouteBudget] = [:], budgetGuards: [String: BudgetGuard] = [:]) {
        self.faults = faults
        self.budgets = budgets
        self.budgetGuards = budgetGuards
        self.revision = revision
        self.drainedProviders = drainedProviders
        self.weights = weights
        self.failovers = failovers
        self.strategies = strategies
        self.blockedClients = blockedClients
        self.clientLimits = clientLimits
        self.nodeDrain = nodeDrain
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        revision = try c.decode(Int.self, forKey: .revision)
        drainedProviders = try c.decode([String].self, forKey: .drainedProviders)
        weights = try c.decode([String: [String: Int]].self, forKey: .weights)
        failovers = try c.decode([Failover].self, forKey: .failovers)
        // Absent from nodes older than routing strategies.
        strategies = c.contains(.strategies) ? try c.decode([String: String].self, forKey: .strategies) : [:]
        blockedClients = c.contains(.blockedClients) ? try c.decode([String].self, forKey: .blockedClients) : []
        clientLimits = c.contains(.clientLimits) ? try c.decode([String: ClientStatus.Limits].self, forKey: .clientLimits) : [:]
        nodeDrain = try c.decode(Bool.self, forKey: .nodeDrain)
        // Absent from nodes older than drills.
        faults = c.contains(.faults) ? try c.decode([InjectedFault].self, forKey: .faults) : []
        budgets = c.contains(.budgets) ? try c.decode([String: RouteBudget].self, forKey: .budgets) : [:]
        budgetGuards = c.contains(.budgetGuards) ? try c.decode([String: BudgetGuard].self, forKey: .budgetGuards) : [:]
    }
}

/// The answer to every write: the revision now in force, whether this write changed anything, and the state.
public struct Written: Codable, Sendable, Equatable {
    public var revision: Int
    public var changed: Bool
    public var state: StateDocument

    public init(revision: Int, changed: Bool, state: StateDocument) {
        self.revision = revision
        self.changed = changed
        self.state = state
    }
}

/// `{"error": {"code", "message", "field"?, "revision"?}}`, the body of every refused admin call.
public struct ErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
        /// The request field to fix, for a 400.
        public var field: String?
        /// The node's current revision, for a 412.
        public var revision: Int?

        public init(code: String, message: String, field: String? = nil, revision: Int? = nil) {
            self.code = code
            self.message = message
            self.field = field
            self.revision = revision
        }
    }

    public var error: Detail

    public init(_ error: Detail) { self.error = error }
}

/// The bodies of the writes. Every write may carry a reason for the audit log and the events.
public struct ReasonBody: Codable, Sendable, Equatable {
    public var reason: String?
    public init(reason: String? = nil) { self.reason = reason }
}

/// `POST .../failover`: where the traffic goes (empty or absent: the tier's others, then the next tier).
public struct FailoverBody: Codable, Sendable, Equatable {
    public var to: [String]?
    public var reason: String?
    public init(to: [String]? = nil, reason: String? = nil) {
        self.to = to
        self.reason = reason
    }
}

/// `PUT /state`: another node's operator state to take (its revision and node drain are not
/// taken: the node moves its own revision on by one and keeps its own drain).
public struct StateBody: Codable, Sendable, Equatable {
    public var state: StateDocument
    public var reason: String?
    public init(state: StateDocument, reason: String? = nil) {
        self.state = state
        self.reason = reason
    }
}

/// `PUT /clients/NAME/limits`: the limits to set (a field left out stays as it is, so an unset
/// limit is left out of the body, not sent as null).
public struct ClientLimitsBody: Codable, Sendable, Equatable {
    public var limits: ClientStatus.Limits
    public var reason: String?
    public init(limits: ClientStatus.Limits, reason: String? = nil) {
        self.limits = limits
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case limits, reason }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var l = c.nestedContainer(keyedBy: ClientStatus.Limits.CodingKeys.self, forKey: .limits)
        try l.encodeIfPresent(limits.rpm, forKey: .rpm)
        try l.encodeIfPresent(limits.tpm, forKey: .tpm)
        try l.encodeIfPresent(limits.spendPerDay, forKey: .spendPerDay)
        try l.encodeIfPresent(limits.concurrency, forKey: .concurrency)
        try c.encodeIfPresent(reason, forKey: .reason)
    }
}

/// `PUT /routes/ALIAS/strategy`.
public struct StrategyBody: Codable, Sendable, Equatable {
    public var strategy: String
    public var reason: String?
    public init(strategy: String, reason: String? = nil) {
        self.strategy = strategy
        self.reason = reason
    }
}

/// `PUT /routes/ALIAS/weights`.
public struct WeightsBody: Codable, Sendable, Equatable {
    public var weights: [String: Int]
    public var reason: String?
    public init(weights: [String: Int], reason: String? = nil) {
        self.weights = weights
        self.reason = reason
    }
}
