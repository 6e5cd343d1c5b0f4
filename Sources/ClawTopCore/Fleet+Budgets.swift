import ClawAdminAPI

extension Fleet {
    /// A route's budget across the nodes that answer: the budget, the cost it is held against (the
    /// fleet's sum, as the nodes evaluate it with a fleet store; the nodes' own added up without
    /// one), and on how many nodes its guard is in force.
    public struct RouteBudgetView: Sendable, Equatable {
        public var route: String
        public var perHour: Double
        public var action: BudgetAction
        public var costPerHour: Double
        public var source: String
        /// The guard in force (as the first node that has one reports it), and on how many nodes.
        public var guardInForce: BudgetGuard?
        public var guardNodes: Int
        public var nodes: Int

        /// The cost against the budget, 0... (1: at the budget).
        public var used: Double { perHour > 0 ? costPerHour / perHour : 0 }
    }

    /// Every route with a budget in force on some answering node, in the order the nodes list routes.
    public func budgets() -> [RouteBudgetView] {
        var order: [String] = []
        var found: [String: RouteBudgetView] = [:]
        var sums: [String: Double] = [:]
        var fleetScope: [String: Bool] = [:]
        for node in nodes where node.error == nil && node.incompatible == nil {
            guard let snapshot = node.snapshot else { continue }
            for route in snapshot.routes {
                guard let budget = route.budget else { continue }
                if found[route.alias] == nil {
                    order.append(route.alias)
                    found[route.alias] = RouteBudgetView(route: route.alias, perHour: budget.perHour, action: budget.action, costPerHour: 0,
                                                         source: budget.source, guardInForce: nil, guardNodes: 0, nodes: 0)
                }
                var view = found[route.alias]!
                view.nodes += 1
                if let guarded = budget.guardInForce {
                    if view.guardInForce == nil { view.guardInForce = guarded }
                    view.guardNodes += 1
                }
                // With a fleet store every node holds the fleet's sum: the highest is the freshest.
                if budget.scope == "fleet" {
                    fleetScope[route.alias] = true
                    view.costPerHour = max(view.costPerHour, budget.costPerHour)
                } else {
                    sums[route.alias, default: 0] += budget.costPerHour
                }
                found[route.alias] = view
            }
        }
        return order.map { alias in
            var view = found[alias]!
            if fleetScope[alias] != true { view.costPerHour = sums[alias] ?? 0 }
            return view
        }
    }
}
