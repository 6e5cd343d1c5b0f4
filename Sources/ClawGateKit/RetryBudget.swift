/// Caps retries to a share of recent requests (plus a small floor), so an outage cannot turn
/// into a retry storm against the providers that are left.
public struct RetryBudget: Sendable {
    public let settings: GatewayConfig.Retry
    private var requests: [Int]
    private var retries: [Int]
    private var seconds: [Int]

    public init(settings: GatewayConfig.Retry) {
        self.settings = settings
        let slots = max(1, Int(settings.window.rounded(.up)))
        requests = Array(repeating: 0, count: slots)
        retries = Array(repeating: 0, count: slots)
        seconds = Array(repeating: -1, count: slots)
    }

    private mutating func slot(_ now: Double) -> Int {
        let second = Int(now.rounded(.down))
        let index = second % seconds.count
        if seconds[index] != second {
            seconds[index] = second
            requests[index] = 0
            retries[index] = 0
        }
        return index
    }

    private func totals(_ now: Double) -> (requests: Int, retries: Int) {
        let second = Int(now.rounded(.down))
        var r = 0
        var t = 0
        for i in seconds.indices where seconds[i] > second - seconds.count {
            r += requests[i]
            t += retries[i]
        }
        return (r, t)
    }

    public mutating func recordRequest(now: Double) {
        requests[slot(now)] += 1
    }

    /// The number of retries the window allows now.
    public func allowance(now: Double) -> Double {
        let counts = totals(now)
        return max(settings.minRetriesPerSecond * Double(seconds.count), settings.budgetRatio * Double(counts.requests))
    }

    /// Take one retry from the budget, or say no.
    public mutating func tryRetry(now: Double) -> Bool {
        let counts = totals(now)
        guard Double(counts.retries) < allowance(now: now) else { return false }
        retries[slot(now)] += 1
        return true
    }
}
