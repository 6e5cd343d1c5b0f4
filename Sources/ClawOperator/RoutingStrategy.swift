import ClawShared
import Foundation

/// How a route chooses among the available providers of its current tier. Tiers, drains,
/// failovers and the breaker decide who is a candidate; the strategy only picks among them, and
/// the operator weight stays a prior in every strategy (weight 0: no traffic).
public enum RoutingStrategy: String, Sendable, CaseIterable {
    /// A weighted random pick (the default, and what clawgate always did).
    case weighted
    /// Power of two choices: two candidates sampled by weight, the one with fewer requests in
    /// flight per unit of weight wins (Envoy's least request with active_request_bias 1).
    case leastOutstanding = "least_outstanding"
    /// Power of two choices scored by peak-EWMA latency × (in flight + 1) / weight (Finagle's and
    /// Linkerd's peak EWMA), with a small share of picks by weight alone to keep measuring.
    case latency
    /// The cheapest estimated price for this request among the candidates whose latency is within
    /// a bound of the best, then least outstanding within a band of that price.
    case cost

    public static let names = allCases.map(\.rawValue).joined(separator: ", ")
}

/// The constants of the strategies, written down in README.
public enum RoutingConstants {
    /// Peak EWMA's time constant τ: a sample's weight halves after τ·ln 2 (Finagle's decay time).
    public static let decay = 10.0
    /// A failure or a 429 counts as a latency sample of this many seconds, so a provider that fails
    /// fast does not look fast.
    public static let failurePenalty = 2.0
    /// A measurement with no new sample for this long is forgotten: the provider counts as
    /// unmeasured (the tier's median) again, so one that lost every comparison since a spike or a
    /// failure gets measured again instead of being shunned for ever.
    public static let resetAfter = 5.0
    /// The share of `latency` and `cost` picks made by weight alone, so that every provider keeps
    /// being measured.
    public static let exploration = 0.02
    /// `cost`: the band above the cheapest price within which providers share the traffic.
    public static let costBand = 0.25
    /// `cost`: a provider is a candidate while its latency is at most this many times the best...
    public static let latencyFactor = 2.0
    /// ...plus this much (so that two fast providers are never told apart by noise): 50 ms of time
    /// to first token, 2 ms per token of a whole answer.
    public static let ttftSlack = 0.05
    public static let perTokenSlack = 0.002
    /// The head deadline is this many times the provider's recent time to first byte...
    public static let firstByteFactor = 5.0
    /// ...measured by at least this many answers in the last `firstByteMemory` seconds; else the
    /// configured `first_byte` applies.
    public static let firstByteSamples = 3
    public static let firstByteMemory = 60.0
    /// Slow start's floor: a provider that just came back gets at least this share of its weight.
    public static let slowStartFloor = 0.1
    /// Characters per token, to estimate a prompt's tokens from its bytes before it is sent.
    public static let bytesPerToken = 4.0
    /// Completion tokens expected when the request gives no `max_tokens` and the provider has no
    /// history yet.
    public static let defaultCompletionTokens = 256.0
}

/// Peak EWMA (Finagle): a moving average of latency that jumps to any higher sample at once and
/// comes down only as lower samples arrive, weighted by the time between them.
public struct PeakEWMA: Sendable, Equatable {
    public private(set) var value = 0.0
    /// When the last sample came.
    public private(set) var stamp = 0.0
    public private(set) var samples = 0

    public init() {}

    public mutating func observe(_ sample: Double, now: Double) {
        if samples == 0 || sample > value {
            value = sample
        } else {
            let w = exp(-max(0, now - stamp) / RoutingConstants.decay)
            value = value * w + sample * (1 - w)
        }
        stamp = now
        samples += 1
    }

    /// The value at `now`, or nil when never measured or not for `RoutingConstants.resetAfter`
    /// seconds (then the strategy uses the tier's median).
    public func current(now: Double) -> Double? {
        samples > 0 && now - stamp <= RoutingConstants.resetAfter ? value : nil
    }
}

/// One provider the strategy may choose, with the inputs it scores.
public struct RoutingCandidate: Sendable, Equatable {
    public var provider: Int
    /// The operator weight times the slow-start factor.
    public var weight: Double
    public var inFlight: Int
    /// The latency measure for this kind of request (nil: never measured).
    public var latency: Double?
    /// The estimated price of this request in dollars (nil: the provider has no price).
    public var price: Double?

    public init(provider: Int, weight: Double, inFlight: Int = 0, latency: Double? = nil, price: Double? = nil) {
        self.provider = provider
        self.weight = weight
        self.inFlight = inFlight
        self.latency = latency
        self.price = price
    }
}

/// A strategy's choice and why: the candidates' scores (lower is better; nil where the strategy
/// does not score), which were sampled, and the reason in words.
public struct RoutingDecision: Sendable, Equatable {
    public var winner: Int
    public var scores: [Double?]
    /// Indexes of the candidates that were compared (two for power of two choices).
    public var compared: [Int]
    public var reason: String
}

public enum RoutingChooser {
    /// Slow start (Envoy): a provider back in rotation for `elapsed` seconds of a `window` gets
    /// max(floor, elapsed / window) of its weight (linear, aggression 1).
    public static func slowStartFactor(elapsed: Double?, window: Double) -> Double {
        guard let elapsed, window > 0, elapsed < window else { return 1 }
        return max(RoutingConstants.slowStartFloor, max(elapsed, 1) / window)
    }

