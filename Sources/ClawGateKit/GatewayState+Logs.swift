import ClawAdminAPI
import ClawShared
import Foundation
import Synchronization

/// The node's logs: the recent client requests, who served what, and events.
extension GatewayState {
    /// The requests recorded after `sequence`, and whether older ones were dropped.
    public func requests(since sequence: Int) -> (requests: [RequestRecord], truncated: Bool) {
        let (records, truncated) = inner.withLock { state in state.requests.since(sequence) }
        return (records, truncated)
    }

    /// Keep a finished client request's record (every one: the ring keeps the last 1,000).
    func logRequest(_ ledger: RequestLedger) {
        inner.withLock { state in state.requests.append(ledger) }
    }

    /// [route][provider] requests served in the last minute.
    public func servedLastMinute(now: Double) -> [[Int]] {
        inner.withLock { state in state.served.map { $0.map { $0.total(now: now) } } }
    }

    /// [route]: the cost per hour over the last 5 minutes on this node (what the budget guard sums).
    public func routeCosts(now: Double) -> [Double] {
        let stats = inner.withLock { $0.routeStats }
        return stats.map { $0.summary(window: 300, now: now).costPerHour }
    }

    /// The budget guard in force on `route`, if any.
    public func budgetGuard(route: String) -> BudgetGuard? {
        inner.withLock { $0.operatorState.budgetGuards[route] }
    }

    /// Since the node started: per route, requests and those that failed for the client.
    public func totals() -> (requests: [Int], errors: [Int]) {
        inner.withLock { ($0.routeRequestsTotal, $0.routeErrorsTotal) }
    }

    public func events(since sequence: Int) -> (events: [Event], truncated: Bool) {
        inner.withLock { $0.events.since(sequence) }
    }
}
