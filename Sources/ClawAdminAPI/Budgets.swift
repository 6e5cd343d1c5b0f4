/// What a route's budget guard does while the route spends more than its budget.
public enum BudgetAction: String, Codable, Sendable, CaseIterable {
    /// The route's traffic goes to its cheapest tier that is serving.
    case shift
    /// The route's requests are answered 429 `budget_exceeded`; no provider sees them.
    case refuse
}

/// A route's budget in force: dollars per hour, and what happens past it.
public struct RouteBudget: Codable, Sendable, Equatable {
    /// 0: off (an operator turned the configured budget off).
    public var perHour: Double
    public var action: BudgetAction

    enum CodingKeys: String, CodingKey {
        case action
        case perHour = "per_hour"
    }

    public init(perHour: Double, action: BudgetAction = .shift) {
        self.perHour = perHour
        self.action = action
    }
}

/// A budget guard in force on a route: the node found the route's cost per hour past its budget and
/// acted (an automatic action, audited as `clawgate`). It lifts when the cost stays under 90 % of the
/// budget for 5 minutes, or when an operator sets the route's budget again.
public struct BudgetGuard: Codable, Sendable, Equatable {
    public var route: String
    public var action: BudgetAction
    /// Wall-clock seconds since 1970 when it was tripped.
    public var since: Double
    /// The budget and the route's cost per hour (over the last 5 minutes, summed over the fleet) then.
    public var perHour: Double
    public var costPerHour: Double

    enum CodingKeys: String, CodingKey {
        case route, action, since
        case perHour = "per_hour", costPerHour = "cost_per_hour"
    }

    public init(route: String, action: BudgetAction, since: Double, perHour: Double, costPerHour: Double) {
        self.route = route
        self.action = action
        self.since = since
        self.perHour = perHour
        self.costPerHour = costPerHour
    }
}

/// A route's budget as the snapshot gives it: the budget in force, the cost it is held against, and
/// the guard when one is in force.
public struct BudgetStatus: Codable, Sendable, Equatable {
    public var perHour: Double
    public var action: BudgetAction
    /// The route's cost per hour over the last 5 minutes, summed over the fleet (this node's alone
    /// without a fleet store): what the guard compares with the budget.
    public var costPerHour: Double
    /// `fleet`: summed over the fleet store's nodes; `node`: this node's alone.
    public var scope: String
    /// From the configuration, or set by an operator.
    public var source: String
    public var guardInForce: BudgetGuard?

    enum CodingKeys: String, CodingKey {
        case action, scope, source
        case perHour = "per_hour", costPerHour = "cost_per_hour", guardInForce = "guard"
    }

    public init(perHour: Double, action: BudgetAction, costPerHour: Double, scope: String, source: String, guardInForce: BudgetGuard? = nil) {
        self.perHour = perHour
        self.action = action
        self.costPerHour = costPerHour
        self.scope = scope
        self.source = source
        self.guardInForce = guardInForce
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(perHour, forKey: .perHour)
        try c.encode(action, forKey: .action)
        try c.encode(costPerHour, forKey: .costPerHour)
        try c.encode(scope, forKey: .scope)
        try c.encode(source, forKey: .source)
        try c.encodeNullable(guardInForce, forKey: .guardInForce)
    }
}

/// `PUT /routes/ALIAS/budget`: the budget to hold the route to (`per_hour` 0: off).
public struct BudgetBody: Codable, Sendable, Equatable {
    public var perHour: Double
    public var action: String?
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case action, reason
        case perHour = "per_hour"
    }

    public init(perHour: Double, action: String? = nil, reason: String? = nil) {
        self.perHour = perHour
        self.action = action
        self.reason = reason
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(perHour, forKey: .perHour)
        try c.encodeNullable(action, forKey: .action)
        try c.encodeNullable(reason, forKey: .reason)
    }
}