    /// The median of the measured latencies (nil when none is measured).
    public static func median(_ values: [Double?]) -> Double? {
        let known = values.compactMap { $0 }.sorted()
        guard !known.isEmpty else { return nil }
        let mid = known.count / 2
        return known.count % 2 == 1 ? known[mid] : (known[mid - 1] + known[mid]) / 2
    }

    /// Choose among `candidates` (all with weight > 0); `latencySlack` is the `cost` bound's slack
    /// in the unit of the candidates' latency.
    public static func choose(_ strategy: RoutingStrategy, _ candidates: [RoutingCandidate], latencySlack: Double = RoutingConstants.ttftSlack,
                              random: inout some RandomNumberGenerator) -> RoutingDecision {
        precondition(!candidates.isEmpty)
        let all = Array(candidates.indices)
        // Exploration; under `cost`, only among the priced (an unpriced one would never win anyway).
        let explored = strategy == .cost && all.contains(where: { candidates[$0].price != nil }) ? all.filter { candidates[$0].price != nil } : all
        if strategy == .latency || strategy == .cost, explored.count > 1,
           Double.random(in: 0..<1, using: &random) < RoutingConstants.exploration {
            let winner = byWeight(candidates, among: explored, random: &random)
            return RoutingDecision(winner: winner, scores: candidates.map(strategy == .cost ? { $0.price } : latencyScore), compared: [winner],
                                   reason: "exploration: picked by weight alone, to keep every provider measured")
        }
        switch strategy {
        case .weighted:
            let winner = byWeight(candidates, among: all, random: &random)
            return RoutingDecision(winner: winner, scores: candidates.map { _ in nil }, compared: all, reason: "weighted random pick")
        case .leastOutstanding:
            return twoChoices(candidates, among: all, score: outstanding, what: "fewer requests in flight per unit of weight", random: &random)
        case .latency:
            return twoChoices(candidates, among: all, score: latencyScore, what: "lower latency x (in flight + 1) / weight", random: &random)
        case .cost:
            let priced = all.filter { candidates[$0].price != nil }
            guard !priced.isEmpty else {
                var d = twoChoices(candidates, among: all, score: outstanding, what: "fewer requests in flight per unit of weight", random: &random)
                d.reason = "no candidate has a price; " + d.reason
                return d
            }
            // Fast enough: within a bound of the best latency (unmeasured ones are not excluded).
            let best = priced.compactMap { candidates[$0].latency }.min()
            let fast = priced.filter { i in
                guard let best, let latency = candidates[i].latency else { return true }
                return latency <= best * RoutingConstants.latencyFactor + latencySlack
            }
            let cheapest = fast.map { candidates[$0].price! }.min()!
            let band = fast.filter { candidates[$0].price! <= cheapest * (1 + RoutingConstants.costBand) + 1e-12 }
            var d = twoChoices(candidates, among: band, score: outstanding, what: "fewer requests in flight per unit of weight", random: &random)
            d.scores = candidates.map(\.price)
            let slow = priced.count - fast.count
            d.reason = "cheapest band (<= \(Int(RoutingConstants.costBand * 100))% above $\(Self.money(cheapest)))"
                + (slow > 0 ? ", \(slow) too slow" : "") + (priced.count < all.count ? ", \(all.count - priced.count) without a price" : "")
                + "; " + d.reason
            return d
        }
    }

    static func money(_ value: Double) -> String { String(format: "%.6f", value) }

    static func outstanding(_ c: RoutingCandidate) -> Double? { Double(c.inFlight + 1) / c.weight }

    static func latencyScore(_ c: RoutingCandidate) -> Double? {
        // Unmeasured everywhere: the same latency for all, so in flight and weight decide.
        max(c.latency ?? 0.001, 0.001) * Double(c.inFlight + 1) / c.weight
    }

    /// A weighted random index among `among`.
    static func byWeight(_ candidates: [RoutingCandidate], among: [Int], random: inout some RandomNumberGenerator) -> Int {
        let total = among.reduce(0) { $0 + candidates[$1].weight }
        var roll = Double.random(in: 0..<total, using: &random)
        for i in among {
            roll -= candidates[i].weight
            if roll < 0 { return i }
        }
        return among.last!
    }

    /// Power of two choices: two distinct candidates sampled by weight, the lower score wins (the
    /// first sampled on a tie).
    static func twoChoices(_ candidates: [RoutingCandidate], among: [Int], score: (RoutingCandidate) -> Double?, what: String,
                           random: inout some RandomNumberGenerator) -> RoutingDecision {
        let scores = candidates.map(score)
        guard among.count > 1 else {
            return RoutingDecision(winner: among[0], scores: scores, compared: among, reason: "the only candidate")
        }
        let first = byWeight(candidates, among: among, random: &random)
        let second = byWeight(candidates, among: among.filter { $0 != first }, random: &random)
        let winner = (scores[second] ?? .infinity) < (scores[first] ?? .infinity) ? second : first
        return RoutingDecision(winner: winner, scores: scores, compared: [first, second], reason: "of two sampled by weight, \(what)")
    }
}
