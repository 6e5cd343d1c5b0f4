import ClawAdminAPI
import ClawShared
import Foundation
import ServiceLifecycle
import Synchronization

/// What the budget guard knows between evaluations: the routes' cost per hour as last evaluated,
/// the other nodes' share of it (through the fleet store), and since when each guarded route has
/// been under 90 % of its budget.
struct BudgetWatch: Sendable {
    /// [route]: the cost per hour over the last 5 minutes, summed over the fleet, at the last evaluation.
    var costs: [Double] = []
    /// route -> the other nodes' cost per hour, as the fleet store last said.
    var others: [String: Double] = [:]
    /// Whether `others` came from the fleet store (the cost is the fleet's, not this node's alone).
    var fleet = false
    /// route -> since when (on the node's clock) its cost has been under 90 % of the budget.
    var below: [String: Double] = [:]
}

extension Gateway {
    /// A guard lifts when the cost stays under this share of the budget...
    static let budgetLiftShare = 0.9
    /// ...for this long (seconds).
    static let budgetLiftAfter = 300.0
    /// A request refused by a budget is told to come back after this long (seconds).
    static let budgetRetryAfter = 60

    /// One evaluation of every route's budget: its cost per hour over the last 5 minutes (this
    /// node's, plus the other nodes' from the fleet store when there is one) against the budget in
    /// force. Past it with no guard: the guard goes in force; under 90 % of it for 5 minutes with a
    /// guard: it lifts. Both are the node's own audited writes (`clawgate`); with a fleet store every
    /// node evaluates the same sum and the store's compare lets one write land. The service calls it
    /// every `routing.budget_interval`; a test may call it itself.
    public func evaluateBudgets() async {
        let now = clock()
        let own = state.routeCosts(now: now)
        let op = state.operatorState
        var writes: [OperatorCommand] = []
        budgetWatch.withLock { watch in
            let costs = config.routes.indices.map { own[$0] + (watch.others[config.routes[$0].alias] ?? 0) }
            watch.costs = costs
            for (index, route) in config.routes.enumerated() {
                guard let budget = op.budget(of: route) else {
                    watch.below[route.alias] = nil
                    continue
                }
                let cost = costs[index]
                if op.budgetGuards[route.alias] == nil {
                    watch.below[route.alias] = nil
                    if cost > budget.perHour { writes.append(.tripBudget(route: route.alias, costPerHour: cost)) }
                } else if cost < Self.budgetLiftShare * budget.perHour {
                    let since = watch.below[route.alias] ?? now
                    watch.below[route.alias] = since
                    if now - since >= Self.budgetLiftAfter { writes.append(.liftBudget(route: route.alias, costPerHour: cost)) }
                } else {
                    watch.below[route.alias] = nil
                }
            }
        }
        for command in writes {
            do throws(AdminError) {
                _ = try await commit(command, caller: Self.automatic, expected: nil, reason: "budget guard (automatic)")
                if case .liftBudget(let route, _) = command { budgetWatch.withLock { $0.below[route] = nil } }
            } catch {
                logger.warning("the budget guard could not write its action; it tries again at the next evaluation",
                               metadata: ["action": .string(command.action), "error": .string(error.message)])
            }
        }
    }

    /// The budget guard in force on `route` that refuses its requests, if any (read on the request path).
    func budgetRefusal(route: Int) -> BudgetGuard? {
        state.budgetGuard(route: config.routes[route].alias).flatMap { $0.action == .refuse ? $0 : nil }
    }

    /// Each route's budget as the snapshot shows it (nil: none in force).
    func budgetStatus(_ routeIndex: Int, _ op: OperatorState) -> BudgetStatus? {
        let route = config.routes[routeIndex]
        guard let budget = op.budget(of: route) else { return nil }
        let (costs, fleet) = budgetWatch.withLock { ($0.costs, $0.fleet) }
        let cost = costs.indices.contains(routeIndex) ? costs[routeIndex] : state.routeCosts(now: clock())[routeIndex]
        return BudgetStatus(perHour: budget.perHour, action: budget.action, costPerHour: (cost * 1_000_000).rounded() / 1_000_000,
                            scope: fleet ? "fleet" : "node", source: op.budgets[route.alias] != nil ? "operator" : "config",
                            guardInForce: op.budgetGuards[route.alias])
    }
}

/// Evaluates the routes' budgets every `routing.budget_interval`; with a fleet store it first says
/// this node's cost per route under a lease and reads the others' (so three nodes are held to one budget).
struct BudgetGuardService: Service {
    let gateway: Gateway

    func run() async throws {
        // Budgets may be set at runtime by an operator: it evaluates whether or not the config has any.
        let store = gateway.fleetStore
        let mine = store?.costKey(gateway.config.nodeID)
        try await cancelWhenGracefulShutdown {
            var lease: String?
            while !Task.isCancelled {
                if let store, let mine {
                    do throws(EtcdError) {
                        if let current = lease, try await !store.client.keepAlive(lease: current) { lease = nil }
                        if lease == nil { lease = try await store.client.grantLease(ttl: 10) }
                        let own = gateway.state.routeCosts(now: gateway.clock())
                        let record: JSONValue = .object(Dictionary(uniqueKeysWithValues: zip(gateway.config.routes.map(\.alias), own.map { JSONValue($0) })))
                        if let lease { try await store.client.put(mine, record.bytes(sorted: true), lease: lease) }
                        var others: [String: Double] = [:]
                        for kv in try await store.client.list(prefix: store.costPrefix, limit: 10_000) where kv.key != mine {
                            guard let json = try? JSONValue.parse(bytes: kv.value), let object = json.objectValue else { continue }
                            for (route, value) in object { others[route, default: 0] += value.doubleValue ?? 0 }
                        }
                        gateway.budgetWatch.withLock {
                            $0.others = others
                            $0.fleet = true
                        }
                    } catch {
                        // The last figures stand while the store does not answer.
                        lease = nil
                    }
                }
                await gateway.evaluateBudgets()
                try await Task.sleep(for: .milliseconds(Int(gateway.config.budgetInterval * 1000)))
            }
        }
    }
}

extension FleetStore {
    var costPrefix: String { "/clawgate/\(fleet)/cost/" }
    func costKey(_ node: String) -> String { costPrefix + node }
}
