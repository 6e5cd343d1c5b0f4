/// What a routing strategy knows of a provider and how it chose: the snapshot's explanation.

/// The routing strategies a route may use (`PUT /admin/v1/routes/ALIAS/strategy`).
public let routingStrategies = ["weighted", "least_outstanding", "latency", "cost"]

/// A moving average of latency as the strategies see it.
public struct Measure: Codable, Sendable, Equatable {
    /// The value now (drifting back to the tier's median while no sample comes); nil: never measured.
    public var seconds: Double?
    public var samples: Int
    /// Seconds since the last sample (nil: none yet).
    public var ageSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case seconds, samples
        case ageSeconds = "age_seconds"
    }

    public init(seconds: Double? = nil, samples: Int = 0, ageSeconds: Double? = nil) {
        self.seconds = seconds
        self.samples = samples
        self.ageSeconds = ageSeconds
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeNullable(seconds, forKey: .seconds)
        try c.encode(samples, forKey: .samples)
        try c.encodeNullable(ageSeconds, forKey: .ageSeconds)
    }
}

/// A provider's routing inputs.
public struct ProviderRouting: Codable, Sendable, Equatable {
    /// Peak EWMA of time to first token (streams).
    public var ttft: Measure
    /// Peak EWMA of seconds per completion token (whole answers).
    public var perToken: Measure
    /// Moving average of completion tokens per answer (the cost estimate's default).
    public var completionTokens: Double?
    /// Share of its weight the provider gets now (below 1 during slow start).
    public var slowStartFactor: Double
    /// Power-of-two-choices comparisons won and lost since start.
    public var won: Int
    public var lost: Int

    enum CodingKeys: String, CodingKey {
        case ttft, won, lost
        case perToken = "per_token", completionTokens = "completion_tokens", slowStartFactor = "slow_start_factor"
    }

    public init(ttft: Measure = Measure(), perToken: Measure = Measure(), completionTokens: Double? = nil, slowStartFactor: Double = 1,
                won: Int = 0, lost: Int = 0) {
        self.ttft = ttft
        self.perToken = perToken
        self.completionTokens = completionTokens
        self.slowStartFactor = slowStartFactor
        self.won = won
        self.lost = lost
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ttft, forKey: .ttft)
        try c.encode(perToken, forKey: .perToken)
        try c.encodeNullable(completionTokens, forKey: .completionTokens)
        try c.encode(slowStartFactor, forKey: .slowStartFactor)
        try c.encode(won, forKey: .won)
        try c.encode(lost, forKey: .lost)
    }
}

/// A route's latest routing decision: every candidate with its inputs and score, and why the
/// winner won. Also the `x-clawgate-decision` answer header, as JSON.
public struct Decision: Codable, Sendable, Equatable {
    public struct Candidate: Codable, Sendable, Equatable {
        public var provider: String
        /// Operator weight times the slow-start factor.
        public var weight: Double
        public var inFlight: Int
        public var latencySeconds: Double?
        /// Estimated price of the request in dollars (nil: no price configured).
        public var priceDollars: Double?
        /// The strategy's score (lower wins; nil where it does not score).
        public var score: Double?
        /// Whether it was one of the (two) compared.
        public var compared: Bool

        enum CodingKeys: String, CodingKey {
            case provider, weight, score, compared
            case inFlight = "in_flight", latencySeconds = "latency_seconds", priceDollars = "price_dollars"
        }

        public init(provider: String, weight: Double, inFlight: Int, latencySeconds: Double?, priceDollars: Double?, score: Double?, compared: Bool) {
            self.provider = provider
            self.weight = weight
            self.inFlight = inFlight
            self.latencySeconds = latencySeconds
            self.priceDollars = priceDollars
            self.score = score
            self.compared = compared
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(provider, forKey: .provider)
            try c.encode(weight, forKey: .weight)
            try c.encode(inFlight, forKey: .inFlight)
            try c.encodeNullable(latencySeconds, forKey: .latencySeconds)
            try c.encodeNullable(priceDollars, forKey: .priceDollars)
            try c.encodeNullable(score, forKey: .score)
            try c.encode(compared, forKey: .compared)
        }
    }

    public var strategy: String
    public var tier: Int
    public var winner: String
    public var reason: String
    public var time: Double
    public var candidates: [Candidate]

    public init(strategy: String, tier: Int, winner: String, reason: String, time: Double, candidates: [Candidate]) {
        self.strategy = strategy
        self.tier = tier
        self.winner = winner
        self.reason = reason
        self.time = time
        self.candidates = candidates
    }
}
