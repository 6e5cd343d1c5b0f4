import Foundation

/// A log-scale latency histogram: about 10 % resolution from 50 µs to 10 minutes, cheap to merge.
public struct LatencyHistogram: Sendable, Equatable {
    static let base = 0.05  // milliseconds
    static let growth = 1.2
    static let bucketCount = 90
    static let logGrowth = log(growth)

    public private(set) var counts: [UInt32]
    public private(set) var total: Int = 0

    public init() { counts = Array(repeating: 0, count: Self.bucketCount) }

    static func bucket(ms: Double) -> Int {
        guard ms > base else { return 0 }
        return min(bucketCount - 1, Int(log(ms / base) / logGrowth))
    }

    public mutating func record(seconds: Double) {
        counts[Self.bucket(ms: seconds * 1000)] &+= 1
        total += 1
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        total += other.total
    }

    /// The q-quantile in seconds (the middle of its bucket), or nil when empty.
    public func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (i, c) in counts.enumerated() {
            seen += Int(c)
            if seen >= rank {
                let low = i == 0 ? 0 : Self.base * pow(Self.growth, Double(i))
                let high = Self.base * pow(Self.growth, Double(i + 1))
                return (i == 0 ? high / 2 : (low * high).squareRoot()) / 1000
            }
        }
        return nil
    }
}

/// Figures over a window, as the admin API and the console show them.
public struct WindowSummary: Sendable, Equatable {
    public var window: Double
    public var requests = 0
    /// Provider faults only (see `Fault`).
    public var errors = 0
    /// Requests the provider answered as the client's fault (400, 413, 422, ...): not errors.
    public var clientErrors = 0
    public var requestsPerSecond = 0.0
    /// errors / requests.
    public var errorRatio = 0.0
    public var p50: Double?
    public var p95: Double?
    public var p99: Double?
    public var ttftP50: Double?
    public var ttftP95: Double?
    public var tokensIn = 0
    public var tokensOut = 0
    public var cost = 0.0
    public var costPerHour = 0.0
}

/// Per-second buckets over the last five minutes, for one provider or one route.
public struct RollingStats: Sendable {
    struct Slot: Sendable {
        var second = Int.min
        var requests = 0
        var errors = 0
        var clientErrors = 0
        var latency = LatencyHistogram()
        var ttft = LatencyHistogram()
        var tokensIn = 0
        var tokensOut = 0
        var cost = 0.0
    }

    public static let span = 300
    private var slots: [Slot]
    private let startedAt: Double

    public init(now: Double) {
        slots = Array(repeating: Slot(), count: Self.span)
        startedAt = now
    }

    public mutating func record(now: Double, fault: Fault, latency: Double, ttft: Double?, tokensIn: Int, tokensOut: Int, cost: Double) {
        let second = Int(now.rounded(.down))
        let index = ((second % Self.span) + Self.span) % Self.span
        if slots[index].second != second { slots[index] = Slot(second: second) }
        slots[index].requests += 1
        switch fault {
        case .provider, .limit: slots[index].errors += 1
        case .client: slots[index].clientErrors += 1
        case .none: break
        }
        slots[index].latency.record(seconds: latency)
        if let ttft { slots[index].ttft.record(seconds: ttft) }
        slots[index].tokensIn += tokensIn
        slots[index].tokensOut += tokensOut
        slots[index].cost += cost
    }

    public func summary(window: Double, now: Double) -> WindowSummary {
        let second = Int(now.rounded(.down))
        let span = min(Int(window), Self.span)
        var s = WindowSummary(window: window)
        var latency = LatencyHistogram()
        var ttft = LatencyHistogram()
        for slot in slots where slot.second > second - span && slot.second <= second {
            s.requests += slot.requests
            s.errors += slot.errors
            s.clientErrors += slot.clientErrors
            latency.merge(slot.latency)
            ttft.merge(slot.ttft)
            s.tokensIn += slot.tokensIn
            s.tokensOut += slot.tokensOut
            s.cost += slot.cost
        }
        // A node up for less than the window has seen only part of it.
        let covered = max(1, min(Double(span), now - startedAt))
        s.requestsPerSecond = Double(s.requests) / covered
        s.errorRatio = s.requests > 0 ? Double(s.errors) / Double(s.requests) : 0
        s.p50 = latency.quantile(0.5)
        s.p95 = latency.quantile(0.95)
        s.p99 = latency.quantile(0.99)
        s.ttftP50 = ttft.quantile(0.5)
        s.ttftP95 = ttft.quantile(0.95)
        s.costPerHour = s.cost / covered * 3600
        return s
    }
}
